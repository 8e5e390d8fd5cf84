import CCurl
import COpenSSL
import FoundationEssentials
import Glibc
import Sealing

/// A repository in an S3 bucket (AWS S3, SeaweedFS, MinIO, Ceph), over our own SigV4 signer and
/// libcurl (DESIGN §3).
///
/// Every write carries `x-amz-content-sha256` (signed) and `x-amz-checksum-sha256`, so the server
/// rejects a body damaged on the way; every write is create-only (`If-None-Match: *`). Reads of
/// whole objects are checked against the stored checksum or ETag, and ranges against their
/// length, so a damaged or short response is retried rather than returned. Requests that fail in
/// a way worth retrying are retried by ``RetryPolicy``.
public final class S3Store: ObjectStore {
    public let configuration: S3Configuration
    public var location: String { configuration.location }
    public var transferConcurrency: Int { configuration.connections }

    private let signer: SigV4Signer
    private let client: HTTPClient
    private let retries: RetryPolicy
    private let scheme: String
    private let host: String

    /// Retention is set on objects written by this store when its target asks for Object Lock.
    public var objectLock: S3Configuration.ObjectLock? { configuration.objectLock }

    public init(configuration: S3Configuration) {
        self.configuration = configuration
        signer = SigV4Signer(credentials: configuration.credentials, region: configuration.region)
        var settings = HTTPSettings()
        settings.stallTimeout = configuration.stallTimeout
        settings.caBundle = configuration.caBundle
        settings.uploadLimiter = configuration.uploadLimit.map { BandwidthLimiter(bytesPerSecond: $0) }
        settings.downloadLimiter = configuration.downloadLimit.map { BandwidthLimiter(bytesPerSecond: $0) }
        client = HTTPClient(settings: settings)
        retries = RetryPolicy(maximumAttempts: configuration.maximumAttempts)
        let parts = configuration.endpoint.split(separator: "/", omittingEmptySubsequences: false)
        scheme = String(parts[0].dropLast())
        host = String(parts[2])
    }

    /// Opens `url` (`s3://bucket/prefix?…`) with credentials from the environment or the AWS files.
    public static func open(url: String, environment: S3Environment = .current()) throws -> S3Store {
        S3Store(configuration: try S3Configuration.parse(url, environment: environment))
    }

    // MARK: - ObjectStore

    public func put(_ bytes: [UInt8], as key: String) throws {
        if bytes.count >= configuration.multipartThreshold {
            return try putMultipart(bytes, as: key)
        }
        let digest = SHA256.hash(bytes)
        var headers = [(name: "if-none-match", value: "*"), (name: "content-type", value: "application/octet-stream"),
                       (name: "x-amz-checksum-sha256", value: base64(digest.bytes))]
        headers += lockHeaders(for: bytes)
        let (response, attempts) = try bytes.withUnsafeBytes { body in
            try send("PUT", key: key, headers: headers, body: body, payloadHash: digest.hex, what: "write \(key)")
        }
        switch response.status {
        case 200 ..< 300:
            return
        case 412 where attempts > 1:
            // An earlier attempt may have landed before its answer was lost: the object is ours
            // if it holds exactly these bytes.
            if try holds(key, digest: digest, size: bytes.count) { return }
            throw ObjectStoreError(.alreadyExists, "\(location): \(key) already exists with other content")
        default:
            throw failure(response, "write \(key)")
        }
    }

    public func get(_ key: String) throws -> [UInt8] {
        let (response, _) = try send("GET", key: key, headers: [(name: "x-amz-checksum-mode", value: "ENABLED")],
                                     what: "read \(key)", verify: verifyWholeObject)
        guard response.status == 200 else { throw failure(response, "read \(key)") }
        return response.body
    }

    public func get(_ key: String, range: Range<Int>) throws -> [UInt8] {
        guard !range.isEmpty else { return [] }
        let header = (name: "range", value: "bytes=\(range.lowerBound)-\(range.upperBound - 1)")
        let (response, _) = try send("GET", key: key, headers: [header], what: "read \(key)") { response in
            guard response.status == 206 else { return nil }
            if response.body.count == range.count { return nil }
            // Shorter than asked: fine if the object really ends there, a broken transfer otherwise.
            if let total = response.header("content-range").flatMap({ $0.split(separator: "/").last }).flatMap({ Int($0) }),
               total < range.upperBound, response.body.count == total - range.lowerBound {
                return nil
            }
            return "got \(response.body.count) of \(range.count) bytes"
        }
        switch response.status {
        case 206:
            guard response.body.count == range.count else {
                throw ObjectStoreError(.shortRead, "\(location): \(key) ends before byte \(range.upperBound)")
            }
            return response.body
        case 200:
            // A server that ignores Range sends the whole object.
            guard response.body.count >= range.upperBound else {
                throw ObjectStoreError(.shortRead, "\(location): \(key) ends before byte \(range.upperBound)")
            }
            return Array(response.body[range])
        case 416:
            throw ObjectStoreError(.shortRead, "\(location): \(key) ends before byte \(range.upperBound)")
        default:
            throw failure(response, "read \(key)")
        }
    }

    public func size(of key: String) throws -> Int? {
        let (response, _) = try send("HEAD", key: key, what: "look up \(key)")
        switch response.status {
        case 200:
            guard let length = response.header("content-length").flatMap({ Int($0) }) else {
                throw ObjectStoreError(.io, "\(location): the answer for \(key) has no Content-Length")
            }
            return length
        case 404:
            return nil
        default:
            throw failure(response, "look up \(key)")
        }
    }

    public func list(prefix: String) throws -> [ObjectInfo] {
        var objects: [ObjectInfo] = []
        let stripped = configuration.prefix.isEmpty ? 0 : configuration.prefix.count + 1
        try listPages(query: [(name: "list-type", value: "2"), (name: "prefix", value: objectKey(prefix)),
                             (name: "max-keys", value: "\(configuration.listPageSize)")],
                      markers: [("continuation-token", "NextContinuationToken")], what: "list objects") { page in
            for entry in page.elements("Contents") {
                guard let key = entry.value("Key"), let size = entry.value("Size").flatMap({ Int($0) }) else { continue }
                objects.append(ObjectInfo(key: String(key.dropFirst(stripped)), size: size))
            }
        }
        return objects
    }

    public func delete(_ key: String) throws {
        if objectLock != nil {
            // In a versioned (Object Lock) bucket a plain DELETE only hides the object behind a
            // delete marker; reclaiming space means deleting each version, which the lock refuses
            // until its retention ends.
            for version in try versions(prefix: key) where version.key == key {
                try deleteVersion(key, versionID: version.versionID)
            }
            return
        }
        let (response, _) = try send("DELETE", key: key, what: "delete \(key)")
        guard (200 ..< 300).contains(response.status) || response.status == 404 else {
            throw failure(response, "delete \(key)")
        }
    }

    // MARK: - Bucket

    /// Whether the bucket exists (and these credentials may see it).
    public func bucketExists() throws -> Bool {
        let (response, _) = try send("HEAD", key: nil, what: "look up bucket \(configuration.bucket)")
        switch response.status {
        case 200: return true
        case 404: return false
        default: throw failure(response, "look up bucket \(configuration.bucket)")
        }
    }

    /// Creates the bucket, with Object Lock enabled when `objectLock` (only possible at creation).
    public func createBucket(objectLock: Bool) throws {
        var headers: [(name: String, value: String)] = []
        if objectLock { headers.append((name: "x-amz-bucket-object-lock-enabled", value: "true")) }
        var body: [UInt8] = []
        if configuration.endpoint.hasSuffix(".amazonaws.com") && configuration.region != "us-east-1" {
            body = Array("<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><LocationConstraint>\(configuration.region)</LocationConstraint></CreateBucketConfiguration>".utf8)
        }
        let (response, _) = try body.withUnsafeBytes { bytes in
            try send("PUT", key: nil, headers: headers, body: bytes, payloadHash: SHA256.hash(body).hex,
                     what: "create bucket \(configuration.bucket)")
        }
        if (200 ..< 300).contains(response.status) { return }
        if response.status == 409, S3XML(response.body).error?.code == "BucketAlreadyOwnedByYou" { return }
        throw failure(response, "create bucket \(configuration.bucket)")
    }

    /// Whether the bucket has Object Lock enabled.
    public func bucketHasObjectLock() throws -> Bool {
        let (response, _) = try send("GET", key: nil, query: [(name: "object-lock", value: "")], what: "read the bucket's Object Lock setting")
        switch response.status {
        case 200:
            return S3XML(response.body).value("ObjectLockEnabled") == "Enabled"
        case 404:
            return false  // ObjectLockConfigurationNotFoundError
        default:
            throw failure(response, "read the bucket's Object Lock setting")
        }
    }

    // MARK: - Object Lock

    /// The retention on the current version of `key`, or nil when it has none.
    public func retention(of key: String) throws -> (mode: S3Configuration.LockMode, retainUntil: SigningDate)? {
        let (response, _) = try send("GET", key: key, query: [(name: "retention", value: "")], what: "read the retention of \(key)")
        switch response.status {
        case 200:
            let xml = S3XML(response.body)
            guard let mode = xml.value("Mode").flatMap({ S3Configuration.LockMode(rawValue: $0) }),
                  let until = xml.value("RetainUntilDate").flatMap({ SigningDate.parseISO8601($0) }) else { return nil }
            return (mode, until)
        case 404:
            if S3XML(response.body).error?.code == "NoSuchKey" {
                throw ObjectStoreError(.notFound, "\(location): \(key) does not exist")
            }
            return nil
        default:
            throw failure(response, "read the retention of \(key)")
        }
    }

    /// Sets the retention of `key` to end at `retainUntil` (S3 refuses to shorten it).
    public func extendRetention(of key: String, until retainUntil: SigningDate, mode: S3Configuration.LockMode) throws {
        let body = Array("<Retention xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Mode>\(mode.rawValue)</Mode><RetainUntilDate>\(retainUntil.iso8601)</RetainUntilDate></Retention>".utf8)
        let digest = SHA256.hash(body)
        let headers = [(name: "content-md5", value: base64(md5(body))), (name: "x-amz-checksum-sha256", value: base64(digest.bytes))]
        let (response, _) = try body.withUnsafeBytes { bytes in
            try send("PUT", key: key, query: [(name: "retention", value: "")], headers: headers, body: bytes,
                     payloadHash: digest.hex, what: "extend the retention of \(key)")
        }
        guard (200 ..< 300).contains(response.status) else { throw failure(response, "extend the retention of \(key)") }
    }

    /// One version of an object in a versioned bucket, or a delete marker.
    public struct ObjectVersion: Sendable, Hashable {
        public var key: String
        public var versionID: String
        public var isDeleteMarker: Bool
        public var isLatest: Bool
        public var size: Int
    }

    /// Every version and delete marker under `prefix` (keys relative to the repository).
    public func versions(prefix: String) throws -> [ObjectVersion] {
        var found: [ObjectVersion] = []
        let stripped = configuration.prefix.isEmpty ? 0 : configuration.prefix.count + 1
        try listPages(query: [(name: "versions", value: ""), (name: "prefix", value: objectKey(prefix))],
                      markers: [("key-marker", "NextKeyMarker"), ("version-id-marker", "NextVersionIdMarker")],
                      what: "list versions under \(prefix)") { page in
            for (kind, isMarker) in [("Version", false), ("DeleteMarker", true)] {
                for entry in page.elements(kind) {
                    guard let key = entry.value("Key"), let version = entry.value("VersionId") else { continue }
                    found.append(ObjectVersion(key: String(key.dropFirst(stripped)), versionID: version, isDeleteMarker: isMarker,
                                               isLatest: entry.value("IsLatest") == "true",
                                               size: entry.value("Size").flatMap { Int($0) } ?? 0))
                }
            }
        }
        return found
    }

    /// Deletes one version; refused (`.permissionDenied`) while its retention lasts.
    public func deleteVersion(_ key: String, versionID: String) throws {
        let (response, _) = try send("DELETE", key: key, query: [(name: "versionId", value: versionID)], what: "delete \(key) version \(versionID)")
        guard (200 ..< 300).contains(response.status) || response.status == 404 else {
            throw failure(response, "delete \(key) version \(versionID)")
        }
    }

    // MARK: - Multipart

    /// Uploads `bytes` in parts of `partSize`; the upload is aborted if any step fails.
    private func putMultipart(_ bytes: [UInt8], as key: String) throws {
        if try size(of: key) != nil {
            throw ObjectStoreError(.alreadyExists, "\(location): \(key) already exists")
        }
        let (created, _) = try send("POST", key: key, query: [(name: "uploads", value: "")],
                                    headers: [(name: "content-type", value: "application/octet-stream")] + lockHeaders(for: nil),
                                    body: UnsafeRawBufferPointer(start: nil, count: 0), what: "start the upload of \(key)")
        guard created.status == 200, let uploadID = S3XML(created.body).value("UploadId") else {
            throw failure(created, "start the upload of \(key)")
        }
        do {
            var parts: [(number: Int, etag: String)] = []
            let partSize = max(S3Configuration.minimumPartSize, configuration.partSize)
            var offset = 0
            while offset < bytes.count {
                let end = min(bytes.count, offset + partSize)
                let number = parts.count + 1
                let etag: String = try bytes.withUnsafeBytes { all in
                    let part = UnsafeRawBufferPointer(rebasing: all[offset ..< end])
                    let digest = SHA256.hash(part)
                    let (response, _) = try send("PUT", key: key, query: [(name: "partNumber", value: "\(number)"), (name: "uploadId", value: uploadID)],
                                                 headers: [(name: "content-md5", value: base64(md5(part)))],
                                                 body: part, payloadHash: digest.hex, what: "upload part \(number) of \(key)")
                    guard (200 ..< 300).contains(response.status), let etag = response.header("etag") else {
                        throw failure(response, "upload part \(number) of \(key)")
                    }
                    return etag
                }
                parts.append((number, etag))
                offset = end
            }
            var document = "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
            for part in parts {
                document += "<Part><PartNumber>\(part.number)</PartNumber><ETag>\(S3XML.escape(part.etag))</ETag></Part>"
            }
            document += "</CompleteMultipartUpload>"
            let body = Array(document.utf8)
            // Create-only like a single PUT: another writer's object under this name stays.
            let (completed, attempts) = try body.withUnsafeBytes { bytes in
                try send("POST", key: key, query: [(name: "uploadId", value: uploadID)],
                         headers: [(name: "if-none-match", value: "*")], body: bytes,
                         payloadHash: SHA256.hash(body).hex, what: "complete the upload of \(key)")
            }
            // A retried completion finds the upload gone (404), or the object there (412), when
            // an earlier attempt completed it: the object is ours if it holds these bytes.
            let code = S3XML(completed.body).error?.code
            if attempts > 1 && ((completed.status == 404 && code == "NoSuchUpload") || completed.status == 412) {
                guard try holds(key, digest: SHA256.hash(bytes), size: bytes.count) else {
                    throw ObjectStoreError(.alreadyExists, "\(location): \(key) already exists with other content")
                }
                return
            }
            guard completed.status == 200 else { throw failure(completed, "complete the upload of \(key)") }
        } catch {
            try? abortUpload(key, uploadID: uploadID)
            throw error
        }
        // Check what landed: the size.
        guard try size(of: key) == bytes.count else {
            throw ObjectStoreError(.corrupted, "\(location): \(key) has the wrong size after its multipart upload; run the backup again")
        }
    }

    /// An unfinished multipart upload.
    public struct Upload: Sendable, Hashable {
        public var key: String
        public var uploadID: String
        public var initiated: SigningDate?
    }

    /// Multipart uploads started under the repository and never completed nor aborted.
    public func unfinishedUploads() throws -> [Upload] {
        var uploads: [Upload] = []
        let stripped = configuration.prefix.isEmpty ? 0 : configuration.prefix.count + 1
        try listPages(query: [(name: "uploads", value: ""), (name: "prefix", value: objectKey(""))],
                      markers: [("key-marker", "NextKeyMarker"), ("upload-id-marker", "NextUploadIdMarker")],
                      what: "list unfinished uploads") { page in
            for entry in page.elements("Upload") {
                guard let key = entry.value("Key"), let id = entry.value("UploadId") else { continue }
                uploads.append(Upload(key: String(key.dropFirst(stripped)), uploadID: id,
                                      initiated: entry.value("Initiated").flatMap { SigningDate.parseISO8601($0) }))
            }
        }
        return uploads
    }

    public func abortUpload(_ key: String, uploadID: String) throws {
        let (response, _) = try send("DELETE", key: key, query: [(name: "uploadId", value: uploadID)], what: "abort the upload of \(key)")
        guard (200 ..< 300).contains(response.status) || response.status == 404 else {
            throw failure(response, "abort the upload of \(key)")
        }
    }

    /// Aborts the uploads started more than `age` seconds ago (a writer that died mid-upload
    /// leaves parts that cost storage but never become an object). Returns how many.
    public func abortStaleUploads(olderThan age: Int) throws -> Int {
        let cutoff = SigningDate.now().secondsSince1970 - age
        var aborted = 0
        for upload in try unfinishedUploads() where (upload.initiated?.secondsSince1970 ?? 0) < cutoff {
            try abortUpload(upload.key, uploadID: upload.uploadID)
            aborted += 1
        }
        return aborted
    }

    // MARK: - Requests

    private func objectKey(_ key: String) -> String {
        configuration.prefix.isEmpty ? key : configuration.prefix + "/" + key
    }

    /// Sends one request, retrying what is worth retrying; returns the final response (which
    /// may be an error status for the caller to interpret) and how many attempts it took.
    ///
    /// `verify` looks at a 2xx response and returns why it cannot be trusted (a short or
    /// damaged body), which counts as a failed attempt.
    private func send(_ method: String, key: String?, query: [(name: String, value: String)] = [],
                      headers extra: [(name: String, value: String)] = [], body: UnsafeRawBufferPointer? = nil,
                      payloadHash: String? = nil, what: String,
                      verify: ((HTTPResponse) -> String?)? = nil) throws -> (HTTPResponse, Int) {
        let (requestHost, path) = address(key.map(objectKey))
        var url = "\(scheme)://\(requestHost)\(SigV4Signer.encodePath(path))"
        if !query.isEmpty { url += "?" + SigV4Signer.canonicalQueryString(query) }
        let hash = payloadHash ?? S3Store.emptyPayloadHash
        var attempt = 0
        while true {
            attempt += 1
            var headers = [(name: "host", value: requestHost), (name: "x-amz-content-sha256", value: hash)] + extra
            headers += signer.signedHeaders(method: method, path: path, query: query, headers: headers,
                                            payloadHash: hash, date: .now())
            let problem: String
            var retryAfter: Double?
            var isTimeout = false
            var unreachable = false
            do {
                let response = try client.perform(HTTPRequest(method: method, url: url, headers: headers),
                                                   body: method == "PUT" || method == "POST" ? body : nil)
                if (200 ..< 300).contains(response.status) {
                    if S3Store.isErrorBody(response, method: method), let error = S3XML(response.body).error {
                        // S3 may answer 200 and then report a failure in the body.
                        problem = "the store answered \(response.status) but reported \(error.code): \(error.message)"
                    } else if let verify, let reason = verify(response) {
                        problem = "the response was damaged on the way (\(reason))"
                    } else {
                        retries.recordSuccess()
                        return (response, attempt)
                    }
                } else {
                    let code = S3XML(response.body).error?.code ?? ""
                    guard S3Store.retryableStatuses.contains(response.status) || S3Store.retryableCodes.contains(code) else {
                        return (response, attempt)
                    }
                    problem = "HTTP \(response.status)\(code.isEmpty ? "" : " \(code)")"
                    retryAfter = response.header("retry-after").flatMap(S3Store.parseRetryAfter)
                }
            } catch let error as TransportError {
                guard error.isTransient else {
                    throw ObjectStoreError(.io, "\(location): cannot \(what): \(error.message)\(advice(for: error))", cause: error)
                }
                problem = error.message
                isTimeout = error.code == CURLE_OPERATION_TIMEDOUT
                unreachable = error.isUnreachable
            }
            guard attempt < retries.maximumAttempts, retries.spend(isTimeout: isTimeout) else {
                let budget = attempt < retries.maximumAttempts ? " (the retry budget is spent: the store has failed too often)" : ""
                throw ObjectStoreError(unreachable ? .unavailable : .io,
                    "\(location): cannot \(what) at \(configuration.endpoint): \(problem), after \(attempt) attempt\(attempt == 1 ? "" : "s")\(budget); "
                    + (unreachable ? "check that the endpoint is right and the server is up" : "try again later; if it persists, check the server"))
            }
            RetryPolicy.sleep(seconds: retries.delay(afterAttempt: attempt, retryAfter: retryAfter))
        }
    }

    /// What to do about a failure that no retry can mend, for its message.
    private func advice(for error: TransportError) -> String {
        if error.code == CURLE_SSL_CACERT_BADFILE {
            // Not the server's fault: the file we were told to trust is missing or unusable.
            let bundle = configuration.caBundle.map { "the CA bundle \($0) (from ?ca-bundle=, AWS_CA_BUNDLE or the profile's ca_bundle)" }
                ?? "the system's CA certificates"
            return "; cannot load \(bundle): check that the file exists, is readable and holds PEM certificates"
        }
        return error.isTLSVerification ? "; the server's certificate is not trusted: give its CA with ?ca-bundle=FILE (or AWS_CA_BUNDLE)" : ""
    }

    private func address(_ objectKey: String?) -> (host: String, path: String) {
        switch configuration.style {
        case .path:
            return (host, "/\(configuration.bucket)" + (objectKey.map { "/" + $0 } ?? ""))
        case .virtual:
            return ("\(configuration.bucket).\(host)", "/" + (objectKey ?? ""))
        }
    }

    /// Pages through a listing, calling `page` with each response document. `markers` pairs
    /// each query parameter that continues a listing with the element that gives its next value.
    private func listPages(query: [(name: String, value: String)], markers: [(parameter: String, next: String)],
                           what: String, _ page: (S3XML) throws -> Void) throws {
        var continuation: [(name: String, value: String)] = []
        var previous: [String] = []
        while true {
            let (response, _) = try send("GET", key: nil, query: query + continuation, what: what)
            guard response.status == 200 else { throw failure(response, what) }
            let document = S3XML(response.body)
            try page(document)
            guard document.value("IsTruncated") == "true" else { return }
            continuation = markers.compactMap { marker in
                document.value(marker.next).flatMap { $0.isEmpty ? nil : (name: marker.parameter, value: $0) }
            }
            guard continuation.first?.name == markers[0].parameter else {
                throw ObjectStoreError(.io, "\(location): cannot \(what): the store says the listing goes on but gives no \(markers[0].next)")
            }
            guard continuation.map(\.value) != previous else {
                throw ObjectStoreError(.io, "\(location): cannot \(what): the store repeats the same \(markers[0].next); the listing would never end")
            }
            previous = continuation.map(\.value)
        }
    }

    /// Whether `key` holds exactly the bytes with `digest`.
    private func holds(_ key: String, digest: BlobID, size: Int) throws -> Bool {
        let (response, _) = try send("HEAD", key: key, headers: [(name: "x-amz-checksum-mode", value: "ENABLED")], what: "look up \(key)")
        guard response.status == 200, response.header("content-length").flatMap({ Int($0) }) == size else { return false }
        if let stored = response.header("x-amz-checksum-sha256") { return stored == base64(digest.bytes) }
        return SHA256.hash(try get(key)) == digest
    }

    private func lockHeaders(for body: [UInt8]?) -> [(name: String, value: String)] {
        guard let lock = configuration.objectLock else { return [] }
        let until = SigningDate(secondsSince1970: SigningDate.now().secondsSince1970 + lock.days * 86_400)
        var headers = [(name: "x-amz-object-lock-mode", value: lock.mode.rawValue),
                       (name: "x-amz-object-lock-retain-until-date", value: until.iso8601)]
        // AWS wants Content-MD5 (or a checksum) on writes that set retention.
        if let body { headers.append((name: "content-md5", value: base64(md5(body)))) }
        return headers
    }

    /// Checks a whole object's body against what the store says it wrote.
    private func verifyWholeObject(_ response: HTTPResponse) -> String? {
        guard response.status == 200 else { return nil }
        if let length = response.header("content-length").flatMap({ Int($0) }), length != response.body.count {
            return "\(response.body.count) of \(length) bytes"
        }
        if let checksum = response.header("x-amz-checksum-sha256"), !checksum.contains("-") {
            return checksum == base64(SHA256.hash(response.body).bytes) ? nil : "SHA-256 mismatch"
        }
        if let etag = response.header("etag")?.trimmingQuotes(), etag.count == 32, etag.allSatisfy(\.isHexDigit) {
            return etag.lowercased() == hex(md5(response.body)) ? nil : "MD5 (ETag) mismatch"
        }
        return nil
    }

    /// The error for a final response that is not a success, with what to do about it.
    private func failure(_ response: HTTPResponse, _ what: String) -> ObjectStoreError {
        let error = S3XML(response.body).error
        let code = error?.code ?? ""
        let detail = error.map { "\($0.code)\($0.message.isEmpty ? "" : ": \($0.message)")" } ?? "HTTP \(response.status)"
        let prefix = "\(location): cannot \(what)"
        switch (response.status, code) {
        case (403, "SignatureDoesNotMatch"):
            return ObjectStoreError(.permissionDenied, "\(prefix): the store rejected the request signature (\(code)): the secret access key does not match \(configuration.credentials); check AWS_SECRET_ACCESS_KEY or the profile in ~/.aws/credentials")
        case (403, "InvalidAccessKeyId"):
            return ObjectStoreError(.permissionDenied, "\(prefix): the store does not know \(configuration.credentials) (\(code)); check AWS_ACCESS_KEY_ID or the profile")
        case (403, "RequestTimeTooSkewed"):
            return ObjectStoreError(.permissionDenied, "\(prefix): this machine's clock is too far from the store's (\(code)); fix the clock (NTP)")
        case (403, _):
            let locked = objectLock != nil && what.hasPrefix("delete") ? " (the object may be under Object Lock retention)" : ""
            return ObjectStoreError(.permissionDenied, "\(prefix): access denied (\(detail))\(locked); check the credentials' permissions on bucket \(configuration.bucket)")
        case (404, "NoSuchBucket"):
            return ObjectStoreError(.notFound, "\(prefix): bucket '\(configuration.bucket)' does not exist at \(configuration.endpoint); check the URL, or create the bucket ('lifeboat init' creates it for a new repository; for a new region of an existing one, create the empty bucket and run 'lifeboat replicate')")
        case (404, _):
            return ObjectStoreError(.notFound, "\(prefix): not found (\(detail))")
        case (301, _), (307, _), (400, "AuthorizationHeaderMalformed"), (400, "IllegalLocationConstraintException"):
            let region = response.header("x-amz-bucket-region").map { " is in region \($0); add ?region=\($0) to the URL" } ?? " is elsewhere; check the region and endpoint"
            return ObjectStoreError(.invalidLocation, "\(prefix): bucket '\(configuration.bucket)'\(region) (\(detail))")
        case (412, _):
            return ObjectStoreError(.alreadyExists, "\(prefix): it already exists")
        case (416, _):
            return ObjectStoreError(.shortRead, "\(prefix): the range is beyond the end of the object")
        case (507, _), (_, "QuotaExceeded"), (_, "InsufficientStorage"), (_, "EntityTooLarge"):
            return ObjectStoreError(.noSpace, "\(prefix): the store is out of space or quota (\(detail)); free space or raise the quota, then run again")
        default:
            return ObjectStoreError(.io, "\(prefix): HTTP \(response.status) (\(detail))")
        }
    }

    /// Whether a 2xx answer is really an S3 error document. A GET's body is the object itself,
    /// which Lifeboat writes as application/octet-stream: an XML body there is the store's.
    private static func isErrorBody(_ response: HTTPResponse, method: String) -> Bool {
        switch method {
        case "HEAD":
            return false
        case "GET":
            return response.header("content-type")?.contains("xml") == true
        default:
            return true
        }
    }

    /// 409 only with ConditionalRequestConflict (two conditional writes at once), in the codes.
    private static let retryableStatuses: Set<Int> = [408, 429, 500, 502, 503, 504]
    private static let retryableCodes: Set<String> = [
        "SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable", "Throttling", "ThrottlingException",
        "RequestThrottled", "TooManyRequests", "ConditionalRequestConflict",
    ]
    private static let emptyPayloadHash = SHA256.hash([UInt8]()).hex

    /// `Retry-After` as seconds or as an HTTP date.
    private static func parseRetryAfter(_ value: String) -> Double? {
        if let seconds = Double(value.filter { $0 != " " }) { return max(0, seconds) }
        guard let date = SigningDate.parseHTTPDate(value) else { return nil }
        return Double(max(0, date.secondsSince1970 - SigningDate.now().secondsSince1970))
    }
}

private func base64(_ bytes: some Collection<UInt8>) -> String {
    Data(bytes).base64EncodedString()
}

private func hex(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var text: [UInt8] = []
    text.reserveCapacity(bytes.count * 2)
    for byte in bytes {
        text.append(digits[Int(byte >> 4)])
        text.append(digits[Int(byte & 15)])
    }
    return String(decoding: text, as: UTF8.self)
}

private func md5(_ bytes: [UInt8]) -> [UInt8] {
    bytes.withUnsafeBytes { md5($0) }
}

private func md5(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
    var digest = [UInt8](repeating: 0, count: 16)
    var length: UInt32 = 0
    _ = digest.withUnsafeMutableBytes { out in
        EVP_Digest(bytes.baseAddress, bytes.count, out.baseAddress?.assumingMemoryBound(to: UInt8.self), &length, EVP_md5(), nil)
    }
    return digest
}

extension String {
    fileprivate func trimmingQuotes() -> String {
        var slice = Substring(self)
        if slice.hasPrefix("W/") { slice = slice.dropFirst(2) }
        while slice.first == "\"" { slice.removeFirst() }
        while slice.last == "\"" { slice.removeLast() }
        return String(slice)
    }
}
