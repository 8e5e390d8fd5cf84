import Sealing
import Synchronization

/// AWS Signature Version 4 for S3 (and, with path normalisation, for other AWS services).
///
/// libcurl's built-in signer in Debian 12 leaves out `x-amz-content-sha256`, so Lifeboat signs
/// requests itself (DESIGN §3). The signer is a value that can be shared between transfer
/// threads; the derived signing key is cached per day, so a request costs two SHA-256 runs
/// (canonical request, string to sign) and one HMAC.
///
/// Paths and query parameters are given raw (not percent-encoded); the signer encodes them with
/// S3's rules: every byte except the unreserved `A–Z a–z 0–9 - . _ ~` becomes `%XX` (upper-case
/// hex), and `/` is kept in paths. Build the URL on the wire with ``encodePath(_:)`` and
/// ``canonicalQueryString(_:)`` so that it matches what was signed.
public struct SigV4Signer: Sendable {
    /// The name of the algorithm in the `Authorization` header and in `X-Amz-Algorithm`.
    public static let algorithm = "AWS4-HMAC-SHA256"
    /// The payload hash of a request whose body is not signed.
    public static let unsignedPayload = "UNSIGNED-PAYLOAD"
    /// The payload hash of an empty body (the SHA-256 of no bytes).
    public static let emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    public let credentials: S3Credentials
    public let region: String
    public let service: String
    /// Whether paths are normalised (`.` and `..` segments resolved, repeated slashes merged)
    /// before encoding. S3 never normalises: `a//b` and `a/./b` are distinct keys there.
    public let normalizesPath: Bool
    /// Whether the session token is part of the signature (true for S3 and almost every
    /// service). When false, `x-amz-security-token` is still sent but added after signing, as a
    /// few older services expect.
    public var signsSessionToken: Bool = true

    private let keys: SigningKeyCache

    /// Creates a signer for `service` in `region`.
    ///
    /// With `normalizesPath: true` (the generic AWS rules), `path` is taken as the path the
    /// request line will carry and is encoded once more for the canonical request: that is the
    /// "double encoding" of non-S3 services. With `false` (S3), `path` is the raw key path and
    /// is encoded exactly once, as on the wire.
    public init(credentials: S3Credentials, region: String, service: String = "s3", normalizesPath: Bool = false) {
        self.credentials = credentials
        self.region = region
        self.service = service
        self.normalizesPath = normalizesPath
        self.keys = SigningKeyCache()
    }

    /// The results of signing one request, with the intermediate values for tests and debugging.
    public struct Signature: Sendable {
        /// The canonical request (method, path, query, headers, signed header names, payload hash).
        public var canonicalRequest: String
        /// The string to sign: algorithm, timestamp, credential scope, canonical request digest.
        public var stringToSign: String
        /// The signature, 64 lowercase hex digits.
        public var signature: String
        /// The signed header names, lower-case, sorted, joined by `;`.
        public var signedHeaders: String
        /// What to add to the request: headers for header signing, query parameters (raw, not
        /// percent-encoded) for presigning.
        public var additions: [(name: String, value: String)]
    }

    // MARK: - Header signing

    /// Signs a request in its headers and returns the headers to add to it: `x-amz-date`,
    /// `x-amz-security-token` when the credentials carry a session token, and `authorization`.
    ///
    /// `path` and the query names and values are raw (e.g. `/bucket/my key`). `headers` are the
    /// headers that will be sent and must include `host`; every one of them is signed except
    /// the few that proxies and HTTP libraries rewrite (`user-agent`, `expect`, `connection`,
    /// `transfer-encoding`, `x-amzn-trace-id`) and any `authorization`, `x-amz-date` or
    /// `x-amz-security-token`, which the signer supplies. `payloadHash` is the hex SHA-256 of
    /// the body or ``unsignedPayload``; S3 also wants it sent as `x-amz-content-sha256`.
    public func signedHeaders(method: String, path: String, query: [(name: String, value: String)],
                              headers: [(name: String, value: String)], payloadHash: String,
                              date: SigningDate) -> [(name: String, value: String)] {
        headerSignature(method: method, path: path, query: query, headers: headers,
                        payloadHash: payloadHash, date: date).additions
    }

    /// ``signedHeaders(method:path:query:headers:payloadHash:date:)`` with its intermediate values.
    public func headerSignature(method: String, path: String, query: [(name: String, value: String)],
                                headers: [(name: String, value: String)], payloadHash: String,
                                date: SigningDate) -> Signature {
        let amzDate = date.amzDate
        var signed = headers.filter { !Self.signerHeaderNames.contains($0.name.lowercased()) }
        signed.append((name: "x-amz-date", value: amzDate))
        let token = credentials.sessionToken
        if let token, signsSessionToken {
            signed.append((name: "x-amz-security-token", value: token))
        }
        let canonical = canonicalRequest(method: method, path: path, query: query, headers: signed,
                                         payloadHash: payloadHash)
        let stringToSign = stringToSign(canonicalRequest: canonical.request, date: date)
        let signature = signature(of: stringToSign, date: date)

        var additions: [(name: String, value: String)] = [(name: "x-amz-date", value: amzDate)]
        if let token {
            additions.append((name: "x-amz-security-token", value: token))
        }
        let authorization = Self.algorithm + " Credential=" + credentials.accessKeyID + "/" + credentialScope(date: date)
            + ", SignedHeaders=" + canonical.signedHeaders + ", Signature=" + signature
        additions.append((name: "authorization", value: authorization))
        return Signature(canonicalRequest: canonical.request, stringToSign: stringToSign, signature: signature,
                         signedHeaders: canonical.signedHeaders, additions: additions)
    }

    // MARK: - Query signing (presigned URLs)

    /// Presigns a request: returns the query parameters to add to `query` (raw values):
    /// `X-Amz-Algorithm`, `X-Amz-Credential`, `X-Amz-Date`, `X-Amz-Expires`,
    /// `X-Amz-SignedHeaders`, `X-Amz-Security-Token` (with a session token) and
    /// `X-Amz-Signature`. Build the URL from `query` plus these with ``canonicalQueryString(_:)``.
    ///
    /// `expires` is the validity in seconds (S3 accepts 1 to 604800). `headers` are signed as
    /// for header signing; usually only `host`. For S3, `payloadHash` is normally
    /// ``unsignedPayload``.
    public func presignedQuery(method: String, path: String, query: [(name: String, value: String)],
                               headers: [(name: String, value: String)], expires: Int, payloadHash: String,
                               date: SigningDate) -> [(name: String, value: String)] {
        querySignature(method: method, path: path, query: query, headers: headers, expires: expires,
                       payloadHash: payloadHash, date: date).additions
    }

    /// ``presignedQuery(method:path:query:headers:expires:payloadHash:date:)`` with its
    /// intermediate values.
    public func querySignature(method: String, path: String, query: [(name: String, value: String)],
                               headers: [(name: String, value: String)], expires: Int, payloadHash: String,
                               date: SigningDate) -> Signature {
        let signedHeaderNames = Self.canonicalHeaders(headers).names
        var parameters: [(name: String, value: String)] = [
            (name: "X-Amz-Algorithm", value: Self.algorithm),
            (name: "X-Amz-Credential", value: credentials.accessKeyID + "/" + credentialScope(date: date)),
            (name: "X-Amz-Date", value: date.amzDate),
            (name: "X-Amz-Expires", value: String(expires)),
            (name: "X-Amz-SignedHeaders", value: signedHeaderNames),
        ]
        let token = credentials.sessionToken
        if let token, signsSessionToken {
            parameters.append((name: "X-Amz-Security-Token", value: token))
        }
        let canonical = canonicalRequest(method: method, path: path, query: query + parameters, headers: headers,
                                         payloadHash: payloadHash)
        let stringToSign = stringToSign(canonicalRequest: canonical.request, date: date)
        let signature = signature(of: stringToSign, date: date)
        if let token, !signsSessionToken {
            parameters.append((name: "X-Amz-Security-Token", value: token))
        }
        parameters.append((name: "X-Amz-Signature", value: signature))
        return Signature(canonicalRequest: canonical.request, stringToSign: stringToSign, signature: signature,
                         signedHeaders: canonical.signedHeaders, additions: parameters)
    }

    // MARK: - The steps

    /// The canonical request for these headers as given (nothing is added; the never-signed
    /// ones such as `user-agent` are left out), and the signed header names.
    public func canonicalRequest(method: String, path: String, query: [(name: String, value: String)],
                                 headers: [(name: String, value: String)],
                                 payloadHash: String) -> (request: String, signedHeaders: String) {
        let (headerLines, names) = Self.canonicalHeaders(headers)
        var out: [UInt8] = []
        out.reserveCapacity(method.utf8.count + path.utf8.count * 3 + headerLines.count + names.utf8.count + 128)
        out.append(contentsOf: method.utf8)
        out.append(UInt8(ascii: "\n"))
        if normalizesPath {
            Self.appendEncoded(Self.normalizedPath(path), keepingSlash: true, to: &out)
        } else {
            Self.appendEncodedPath(path, to: &out)
        }
        out.append(UInt8(ascii: "\n"))
        Self.appendCanonicalQuery(query, to: &out)
        out.append(UInt8(ascii: "\n"))
        out.append(contentsOf: headerLines)
        out.append(UInt8(ascii: "\n"))
        out.append(contentsOf: names.utf8)
        out.append(UInt8(ascii: "\n"))
        out.append(contentsOf: payloadHash.utf8)
        return (String(decoding: out, as: UTF8.self), names)
    }

    /// The credential scope, `20150830/us-east-1/s3/aws4_request`.
    public func credentialScope(date: SigningDate) -> String {
        date.dateStamp + "/" + region + "/" + service + "/aws4_request"
    }

    /// The string to sign for a canonical request.
    public func stringToSign(canonicalRequest: String, date: SigningDate) -> String {
        Self.algorithm + "\n" + date.amzDate + "\n" + credentialScope(date: date) + "\n"
            + Self.hexSHA256(canonicalRequest.utf8)
    }

    /// The hex HMAC-SHA256 of `stringToSign` under the signing key for `date`'s day.
    public func signature(of stringToSign: String, date: SigningDate) -> String {
        keys.authenticationCode(for: stringToSign, secret: credentials.secretAccessKey,
                                dateStamp: date.dateStamp, region: region, service: service).hex
    }

    // MARK: - Encoding

    /// The path as it goes on the wire and into the canonical request: every byte except the
    /// unreserved characters and `/` percent-encoded. An empty path is `/`.
    public static func encodePath(_ rawPath: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(rawPath.utf8.count + 16)
        appendEncodedPath(rawPath, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// `text` with every byte except the unreserved characters percent-encoded (`/` too), as
    /// query names and values are.
    public static func encode(_ text: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count + 16)
        appendEncoded(text, keepingSlash: false, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// The query string from raw names and values: each encoded, sorted by name then value,
    /// `name=value` joined by `&` (a parameter without a value reads `name=`). Empty for no
    /// parameters. Use it for the wire URL too.
    public static func canonicalQueryString(_ query: [(name: String, value: String)]) -> String {
        var out: [UInt8] = []
        appendCanonicalQuery(query, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// The lowercase hex SHA-256 of `bytes`, for `x-amz-content-sha256`.
    public static func hexSHA256(_ bytes: some Collection<UInt8>) -> String {
        if let digest = bytes.withContiguousStorageIfAvailable({ SHA256.hash(UnsafeRawBufferPointer($0)) }) {
            return digest.hex
        }
        return SHA256.hash(Array(bytes)).hex
    }

    /// `path` with `.` and `..` segments resolved and empty segments dropped; a trailing slash
    /// is kept. Always starts with `/`.
    public static func normalizedPath(_ path: String) -> String {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        var segments: [Substring] = []
        for part in parts {
            switch part {
            case "", ".": continue
            case "..": _ = segments.popLast()
            default: segments.append(part)
            }
        }
        guard !segments.isEmpty else { return "/" }
        let last = parts.last
        let directory = last == "" || last == "." || last == ".."
        return "/" + segments.joined(separator: "/") + (directory ? "/" : "")
    }

    private static func appendEncodedPath(_ path: String, to out: inout [UInt8]) {
        if path.isEmpty {
            out.append(UInt8(ascii: "/"))
        } else {
            appendEncoded(path, keepingSlash: true, to: &out)
        }
    }

    private static func appendEncoded(_ text: String, keepingSlash: Bool, to out: inout [UInt8]) {
        for byte in text.utf8 {
            if isUnreserved(byte) || (keepingSlash && byte == UInt8(ascii: "/")) {
                out.append(byte)
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(upperHexDigit(byte &>> 4))
                out.append(upperHexDigit(byte & 0x0f))
            }
        }
    }

    private static func appendCanonicalQuery(_ query: [(name: String, value: String)], to out: inout [UInt8]) {
        guard !query.isEmpty else { return }
        let encoded = query.map { (name: encode($0.name), value: encode($0.value)) }
            .sorted { lhs, rhs in
                if lhs.name != rhs.name { return lhs.name.utf8.lexicographicallyPrecedes(rhs.name.utf8) }
                return lhs.value.utf8.lexicographicallyPrecedes(rhs.value.utf8)
            }
        for (index, parameter) in encoded.enumerated() {
            if index > 0 { out.append(UInt8(ascii: "&")) }
            out.append(contentsOf: parameter.name.utf8)
            out.append(UInt8(ascii: "="))
            out.append(contentsOf: parameter.value.utf8)
        }
    }

    @inline(__always)
    private static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    @inline(__always)
    private static func upperHexDigit(_ value: UInt8) -> UInt8 {
        value < 10 ? UInt8(ascii: "0") &+ value : UInt8(ascii: "A") &+ (value &- 10)
    }

    // MARK: - Headers

    /// Headers never signed: HTTP libraries and proxies add or rewrite them.
    private static let unsignedHeaderNames: Set<String> = [
        "authorization", "user-agent", "expect", "connection", "transfer-encoding", "x-amzn-trace-id",
    ]

    /// Headers the signer supplies; the caller's copies are dropped in header signing.
    private static let signerHeaderNames: Set<String> = ["x-amz-date", "x-amz-security-token"]

    /// The canonical header lines (`name:value\n`, sorted by name, repeated names joined with
    /// `,` in the order given, values trimmed with inner runs of spaces collapsed) and the
    /// signed header names.
    private static func canonicalHeaders(_ headers: [(name: String, value: String)]) -> (lines: [UInt8], names: String) {
        var entries: [(name: String, value: [UInt8], order: Int)] = []
        entries.reserveCapacity(headers.count)
        for (order, header) in headers.enumerated() {
            let name = header.name.lowercased()
            if unsignedHeaderNames.contains(name) { continue }
            entries.append((name, trimmedValue(header.value), order))
        }
        entries.sort { lhs, rhs in
            if lhs.name != rhs.name { return lhs.name.utf8.lexicographicallyPrecedes(rhs.name.utf8) }
            return lhs.order < rhs.order
        }
        var lines: [UInt8] = []
        lines.reserveCapacity(entries.reduce(0) { $0 + $1.name.utf8.count + $1.value.count + 2 })
        var names = ""
        var previous: String?
        for entry in entries {
            if entry.name == previous {
                lines.removeLast()  // the newline: another value of the same header follows
                lines.append(UInt8(ascii: ","))
            } else {
                if previous != nil { names += ";" }
                names += entry.name
                lines.append(contentsOf: entry.name.utf8)
                lines.append(UInt8(ascii: ":"))
            }
            lines.append(contentsOf: entry.value)
            lines.append(UInt8(ascii: "\n"))
            previous = entry.name
        }
        return (lines, names)
    }

    /// The value without leading and trailing white space, inner runs of white space as one space.
    private static func trimmedValue(_ value: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(value.utf8.count)
        var pendingSpace = false
        for byte in value.utf8 {
            if byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\r") || byte == UInt8(ascii: "\n") {
                pendingSpace = !out.isEmpty
            } else {
                if pendingSpace { out.append(UInt8(ascii: " ")) }
                pendingSpace = false
                out.append(byte)
            }
        }
        return out
    }
}

// MARK: - Signing key cache

/// The derived signing key for the current day, kept as a ready HMAC context.
///
/// Deriving the key takes four HMACs with fresh keys; it changes only with the date (or the
/// credentials, which are fixed per signer). The HMAC context is not thread-safe, so use of it
/// is serialised by the mutex; one HMAC of a string to sign takes about a microsecond.
private final class SigningKeyCache: Sendable {
    private struct Entry {
        var dateStamp: String
        var mac: HMACSHA256
    }

    private let entry = Mutex<Entry?>(nil)

    func authenticationCode(for stringToSign: String, secret: String, dateStamp: String,
                            region: String, service: String) -> BlobID {
        entry.withLock { entry -> BlobID in
            let mac: HMACSHA256
            if let current = entry, current.dateStamp == dateStamp {
                mac = current.mac
            } else {
                mac = HMACSHA256(key: Self.signingKey(secret: secret, dateStamp: dateStamp, region: region, service: service))
                entry = Entry(dateStamp: dateStamp, mac: mac)
            }
            var message = stringToSign
            return message.withUTF8 { mac.authenticationCode(for: UnsafeRawBufferPointer($0)) }
        }
    }

    /// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request").
    private static func signingKey(secret: String, dateStamp: String, region: String, service: String) -> [UInt8] {
        var key = HMACSHA256.authenticationCode(key: Array(("AWS4" + secret).utf8), message: Array(dateStamp.utf8))
        key = HMACSHA256.authenticationCode(key: key, message: Array(region.utf8))
        key = HMACSHA256.authenticationCode(key: key, message: Array(service.utf8))
        return HMACSHA256.authenticationCode(key: key, message: Array("aws4_request".utf8))
    }
}
