import Dispatch
import Glibc
import Synchronization
import ObjectStore
import Sealing
import Testing

/// The S3 store against a real SeaweedFS: every operation of the ObjectStore protocol, the
/// S3-only ones (multipart, Object Lock, versions), and the errors a user meets.
@Suite("S3 store")
struct S3StoreTests {
    /// A store for `bucket/prefix` on `server`, with the backup identity's keys.
    static func store(_ server: SeaweedFS, bucket: String, prefix: String = "repo", options: String = "",
                      secret: String? = nil, asAdmin: Bool = false, adjust: (inout S3Configuration) -> Void = { _ in }) throws -> S3Store {
        let environment = S3Environment(variables: [
            "AWS_ACCESS_KEY_ID": asAdmin ? server.admin.accessKey : server.backup.accessKey,
            "AWS_SECRET_ACCESS_KEY": secret ?? (asAdmin ? server.admin.secretKey : server.backup.secretKey),
        ], homeDirectory: nil)
        var configuration = try S3Configuration.parse("s3://\(bucket)/\(prefix)?endpoint=\(server.endpoint)\(options)", environment: environment)
        adjust(&configuration)
        return S3Store(configuration: configuration)
    }

    @Test("put, get, ranges, size, list and delete round-trip")
    func roundTrip() throws {
        try withServerDirectory { directory in
            let server = try SeaweedFS.start(in: directory, buckets: ["plain"])
            defer { server.stop() }
            let store = try Self.store(server, bucket: "plain")
            let bytes = randomBytes(300_000, seed: 7)
            try store.put(bytes, as: "data/ab/object")
            #expect(try store.get("data/ab/object") == bytes)
            #expect(try store.get("data/ab/object", range: 1000..<5000) == Array(bytes[1000..<5000]))
            #expect(try store.size(of: "data/ab/object") == bytes.count)
            #expect(try store.size(of: "data/ab/absent") == nil)
            #expect(throws: ObjectStoreError(.notFound, "")) { try store.get("data/ab/absent") }
            #expect(throws: ObjectStoreError(.shortRead, "")) { try store.get("data/ab/object", range: 299_000..<301_000) }
            #expect(try store.list(prefix: "data/") == [ObjectInfo(key: "data/ab/object", size: bytes.count)])
            try store.delete("data/ab/object")
            try store.delete("data/ab/object")  // deleting an absent object is fine
            #expect(try store.size(of: "data/ab/object") == nil)
        }
    }

    @Test("writes are create-only: a second put fails and leaves the first")
    func createOnly() throws {
        try withServerDirectory { directory in
            let server = try SeaweedFS.start(in: directory, buckets: ["plain"])
            defer { server.stop() }
            let store = try Self.store(server, bucket: "plain")
            try store.put(Array("first".utf8), as: "snapshots/one")
            #expect(throws: ObjectStoreError(.alreadyExists, "")) { try store.put(Array("second".utf8), as: "snapshots/one") }
            #expect(try store.get("snapshots/one") == Array("first".utf8))
        }
    }

    @Test("listing pages through more keys than one page holds, under the repository prefix only")
    func pagination() throws {
        try withServerDirectory { directory in
            let server = try SeaweedFS.start(in: directory, buckets: ["plain"])
            defer { server.stop() }
            let store = try Self.store(server, bucket: "plain") { $0.listPageSize = 7 }
            let neighbour = try Self.store(server, bucket: "plain", prefix: "repo-other")
            try neighbour.put([1], as: "index/x")
            var expected = Set<ObjectInfo>()
            for number in 0..<23 {
                try store.put([UInt8](repeating: UInt8(number), count: number), as: "index/\(number)")
                expected.insert(ObjectInfo(key: "index/\(number)", size: number))
            }
            let listed = try store.list(prefix: "index/")
            #expect(listed.count == 23)
            #expect(Set(listed) == expected)
        }
    }

    @Test("large objects go up in parts and come back whole; nothing unfinished is left")
    func multipart() throws {
        try withServerDirectory { directory in
            let server = try SeaweedFS.start(in: directory, buckets: ["plain"])
            defer { server.stop() }
            let store = try Self.store(server, bucket: "plain", options: "&multipart-threshold=5&part-size=5")
            let bytes = randomBytes(12 << 20, seed: 9)
            try store.put(bytes, as: "data/cd/big")
            #expect(try store.get("data/cd/big") == bytes)
            #expect(try store.get("data/cd/big", range: (11 << 20)..<(12 << 20)) == Array(bytes[(11 << 20)...]))
            #expect(throws: ObjectStoreError(.alreadyExists, "")) { try store.put(bytes, as: "data/cd/big") }
            #expect(try store.unfinishedUploads().isEmpty)
        }
    }

    @Test("an upload a writer left unfinished is found and aborted once it is old enough")
    func staleUploads() throws {
        try withServerDirectory { directory in
            let server = try SeaweedFS.start(in: directory, buckets: ["plain"])
            defer { server.stop() }
            let store = try Self.store(server, bucket: "plain")
            let started = try server.request("POST", "/plain/repo/data/ab/left-behind?uploads=", as: server.backup)
            #expect(started.status == 200, "\(started.text)")
            let uploads = try store.unfinishedUploads()
            #expect(uploads.map(\.key) == ["data/ab/left-behind"])
            #expect(try store.abortStaleUploads(olderThan: 3600) == 0, "a fresh upload may belong to a running backup")
            sleep(2)
            #expect(try store.abortStaleUploads(olderThan: 1) == 1)
            #expect(try store.unfinishedUploads().isEmpty)
        }
    }

    @Test("the bandwidth limits hold over all transfers together")
    func bandwidthLimits() throws {
        try withServerDirectory { directory in
            let server = try SeaweedFS.start(in: directory, buckets: ["plain"])
            defer { server.stop() }
            // 1 MiB/s each way; three 1 MiB objects in parallel must take about 3 s, not 1 s.
            let store = try Self.store(server, bucket: "plain", options: "&upload-limit=1024&download-limit=1024")
            let objects = (0..<3).map { randomBytes(1 << 20, seed: 100 + UInt64($0)) }
            let upload: @Sendable (Int) throws -> Void = { number in try store.put(objects[number], as: "data/bw/\(number)") }
            let download: @Sendable (Int) throws -> Void = { number in _ = try store.get("data/bw/\(number)") }
            for (direction, work) in [("upload", upload), ("download", download)] {
                let started = monotonicSeconds()
                let failures = Mutex(0)
                runTestThreads(3) { number in
                    do { try work(number) } catch { failures.withLock { $0 += 1 } }
                }
                let elapsed = monotonicSeconds() - started
                #expect(failures.withLock { $0 } == 0)
                // Lower bound only: a busy machine can make it slower, never faster.
                #expect(elapsed >= 2.5, "\(direction) of 3 MiB at 1 MiB/s took \(elapsed) s")
            }
        }
    }

    @Test("a wrong secret key gives an authentication error that names the fix and not the secret")
    func wrongSecret() throws {
        try withServerDirectory { directory in
            let server = try SeaweedFS.start(in: directory, buckets: ["plain"])
            defer { server.stop() }
            let store = try Self.store(server, bucket: "plain", secret: "not-the-secret-value")
            do {
                _ = try store.get("config")
                Issue.record("a wrong secret was accepted")
            } catch let error as ObjectStoreError {
                #expect(error.code == .permissionDenied)
                #expect(error.message.contains("secret access key"))
                #expect(error.message.contains("AWS_SECRET_ACCESS_KEY"))
                #expect(!error.message.contains("not-the-secret-value"))
                #expect(!error.message.contains(server.backup.secretKey))
            }
        }
    }

    @Test("an unreachable endpoint is reported as unavailable after the configured attempts")
    func unreachable() throws {
        let port = try freeLoopbackPorts(1)[0]
        let environment = S3Environment(variables: ["AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s"], homeDirectory: nil)
        let store = S3Store(configuration: try S3Configuration.parse("s3://bucket/p?endpoint=http://127.0.0.1:\(port)&retries=3", environment: environment))
        do {
            _ = try store.size(of: "config")
            Issue.record("nothing listens there, yet the request succeeded")
        } catch let error as ObjectStoreError {
            #expect(error.code == .unavailable)
            #expect(error.message.contains("after 3 attempts"))
        }
    }

    @Test("Object Lock: retention is set on upload, deletes are refused, retention can be extended")
    func objectLock() throws {
        try withServerDirectory { directory in
            let server = try SeaweedFS.start(in: directory, buckets: ["plain-bucket"])
            defer { server.stop() }
            try server.createBucket("locked", objectLock: true)
            let store = try Self.store(server, bucket: "locked", options: "&lock-mode=compliance&lock-days=2")
            #expect(try Self.store(server, bucket: "locked", asAdmin: true).bucketHasObjectLock())
            #expect(try !Self.store(server, bucket: "plain-bucket", asAdmin: true).bucketHasObjectLock())
            try store.put(Array("keep me".utf8), as: "data/ef/pack")
            let retention = try #require(try store.retention(of: "data/ef/pack"))
            #expect(retention.mode == .compliance)
            let expected = SigningDate.now().secondsSince1970 + 2 * 86_400
            #expect(abs(retention.retainUntil.secondsSince1970 - expected) < 120)

            #expect(throws: ObjectStoreError(.permissionDenied, "")) { try store.delete("data/ef/pack") }
            #expect(try store.get("data/ef/pack") == Array("keep me".utf8))

            let later = SigningDate(secondsSince1970: expected + 5 * 86_400)
            try store.extendRetention(of: "data/ef/pack", until: later, mode: .compliance)
            #expect(try store.retention(of: "data/ef/pack")?.retainUntil.secondsSince1970 == later.secondsSince1970)
            // Shortening is refused by the store.
            #expect(throws: ObjectStoreError(.permissionDenied, "")) {
                try store.extendRetention(of: "data/ef/pack", until: SigningDate(secondsSince1970: expected), mode: .compliance)
            }
        }
    }
}

/// A temporary directory for a server's data, removed afterwards.
func withServerDirectory<R>(_ body: (String) throws -> R) throws -> R {
    let directory = try temporaryDirectory(prefix: "lifeboat-s3")
    defer { removeTree(directory) }
    return try body(directory)
}

/// Runs `body(index)` on `count` threads at once and waits for all of them.
func runTestThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let group = DispatchGroup()
    for index in 0..<count {
        group.enter()
        DispatchQueue(label: "test.\(index)").async {
            body(index)
            group.leave()
        }
    }
    group.wait()
}
