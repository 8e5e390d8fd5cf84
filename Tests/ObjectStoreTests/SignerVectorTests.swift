import FoundationEssentials
import Glibc
import Testing
import ObjectStore

// MARK: - Known-answer vectors (aws-c-auth's signing test suite layout)

/// One case folder of SigV4 vectors: `context.json`, `request.txt` and the expected
/// `header-*.txt` and `query-*.txt` values.
struct SigV4VectorCase: Sendable, CustomTestStringConvertible {
    /// Which set it came from (`bundled`, or the `LIFEBOAT_SIGV4_VECTORS` directory) and its folder name.
    var name: String
    var directory: String

    var testDescription: String { name }
}

enum SigV4Vectors {
    /// This file's directory, Tests/ObjectStoreTests.
    private static let testDirectory: String = {
        let file = #filePath
        return String(file[..<(file.lastIndex(of: "/") ?? file.startIndex)])
    }()

    /// The copy kept with the tests (Tests/Vectors/sigv4, from the public AWS suite), so the
    /// vectors run wherever the repository is checked out.
    static let bundledDirectory = testDirectory + "/../Vectors/sigv4"
    /// `../shared/vectors/sigv4` next to the repository, when the checkout has it.
    static let sharedDirectory = testDirectory + "/../../../shared/vectors/sigv4"

    /// The extra directory named by `LIFEBOAT_SIGV4_VECTORS`, if set.
    static let extraDirectory: String? = {
        guard let value = getenv("LIFEBOAT_SIGV4_VECTORS") else { return nil }
        let path = String(cString: value)
        return path.isEmpty ? nil : path
    }()

    static let bundled: [SigV4VectorCase] = cases(in: bundledDirectory, label: "bundled")
    static let shared: [SigV4VectorCase] = cases(in: sharedDirectory, label: "shared")
    static let extra: [SigV4VectorCase] = extraDirectory.map { cases(in: $0, label: "extra") } ?? []
    static let all: [SigV4VectorCase] = bundled + shared + extra

    /// Every sub-directory of `directory`, sorted by name. A folder with missing files is still
    /// a case: its test fails and says which file is missing, rather than being skipped.
    static func cases(in directory: String, label: String) -> [SigV4VectorCase] {
        guard let handle = opendir(directory) else { return [] }
        defer { closedir(handle) }
        var found: [SigV4VectorCase] = []
        while let entry = readdir(handle) {
            let name = withUnsafePointer(to: &entry.pointee.d_name) {
                String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))
            }
            guard !name.hasPrefix(".") else { continue }
            let path = directory + "/" + name
            var status = stat()
            guard stat(path, &status) == 0, status.st_mode & S_IFMT == S_IFDIR else { continue }
            found.append(SigV4VectorCase(name: label + "/" + name, directory: path))
        }
        return found.sorted { $0.name < $1.name }
    }
}

@Suite("SigV4 known-answer vectors")
struct SignerVectorTests {
    @Test("the vector folders are found")
    func vectorsAreFound() {
        #expect(SigV4Vectors.bundled.count >= 32, "SigV4 vector cases under \(SigV4Vectors.bundledDirectory): \(SigV4Vectors.bundled.count)")
        if access(SigV4Vectors.sharedDirectory, F_OK) == 0 {
            #expect(!SigV4Vectors.shared.isEmpty, "\(SigV4Vectors.sharedDirectory) exists but holds no case folders")
        }
        if let extra = SigV4Vectors.extraDirectory {
            #expect(!SigV4Vectors.extra.isEmpty, "LIFEBOAT_SIGV4_VECTORS=\(extra) holds no case folders")
        }
    }

    @Test("header signing: canonical request, string to sign, signature, added headers", arguments: SigV4Vectors.all)
    func headerSigning(_ vector: SigV4VectorCase) throws {
        let loaded = try LoadedVector(vector)
        let payloadHash = SigV4Signer.hexSHA256(loaded.request.body)
        var headers = loaded.request.headers
        if loaded.context.signsBody {
            headers.append((name: "x-amz-content-sha256", value: payloadHash))
        }
        let result = loaded.signer.headerSignature(
            method: loaded.request.method, path: loaded.path, query: loaded.request.query,
            headers: headers, payloadHash: payloadHash, date: loaded.date)

        try #expect(result.canonicalRequest == (loaded.expected("header-canonical-request.txt")))
        try #expect(result.stringToSign == (loaded.expected("header-string-to-sign.txt")))
        try #expect(result.signature == (loaded.expected("header-signature.txt")))

        // The headers the signer adds must be the ones the signed request carries.
        let signed = try VectorRequest(bytes: loaded.file("header-signed-request.txt"))
        #expect(value(of: "authorization", in: result.additions) == signed.header("authorization"))
        #expect(value(of: "x-amz-date", in: result.additions) == signed.header("x-amz-date"))
        #expect(value(of: "x-amz-security-token", in: result.additions) == signed.header("x-amz-security-token"))
    }

    @Test("query signing: canonical request, string to sign, signature, added parameters", arguments: SigV4Vectors.all)
    func querySigning(_ vector: SigV4VectorCase) throws {
        let loaded = try LoadedVector(vector)
        let payloadHash = SigV4Signer.hexSHA256(loaded.request.body)
        let result = loaded.signer.querySignature(
            method: loaded.request.method, path: loaded.path, query: loaded.request.query,
            headers: loaded.request.headers, expires: loaded.context.expiration, payloadHash: payloadHash,
            date: loaded.date)

        try #expect(result.canonicalRequest == (loaded.expected("query-canonical-request.txt")))
        try #expect(result.stringToSign == (loaded.expected("query-string-to-sign.txt")))
        try #expect(result.signature == (loaded.expected("query-signature.txt")))

        // The presigned URL's query holds the original parameters plus exactly the added ones.
        let signed = try VectorRequest(bytes: loaded.file("query-signed-request.txt"))
        let ours = (loaded.request.query + result.additions).map { $0.name + "=" + $0.value }.sorted()
        let theirs = signed.query.map { $0.name + "=" + $0.value }.sorted()
        #expect(ours == theirs)
    }

    private func value(of name: String, in headers: [(name: String, value: String)]) -> String? {
        headers.first { $0.name.lowercased() == name }?.value
    }
}

// MARK: - Loading a case

/// `context.json`.
struct VectorContext: Decodable {
    struct Credentials: Decodable {
        var accessKeyID: String
        var secretAccessKey: String
        var token: String?

        enum CodingKeys: String, CodingKey {
            case accessKeyID = "access_key_id"
            case secretAccessKey = "secret_access_key"
            case token
        }
    }

    var credentials: Credentials
    var region: String
    var service: String
    var timestamp: String
    var normalize: Bool?
    var signBody: Bool?
    var omitSessionToken: Bool?
    var expirationInSeconds: Int?

    enum CodingKeys: String, CodingKey {
        case credentials, region, service, timestamp, normalize
        case signBody = "sign_body"
        case omitSessionToken = "omit_session_token"
        case expirationInSeconds = "expiration_in_seconds"
    }

    // The suite's defaults for flags a case leaves out.
    var normalizes: Bool { normalize ?? true }
    var signsBody: Bool { signBody ?? false }
    var expiration: Int { expirationInSeconds ?? 3600 }
}

struct LoadedVector {
    let vector: SigV4VectorCase
    let context: VectorContext
    let request: VectorRequest
    let signer: SigV4Signer
    let date: SigningDate
    /// The path handed to the signer (see `init`).
    let path: String

    init(_ vector: SigV4VectorCase) throws {
        self.vector = vector
        let contextBytes = try Self.read(vector.directory + "/context.json")
        context = try JSONDecoder().decode(VectorContext.self, from: Data(contextBytes))
        request = try VectorRequest(bytes: try Self.read(vector.directory + "/request.txt"))
        let credentials = S3Credentials(accessKeyID: context.credentials.accessKeyID,
                                        secretAccessKey: context.credentials.secretAccessKey,
                                        sessionToken: context.credentials.token)
        var signer = SigV4Signer(credentials: credentials, region: context.region, service: context.service,
                                 normalizesPath: context.normalizes)
        signer.signsSessionToken = !(context.omitSessionToken ?? false)
        self.signer = signer
        guard let date = SigningDate.parseISO8601(context.timestamp) else {
            throw FixtureError("\(vector.name): timestamp '\(context.timestamp)' is not ISO 8601")
        }
        self.date = date
        // The request line carries the path as sent. The S3 rules sign the raw key, encoded
        // once, so it is decoded first; the generic rules encode the path as sent once more
        // (their "double encoding"), so it is handed over as it is.
        path = context.normalizes ? request.path : percentDecode(request.path)
    }

    func file(_ name: String) throws -> [UInt8] {
        try Self.read(vector.directory + "/" + name)
    }

    /// An expected value: the file's text without trailing line breaks.
    func expected(_ name: String) throws -> String {
        var text = String(decoding: try file(name), as: UTF8.self)
        while text.hasSuffix("\n") || text.hasSuffix("\r") || text.hasSuffix("\r\n") { text.removeLast() }
        return text
    }

    static func read(_ path: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw FixtureError("cannot read \(path)")
        }
        return [UInt8](data)
    }
}

/// A raw HTTP request as the vector files spell it: request line, headers (a line that starts
/// with white space continues the header before it, as another value of that header), a blank
/// line, then the body.
struct VectorRequest {
    var method: String
    /// The path part of the request target, as written (not decoded).
    var path: String
    /// The query parameters, percent-decoded.
    var query: [(name: String, value: String)]
    var headers: [(name: String, value: String)]
    var body: [UInt8]

    init(bytes: [UInt8]) throws {
        var headEnd = bytes.count
        var bodyStart = bytes.count
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "\n") {
                var next = index + 1
                if next < bytes.count, bytes[next] == UInt8(ascii: "\r") { next += 1 }
                if next < bytes.count, bytes[next] == UInt8(ascii: "\n") {
                    headEnd = index
                    bodyStart = next + 1
                    break
                }
            }
            index += 1
        }
        body = Array(bytes[min(bodyStart, bytes.count)...])
        var lines = String(decoding: bytes[..<headEnd], as: UTF8.self)
            .split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.hasSuffix("\r") ? $0.dropLast() : $0 }
        while lines.last?.isEmpty == true { lines.removeLast() }
        guard let requestLine = lines.first,
              let firstSpace = requestLine.firstIndex(of: " "),
              let lastSpace = requestLine.lastIndex(of: " "), firstSpace < lastSpace else {
            throw FixtureError("request line '\(lines.first ?? "")' is not 'METHOD TARGET VERSION'")
        }
        method = String(requestLine[..<firstSpace])
        // The target may itself hold spaces (get-space-*): it runs to the last space.
        let target = requestLine[requestLine.index(after: firstSpace)..<lastSpace]
        if let mark = target.firstIndex(of: "?") {
            path = String(target[..<mark])
            query = target[target.index(after: mark)...].split(separator: "&").map { pair in
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                return (name: percentDecode(String(parts[0])), value: parts.count > 1 ? percentDecode(String(parts[1])) : "")
            }
        } else {
            path = String(target)
            query = []
        }
        headers = []
        for line in lines.dropFirst() {
            if line.first == " " || line.first == "\t" {
                guard let previous = headers.last else { throw FixtureError("continuation line before any header") }
                headers.append((name: previous.name, value: String(line)))
                continue
            }
            guard let colon = line.firstIndex(of: ":") else { throw FixtureError("header line '\(line)' has no ':'") }
            headers.append((name: String(line[..<colon]), value: String(line[line.index(after: colon)...])))
        }
    }

    /// The value of the first header named `name` (case-insensitively), trimmed.
    func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name }.map {
            String($0.value.drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
        }
    }
}

/// `%XX` escapes decoded; everything else (including `+`) kept.
private func percentDecode(_ text: String) -> String {
    let bytes = Array(text.utf8)
    var out: [UInt8] = []
    var index = 0
    while index < bytes.count {
        if bytes[index] == UInt8(ascii: "%"), index + 2 < bytes.count,
           let high = hexNibble(bytes[index + 1]), let low = hexNibble(bytes[index + 2]) {
            out.append(high << 4 | low)
            index += 3
        } else {
            out.append(bytes[index])
            index += 1
        }
    }
    return String(decoding: out, as: UTF8.self)
}

private func hexNibble(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
    default: return nil
    }
}

// MARK: - S3 rules and the documented S3 examples

@Suite("SigV4Signer for S3")
struct SignerS3Tests {
    // The example keys from the S3 API reference ("Signature Calculations for the
    // Authorization Header" and "Authenticating Requests: Using Query Parameters").
    static let exampleCredentials = S3Credentials(accessKeyID: "AKIAIOSFODNN7EXAMPLE",
                                                  secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    static let exampleDate = SigningDate(year: 2013, month: 5, day: 24, hour: 0, minute: 0, second: 0)!
    static let host = (name: "Host", value: "examplebucket.s3.amazonaws.com")

    let signer = SigV4Signer(credentials: exampleCredentials, region: "us-east-1")

    @Test("GET Object with a range (S3 documentation example)")
    func getObject() {
        let result = signer.headerSignature(
            method: "GET", path: "/test.txt", query: [],
            headers: [Self.host, (name: "Range", value: "bytes=0-9"),
                      (name: "x-amz-content-sha256", value: SigV4Signer.emptyPayloadHash)],
            payloadHash: SigV4Signer.emptyPayloadHash, date: Self.exampleDate)
        #expect(result.canonicalRequest == """
            GET
            /test.txt

            host:examplebucket.s3.amazonaws.com
            range:bytes=0-9
            x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            x-amz-date:20130524T000000Z

            host;range;x-amz-content-sha256;x-amz-date
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """)
        #expect(result.stringToSign.hasSuffix("\n7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972"))
        #expect(result.signature == "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
        #expect(result.additions.map(\.name) == ["x-amz-date", "authorization"])
        #expect(result.additions.last?.value == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            + "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
            + "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
    }

    @Test("PUT Object with a '$' in the key and a signed Date header (S3 documentation example)")
    func putObject() {
        let body = Array("Welcome to Amazon S3.".utf8)
        let payloadHash = SigV4Signer.hexSHA256(body)
        #expect(payloadHash == "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072")
        let result = signer.headerSignature(
            method: "PUT", path: "/test$file.text", query: [],
            headers: [Self.host, (name: "Date", value: Self.exampleDate.httpDate),
                      (name: "x-amz-storage-class", value: "REDUCED_REDUNDANCY"),
                      (name: "x-amz-content-sha256", value: payloadHash)],
            payloadHash: payloadHash, date: Self.exampleDate)
        #expect(result.canonicalRequest.hasPrefix("PUT\n/test%24file.text\n\ndate:Fri, 24 May 2013 00:00:00 GMT\n"))
        #expect(result.signedHeaders == "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class")
        #expect(result.signature == "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd")
    }

    @Test("a parameter without a value and a sorted query (S3 documentation examples)")
    func queryParameters() {
        let headers = [Self.host, (name: "x-amz-content-sha256", value: SigV4Signer.emptyPayloadHash)]
        let lifecycle = signer.headerSignature(
            method: "GET", path: "/", query: [(name: "lifecycle", value: "")], headers: headers,
            payloadHash: SigV4Signer.emptyPayloadHash, date: Self.exampleDate)
        #expect(lifecycle.canonicalRequest.hasPrefix("GET\n/\nlifecycle=\n"))
        #expect(lifecycle.signature == "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543")

        let list = signer.headerSignature(
            method: "GET", path: "/", query: [(name: "prefix", value: "J"), (name: "max-keys", value: "2")],
            headers: headers, payloadHash: SigV4Signer.emptyPayloadHash, date: Self.exampleDate)
        #expect(list.canonicalRequest.hasPrefix("GET\n/\nmax-keys=2&prefix=J\n"))
        #expect(list.signature == "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7")
    }

    @Test("presigned GET (S3 documentation example)")
    func presignedGet() {
        let parameters = signer.presignedQuery(
            method: "GET", path: "/test.txt", query: [], headers: [Self.host], expires: 86_400,
            payloadHash: SigV4Signer.unsignedPayload, date: Self.exampleDate)
        #expect(SigV4Signer.canonicalQueryString(parameters) ==
            "X-Amz-Algorithm=AWS4-HMAC-SHA256"
            + "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
            + "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400"
            + "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
            + "&X-Amz-SignedHeaders=host")
    }

    @Test("S3 keys are encoded once, byte by byte, and never normalised")
    func pathEncoding() {
        #expect(SigV4Signer.encodePath("/bucket/my key+(1)") == "/bucket/my%20key%2B%281%29")
        #expect(SigV4Signer.encodePath("/bucket/a//b/./c/../d") == "/bucket/a//b/./c/../d")
        #expect(SigV4Signer.encodePath("/bucket/ሴ/100%") == "/bucket/%E1%88%B4/100%25")
        #expect(SigV4Signer.encodePath("/-._~AZaz09") == "/-._~AZaz09")
        #expect(SigV4Signer.encodePath("") == "/")
        #expect(SigV4Signer.encode("a/b c") == "a%2Fb%20c")

        let result = signer.headerSignature(
            method: "GET", path: "/bucket/a//b/./c", query: [], headers: [Self.host],
            payloadHash: SigV4Signer.unsignedPayload, date: Self.exampleDate)
        #expect(result.canonicalRequest.hasPrefix("GET\n/bucket/a//b/./c\n"))
        #expect(result.canonicalRequest.hasSuffix("\nUNSIGNED-PAYLOAD"))
    }

    @Test("the generic rules normalise the path")
    func normalisedPath() {
        #expect(SigV4Signer.normalizedPath("/a/./b/../c//d/") == "/a/c/d/")
        #expect(SigV4Signer.normalizedPath("/../..") == "/")
        #expect(SigV4Signer.normalizedPath("/a/b/..") == "/a/")
        #expect(SigV4Signer.normalizedPath("") == "/")
    }

    @Test("query strings: encoded, sorted by name then value, empty values kept")
    func canonicalQuery() {
        #expect(SigV4Signer.canonicalQueryString([]) == "")
        #expect(SigV4Signer.canonicalQueryString([
            (name: "prefix", value: "a/b c"), (name: "list-type", value: "2"), (name: "uploads", value: ""),
            (name: "k", value: "2"), (name: "k", value: "1"), (name: "ሴ", value: "x=y&z"),
        ]) == "%E1%88%B4=x%3Dy%26z&k=1&k=2&list-type=2&prefix=a%2Fb%20c&uploads=")
    }

    @Test("a session token is sent and signed; caller copies of signer headers are replaced")
    func sessionToken() {
        let credentials = S3Credentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "secret", sessionToken: "token/+=")
        let withToken = SigV4Signer(credentials: credentials, region: "eu-west-1")
        let result = withToken.headerSignature(
            method: "HEAD", path: "/b/k", query: [],
            headers: [(name: "host", value: "h"), (name: "X-Amz-Date", value: "stale"), (name: "User-Agent", value: "curl")],
            payloadHash: SigV4Signer.unsignedPayload, date: Self.exampleDate)
        #expect(result.signedHeaders == "host;x-amz-date;x-amz-security-token")
        #expect(result.canonicalRequest.contains("x-amz-date:20130524T000000Z\nx-amz-security-token:token/+=\n"))
        #expect(!result.canonicalRequest.contains("stale"))
        #expect(result.additions.map(\.name) == ["x-amz-date", "x-amz-security-token", "authorization"])
        #expect(result.additions[1].value == "token/+=")

        let presigned = withToken.presignedQuery(
            method: "GET", path: "/b/k", query: [], headers: [(name: "host", value: "h")], expires: 60,
            payloadHash: SigV4Signer.unsignedPayload, date: Self.exampleDate)
        #expect(presigned.contains { $0.name == "X-Amz-Security-Token" && $0.value == "token/+=" })
        #expect(SigV4Signer.canonicalQueryString(presigned).contains("X-Amz-Security-Token=token%2F%2B%3D"))
    }

    @Test("the cached signing key follows the date")
    func signingKeyPerDay() {
        let dayTwo = Self.exampleDate.adding(seconds: 86_400)
        let headers = [Self.host]
        func sign(_ signer: SigV4Signer, _ date: SigningDate) -> String {
            signer.headerSignature(method: "GET", path: "/k", query: [], headers: headers,
                                   payloadHash: SigV4Signer.unsignedPayload, date: date).signature
        }
        let first = sign(signer, Self.exampleDate)
        let second = sign(signer, dayTwo)
        #expect(first != second)
        // A fresh signer (empty cache) agrees for each day, in either order.
        #expect(sign(SigV4Signer(credentials: Self.exampleCredentials, region: "us-east-1"), dayTwo) == second)
        #expect(sign(signer, Self.exampleDate) == first)
    }

    @Test("one signer shared by many threads gives the same signatures")
    func concurrentSigning() throws {
        let signer = self.signer
        let expected = signer.headerSignature(
            method: "GET", path: "/test.txt", query: [], headers: [Self.host],
            payloadHash: SigV4Signer.unsignedPayload, date: Self.exampleDate).signature
        let results = onThreads(8) { index in
            (0..<200).map { round in
                let date = round % 2 == 0 ? Self.exampleDate : Self.exampleDate.adding(seconds: 86_400 * (index + 1))
                return (round % 2 == 0, signer.headerSignature(
                    method: "GET", path: "/test.txt", query: [], headers: [Self.host],
                    payloadHash: SigV4Signer.unsignedPayload, date: date).signature)
            }
        }
        for result in results {
            for (isExampleDate, signature) in try result.get() where isExampleDate {
                #expect(signature == expected)
            }
        }
    }

    @Test("hexSHA256 of contiguous and non-contiguous bytes")
    func hexSHA256() {
        #expect(SigV4Signer.hexSHA256([UInt8]()) == SigV4Signer.emptyPayloadHash)
        #expect(SigV4Signer.hexSHA256(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SigV4Signer.hexSHA256("abc".utf8) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }
}
