import Glibc
import ObjectStore
import Sealing
import Testing

/// Every fault of the in-repository proxy (tests/tools/s3-fault-proxy.py) between the S3 store
/// and a real SeaweedFS: the operation either succeeds or fails cleanly, and the store holds
/// exactly what it should afterwards.
@Suite("S3 faults", .serialized)
struct S3FaultTests {
    /// A store that talks to SeaweedFS through `proxy`, with short stall detection.
    static func store(through proxy: FaultProxy, _ server: SeaweedFS, prefix: String, options: String = "") throws -> S3Store {
        let environment = S3Environment(variables: [
            "AWS_ACCESS_KEY_ID": server.backup.accessKey,
            "AWS_SECRET_ACCESS_KEY": server.backup.secretKey,
        ], homeDirectory: nil)
        return S3Store(configuration: try S3Configuration.parse(
            "s3://faults/\(prefix)?endpoint=\(proxy.endpoint)&stall-timeout=2\(options)", environment: environment))
    }

    /// A direct store (no proxy) on the same prefix, to see what really landed.
    static func direct(_ server: SeaweedFS, prefix: String) throws -> S3Store {
        try S3StoreTests.store(server, bucket: "faults", prefix: prefix)
    }

    static func withProxy(_ body: (SeaweedFS, FaultProxy) throws -> Void) throws {
        try withServerDirectory { directory in
            let server = try SeaweedFS.start(in: directory, buckets: ["faults"])
            defer { server.stop() }
            let proxy = try FaultProxy.start(upstreamPort: server.s3Port, in: directory)
            defer { proxy.stop() }
            try body(server, proxy)
        }
    }

    /// Faults a write recovers from by retrying; the object lands once, with the right bytes.
    static let recoverableWriteFaults = ["slowdown", "error500", "reset_before_headers", "reset_after_headers",
                                         "ok_error_body", "lost_response"]
    /// Faults a whole-object read recovers from: the store checks the length and the checksum.
    static let recoverableReadFaults = ["slowdown", "error500", "reset_before_headers", "reset_after_headers",
                                        "reset_mid_body", "truncate_body", "corrupt_body", "stall", "ok_error_body"]

    @Test("writes survive every fault", arguments: recoverableWriteFaults)
    func write(fault: String) throws {
        try Self.withProxy { server, proxy in
            let store = try Self.store(through: proxy, server, prefix: "w-\(fault)")
            let bytes = randomBytes(200_000, seed: 11)
            try proxy.inject([FaultRule(fault: fault, method: "PUT", path: "/faults/w-\(fault)/data/", times: 2, retryAfter: 1)])
            try store.put(bytes, as: "data/00/pack")
            let stats = try proxy.stats()
            // A reset after the headers of an answer without a body (a PUT's) is a complete
            // answer: the first attempt succeeds and the second fault never fires.
            #expect(stats.faults.count == (fault == "reset_after_headers" ? 1 : 2))
            #expect(try Self.direct(server, prefix: "w-\(fault)").get("data/00/pack") == bytes)
        }
    }

    @Test("whole-object reads survive every fault", arguments: recoverableReadFaults)
    func read(fault: String) throws {
        try Self.withProxy { server, proxy in
            let store = try Self.store(through: proxy, server, prefix: "r-\(fault)")
            let bytes = randomBytes(1 << 20, seed: 12)
            try store.put(bytes, as: "index/one")
            try proxy.inject([FaultRule(fault: fault, method: "GET", path: "/faults/r-\(fault)/index/one", times: 1, seconds: 5)])
            #expect(try store.get("index/one") == bytes)
            #expect(try proxy.stats().faults.count == 1)
        }
    }

    @Test("range reads survive resets, truncation and stalls", arguments: ["reset_mid_body", "truncate_body", "stall", "slowdown", "ok_error_body"])
    func rangeRead(fault: String) throws {
        try Self.withProxy { server, proxy in
            let store = try Self.store(through: proxy, server, prefix: "g-\(fault)")
            let bytes = randomBytes(1 << 20, seed: 13)
            try store.put(bytes, as: "data/11/pack")
            try proxy.inject([FaultRule(fault: fault, method: "GET", path: "/faults/g-\(fault)/data/11/pack", times: 1, seconds: 5)])
            #expect(try store.get("data/11/pack", range: 4096..<(900 << 10)) == Array(bytes[4096..<(900 << 10)]))
            #expect(try proxy.stats().faults.count == 1)
        }
    }

    @Test("a create whose answer was lost, retried, meets its own object (412) and succeeds")
    func retriedCreateMeetsItself() throws {
        try Self.withProxy { server, proxy in
            let store = try Self.store(through: proxy, server, prefix: "c")
            let bytes = Array("snapshot".utf8)
            try proxy.inject([FaultRule(fault: "lost_response", method: "PUT", path: "/faults/c/snapshots/", times: 1)])
            try store.put(bytes, as: "snapshots/aa")
            let log = try proxy.stats().log.filter { $0.method == "PUT" }
            #expect(log.map(\.status).contains(412), "the retry met the first attempt's object")
            #expect(try Self.direct(server, prefix: "c").get("snapshots/aa") == bytes)
        }
    }

    @Test("a create that meets another writer's different object (412) fails as already-exists")
    func createMeetsOther() throws {
        try Self.withProxy { server, proxy in
            let store = try Self.store(through: proxy, server, prefix: "d")
            try Self.direct(server, prefix: "d").put(Array("theirs".utf8), as: "snapshots/bb")
            try proxy.inject([FaultRule(fault: "lost_response", method: "PUT", path: "/faults/d/snapshots/", times: 1)])
            #expect(throws: ObjectStoreError(.alreadyExists, "")) { try store.put(Array("ours".utf8), as: "snapshots/bb") }
            #expect(try Self.direct(server, prefix: "d").get("snapshots/bb") == Array("theirs".utf8))
        }
    }

    @Test("an injected 412 on a first attempt is already-exists, never an overwrite")
    func conflictOnFirstAttempt() throws {
        try Self.withProxy { server, proxy in
            let store = try Self.store(through: proxy, server, prefix: "e")
            try proxy.inject([FaultRule(fault: "conflict412", method: "PUT", path: "/faults/e/", times: 1)])
            #expect(throws: ObjectStoreError(.alreadyExists, "")) { try store.put([1, 2, 3], as: "keys/k") }
            #expect(try Self.direct(server, prefix: "e").size(of: "keys/k") == nil)
        }
    }

    @Test("a store that keeps failing fails cleanly after the configured attempts")
    func persistentFailure() throws {
        try Self.withProxy { server, proxy in
            let store = try Self.store(through: proxy, server, prefix: "f", options: "&retries=3")
            try proxy.inject([FaultRule(fault: "error500", method: "PUT", path: nil, times: 100)])
            do {
                try store.put([7], as: "data/22/pack")
                Issue.record("a write succeeded although every attempt failed")
            } catch let error as ObjectStoreError {
                #expect(error.code == .io)
                #expect(error.message.contains("after 3 attempts"))
            }
            #expect(try proxy.stats().faults.count == 3)
            try proxy.clear()
            #expect(try Self.direct(server, prefix: "f").size(of: "data/22/pack") == nil)
        }
    }

    @Test("a large upload that cannot complete is aborted: no parts are left behind")
    func multipartAborted() throws {
        try Self.withProxy { server, proxy in
            let store = try Self.store(through: proxy, server, prefix: "n", options: "&multipart-threshold=5&part-size=5&retries=2")
            try proxy.inject([FaultRule(fault: "error500", method: "POST", path: "uploadId=", times: -1)])
            #expect(throws: ObjectStoreError(.io, "")) { try store.put(randomBytes(11 << 20, seed: 15), as: "data/44/pack") }
            try proxy.clear()
            #expect(try store.unfinishedUploads().isEmpty, "the failed upload was aborted")
            #expect(try Self.direct(server, prefix: "n").size(of: "data/44/pack") == nil)
        }
    }

    @Test("a large upload survives faults on its parts and on its completion")
    func multipartFaults() throws {
        try Self.withProxy { server, proxy in
            let store = try Self.store(through: proxy, server, prefix: "m", options: "&multipart-threshold=5&part-size=5")
            let bytes = randomBytes(11 << 20, seed: 14)
            try proxy.inject([
                FaultRule(fault: "reset_before_headers", method: "PUT", path: "partNumber=2", times: 1),
                FaultRule(fault: "ok_error_body", method: "POST", path: "uploadId=", times: 1),
            ])
            try store.put(bytes, as: "data/33/pack")
            #expect(try proxy.stats().faults.count == 2)
            #expect(try Self.direct(server, prefix: "m").get("data/33/pack") == bytes)
            #expect(try store.unfinishedUploads().isEmpty)
        }
    }
}
