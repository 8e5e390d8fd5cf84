/// Where an S3 repository lives and how to talk to it, parsed from a repository URL:
///
///     s3://BUCKET[/PREFIX][?option=value&…]
///
/// Options (all optional): `endpoint` (URL of an S3-compatible server; default AWS for the
/// region), `region`, `style` (`path` or `virtual` addressing), `profile` (a profile of the
/// shared AWS files), `ca-bundle` (a PEM file of trusted CAs), `connections` (parallel
/// transfers), `upload-limit` and `download-limit` (KiB/s over all transfers), `lock-mode`
/// (`governance` or `compliance`) with `lock-days`, `multipart-threshold` and `part-size`
/// (MiB), `stall-timeout` (seconds without a byte before a transfer is abandoned and retried),
/// `retries` (attempts per request). Credentials never go in the URL.
public struct S3Configuration: Sendable, Hashable {
    public enum AddressingStyle: String, Sendable, Hashable {
        /// `https://endpoint/bucket/key`: what SeaweedFS, MinIO and Ceph expect.
        case path
        /// `https://bucket.endpoint/key`: what AWS prefers.
        case virtual
    }

    public enum LockMode: String, Sendable, Hashable {
        case governance = "GOVERNANCE"
        case compliance = "COMPLIANCE"
    }

    /// Object Lock retention set on every uploaded object.
    public struct ObjectLock: Sendable, Hashable {
        public var mode: LockMode
        public var days: Int

        public init(mode: LockMode, days: Int) {
            self.mode = mode
            self.days = days
        }
    }

    public var bucket: String
    /// The key prefix without leading or trailing slashes; empty for the bucket's root.
    public var prefix: String
    /// The endpoint without a trailing slash, e.g. `https://s3.eu-west-1.amazonaws.com`.
    public var endpoint: String
    public var region: String
    public var style: AddressingStyle
    public var profile: String?
    /// From the environment or the shared AWS files; its description never shows the secret.
    public var credentials: S3Credentials
    public var caBundle: String?
    public var connections: Int
    /// Bytes per second over all transfers; nil for no limit.
    public var uploadLimit: Int?
    public var downloadLimit: Int?
    public var objectLock: ObjectLock?
    public var multipartThreshold: Int
    public var partSize: Int
    public var stallTimeout: Int
    public var maximumAttempts: Int
    /// Keys per listing page (S3's maximum is 1,000); smaller only to exercise pagination.
    public var listPageSize = 1000

    /// S3 refuses multipart parts smaller than this (except the last).
    public static let minimumPartSize = 5 << 20
    /// The URL as the user wrote it, without its options, for messages: `s3://bucket/prefix`.
    public var location: String { prefix.isEmpty ? "s3://\(bucket)" : "s3://\(bucket)/\(prefix)" }

    /// Parses `url`; `environment` supplies the defaults for the endpoint, region and CA bundle.
    public static func parse(_ url: String, environment: S3Environment = .current()) throws -> S3Configuration {
        // Messages show the URL without its options, whose values are the user's to keep.
        let shown = String(url.prefix(while: { $0 != "?" }))
        guard url.hasPrefix("s3://") else {
            throw invalid(shown, "an S3 repository URL starts with s3://, as in s3://bucket/prefix")
        }
        var rest = Substring(url.dropFirst(5))
        var query = Substring("")
        if let mark = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: mark)...]
            rest = rest[..<mark]
        }
        if rest.prefix(while: { $0 != "/" }).contains("@") {
            throw invalid("s3://…", Self.noCredentials)
        }
        let bucket: String
        var prefix: String
        if let slash = rest.firstIndex(of: "/") {
            bucket = String(rest[..<slash])
            prefix = String(rest[rest.index(after: slash)...])
        } else {
            bucket = String(rest)
            prefix = ""
        }
        while prefix.hasSuffix("/") { prefix.removeLast() }
        try validateBucket(bucket, url: shown)
        if prefix.split(separator: "/", omittingEmptySubsequences: false).contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) && !prefix.isEmpty {
            throw invalid(shown, "the prefix '\(prefix)' has an empty, '.' or '..' part; write it as a/b/c")
        }

        var options: [String: String] = [:]
        for pair in query.split(separator: "&") where !pair.isEmpty {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = String(parts[0])
            let value = parts.count == 2 ? percentDecode(String(parts[1])) : ""
            guard knownOptions.contains(name) else {
                let lowered = name.lowercased()
                if ["secret", "key", "password", "token", "credential"].contains(where: { lowered.contains($0) }) {
                    throw invalid(shown, Self.noCredentials)
                }
                throw invalid(shown, "unknown option '\(name)'; the options are \(knownOptions.sorted().joined(separator: ", "))")
            }
            guard options[name] == nil else {
                throw invalid(shown, "option '\(name)' is given twice")
            }
            guard !value.isEmpty else {
                throw invalid(shown, "option '\(name)' needs a value, as in \(name)=…")
            }
            options[name] = value
        }

        // The resolver applies the AWS precedence (environment, then the profile's files).
        let resolved = try S3CredentialResolver.resolve(profile: options["profile"], environment: environment)
        let region = options["region"] ?? resolved.region ?? "us-east-1"
        var endpoint = options["endpoint"] ?? resolved.endpointURL ?? "https://s3.\(region).amazonaws.com"
        while endpoint.hasSuffix("/") { endpoint.removeLast() }
        if endpoint.contains("@") {
            throw invalid(shown, "the endpoint must not hold credentials; " + Self.noCredentials)
        }
        guard endpoint.hasPrefix("https://") || endpoint.hasPrefix("http://"),
              endpoint.split(separator: "/", omittingEmptySubsequences: false).count == 3 else {
            throw invalid(shown, "endpoint '\(endpoint)' is not a URL like https://host[:port] (no path)")
        }
        let isAWS = endpoint.hasSuffix(".amazonaws.com")

        var configuration = S3Configuration(
            bucket: bucket, prefix: prefix, endpoint: endpoint, region: region,
            style: isAWS && !bucket.contains(".") ? .virtual : .path,
            profile: options["profile"], credentials: resolved.credentials,
            caBundle: options["ca-bundle"] ?? resolved.caBundle,
            connections: 8, uploadLimit: nil, downloadLimit: nil, objectLock: nil,
            multipartThreshold: 64 << 20, partSize: 16 << 20, stallTimeout: 60, maximumAttempts: 8)

        if let style = options["style"] {
            guard let parsed = AddressingStyle(rawValue: style) else {
                throw invalid(shown, "style must be 'path' or 'virtual', not '\(style)'")
            }
            configuration.style = parsed
        }
        if configuration.style == .virtual {
            let host = endpoint.split(separator: "/")[1].split(separator: ":")[0]
            if host.allSatisfy({ $0.isNumber || $0 == "." }) || host.hasPrefix("[") {
                throw invalid(shown, "style=virtual puts the bucket in the host name (\(bucket).\(host)), which needs a DNS name endpoint, not an IP address; use style=path")
            }
        }
        if let value = options["connections"] {
            configuration.connections = try integer(value, "connections", in: 1...64, url: shown)
        }
        if let value = options["upload-limit"] {
            configuration.uploadLimit = try integer(value, "upload-limit (KiB/s)", in: 1...(1 << 30), url: shown) * 1024
        }
        if let value = options["download-limit"] {
            configuration.downloadLimit = try integer(value, "download-limit (KiB/s)", in: 1...(1 << 30), url: shown) * 1024
        }
        if let value = options["multipart-threshold"] {
            configuration.multipartThreshold = try integer(value, "multipart-threshold (MiB)", in: 5...5120, url: shown) << 20
        }
        if let value = options["part-size"] {
            configuration.partSize = try integer(value, "part-size (MiB)", in: 5...5120, url: shown) << 20
        }
        if let value = options["stall-timeout"] {
            configuration.stallTimeout = try integer(value, "stall-timeout (seconds)", in: 1...3600, url: shown)
        }
        if let value = options["retries"] {
            configuration.maximumAttempts = try integer(value, "retries", in: 1...50, url: shown)
        }
        switch (options["lock-mode"], options["lock-days"]) {
        case (nil, nil):
            break
        case (let mode?, let days?):
            guard let parsed = LockMode(rawValue: mode.uppercased()) else {
                throw invalid(shown, "lock-mode must be 'governance' or 'compliance', not '\(mode)'")
            }
            configuration.objectLock = ObjectLock(mode: parsed, days: try integer(days, "lock-days", in: 1...36500, url: shown))
        default:
            throw invalid(shown, "Object Lock needs both lock-mode (governance or compliance) and lock-days")
        }
        return configuration
    }

    private static let noCredentials = "credentials never go in the repository URL; use AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile in ~/.aws/credentials"

    private static let knownOptions: Set<String> = [
        "endpoint", "region", "style", "profile", "ca-bundle", "connections", "upload-limit", "download-limit",
        "lock-mode", "lock-days", "multipart-threshold", "part-size", "stall-timeout", "retries",
    ]

    /// Bucket names as S3 allows them: 3–63 of a–z, 0–9, '.', '-', starting and ending with a letter or digit.
    private static func validateBucket(_ bucket: String, url: String) throws {
        let allowed = bucket.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2e || $0 == 0x2d }
        guard (3...63).contains(bucket.utf8.count), allowed,
              let first = bucket.utf8.first, let last = bucket.utf8.last,
              first != 0x2e && first != 0x2d && last != 0x2e && last != 0x2d else {
            throw invalid(url, "'\(bucket)' is not a valid bucket name (3–63 characters: lower-case letters, digits, '.' and '-')")
        }
    }

    private static func integer(_ text: String, _ name: String, in range: ClosedRange<Int>, url: String) throws -> Int {
        guard let value = Int(text), range.contains(value) else {
            throw invalid(url, "\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound), not '\(text)'")
        }
        return value
    }

    private static func invalid(_ url: some StringProtocol, _ reason: String) -> ObjectStoreError {
        ObjectStoreError(.invalidLocation, "\(url): \(reason)")
    }

    /// `%XX` escapes decoded; anything else, a `+` or a malformed escape included, stays as written
    /// (a CA bundle path may hold a `+`).
    private static func percentDecode(_ text: String) -> String {
        let input = Array(text.utf8)
        var bytes: [UInt8] = []
        var index = 0
        while index < input.count {
            if input[index] == UInt8(ascii: "%"), index + 2 < input.count,
               let value = UInt8(String(decoding: input[(index + 1)...(index + 2)], as: UTF8.self), radix: 16) {
                bytes.append(value)
                index += 3
            } else {
                bytes.append(input[index])
                index += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
