import Glibc
import ObjectStore
import Testing

/// The `lifeboat` binary on `s3://` repositories in a real SeaweedFS: the core commands, faults
/// during backup and restore, and Object Lock against a delete attempt.
@Suite("S3 repositories")
struct S3RepositoryTests {
    /// The environment that points `lifeboat` at `url` with the backup identity's keys.
    static func environment(_ server: SeaweedFS, url: String) -> [String: String?] {
        ["LIFEBOAT_REPOSITORY": url, "AWS_ACCESS_KEY_ID": server.backup.accessKey,
         "AWS_SECRET_ACCESS_KEY": server.backup.secretKey]
    }

    /// A small tree with a few MiB of random data in several files.
    static func makeTree(at source: String, seed: UInt64) throws {
        try makeDirectories(source + "/sub")
        try writeFile(source + "/a.bin", randomBytes(3 << 20, seed: seed))
        try writeFile(source + "/sub/b.bin", randomBytes(700_000, seed: seed + 1))
        try writeFile(source + "/sub/c.txt", "hello, S3\n")
    }

    @Test("init, backup, restore, check and an unchanged second backup on S3")
    func roundTrip() throws {
        try Sandbox.with { sandbox in
            let server = try SeaweedFS.start(in: sandbox.path("s3"), buckets: ["repos"])
            defer { server.stop() }
            let env = Self.environment(server, url: "s3://repos/round?endpoint=\(server.endpoint)")
            let source = sandbox.path("source")
            try Self.makeTree(at: source, seed: 21)
            #expect(try sandbox.run(["init", "--kdf-log-n", "14"], env: env).status == 0)
            let first = try sandbox.backup([source], env: env)
            #expect(first.filesNew == 3)
            let second = try sandbox.backup([source], env: env)
            #expect(second.filesUnmodified == 3)
            #expect(second.dataBlobs == 0, "only directory metadata (of /tmp, which other tests touch) is new")
            let restored = sandbox.path("restored")
            let restore = try sandbox.run(["restore", "latest", "--target", restored], env: env)
            #expect(restore.status == 0, "\(restore)")
            #expect(try treeDifferences(source, restored + source) == [])
            let check = try sandbox.run(["check", "--read-data", "--json"], env: env)
            #expect(check.status == 0, "\(check)")
            #expect(try check.message("summary", as: CheckSummary.self).errors.isEmpty)
        }
    }

    @Test("a backup and a restore through a faulty network give back every byte, and check stays clean")
    func throughFaults() throws {
        try Sandbox.with { sandbox in
            let server = try SeaweedFS.start(in: sandbox.path("s3"), buckets: ["repos"])
            defer { server.stop() }
            let proxy = try FaultProxy.start(upstreamPort: server.s3Port, in: sandbox.path("s3"))
            defer { proxy.stop() }
            let viaProxy = Self.environment(server, url: "s3://repos/faulty?endpoint=\(proxy.endpoint)&stall-timeout=2")
            let direct = Self.environment(server, url: "s3://repos/faulty?endpoint=\(server.endpoint)")
            let source = sandbox.path("source")
            try Self.makeTree(at: source, seed: 31)
            #expect(try sandbox.run(["init", "--kdf-log-n", "14"], env: viaProxy).status == 0)

            // Writes: one of each kind of fault, spread over packs, index and snapshot.
            try proxy.inject([
                FaultRule(fault: "slowdown", method: "PUT", path: "/data/", times: 1, retryAfter: 1),
                FaultRule(fault: "reset_before_headers", method: "PUT", path: "/data/", times: 1, skip: 1),
                FaultRule(fault: "lost_response", method: "PUT", path: "/index/", times: 1),
                FaultRule(fault: "ok_error_body", method: "PUT", path: "/snapshots/", times: 1),
                FaultRule(fault: "error500", method: "GET", path: nil, times: 1),
            ])
            try sandbox.backup([source], env: viaProxy)
            #expect(try proxy.stats().faults.count >= 4)

            // Reads: range reads of packs damaged, cut and stalled on the way.
            try proxy.clear()
            try proxy.resetStats()
            try proxy.inject([
                FaultRule(fault: "corrupt_body", method: "GET", path: "/data/", times: 1),
                FaultRule(fault: "truncate_body", method: "GET", path: "/data/", times: 1),
                FaultRule(fault: "reset_mid_body", method: "GET", path: "/tree/", times: 1),
                FaultRule(fault: "stall", method: "GET", path: "/index/", times: 1, seconds: 5),
            ])
            let restored = sandbox.path("restored")
            let restore = try sandbox.run(["restore", "latest", "--target", restored], env: viaProxy)
            #expect(restore.status == 0, "\(restore)")
            #expect(try treeDifferences(source, restored + source) == [])
            let readFaults = try proxy.stats()
            #expect(readFaults.faults.count == 4, "\(readFaults.faults) \(readFaults.log.map { "\($0.method) \($0.path) \($0.status ?? 0)" })")

            let check = try sandbox.run(["check", "--read-data", "--json"], env: direct)
            #expect(check.status == 0, "\(check)")
            let summary = try check.message("summary", as: CheckSummary.self)
            #expect(summary.errors.isEmpty)
            #expect(summary.hints.isEmpty, "no orphaned or duplicate objects")
            #expect(try sandbox.snapshots(env: direct).count == 1)
        }
    }

    @Test("init warns when the store ignores If-None-Match (create-only writes), and not otherwise")
    func createOnlyDetection() throws {
        try Sandbox.with { sandbox in
            let server = try SeaweedFS.start(in: sandbox.path("s3"), buckets: ["repos"])
            defer { server.stop() }
            let proxy = try FaultProxy.start(upstreamPort: server.s3Port, in: sandbox.path("s3"))
            defer { proxy.stop() }
            let honest = try sandbox.run(["init", "--kdf-log-n", "14"],
                                         env: Self.environment(server, url: "s3://repos/honest?endpoint=\(proxy.endpoint)"))
            #expect(honest.status == 0, "\(honest)")
            #expect(!honest.err.contains("create-only"))

            try proxy.inject([FaultRule(fault: "ignore_precondition", method: "PUT", path: "/repos/lax/config", times: -1)])
            let lax = try sandbox.run(["init", "--kdf-log-n", "14"],
                                      env: Self.environment(server, url: "s3://repos/lax?endpoint=\(proxy.endpoint)"))
            #expect(lax.status == 0, "\(lax)")
            #expect(lax.err.contains("does not enforce create-only writes"), "\(lax)")
        }
    }

    @Test("init refuses a prefix that holds objects or lies inside another repository")
    func initNeedsRoom() throws {
        try Sandbox.with { sandbox in
            let server = try SeaweedFS.start(in: sandbox.path("s3"), buckets: ["repos"])
            defer { server.stop() }
            let url = "s3://repos/outer?endpoint=\(server.endpoint)"
            #expect(try sandbox.run(["init", "--kdf-log-n", "14"], env: Self.environment(server, url: url)).status == 0)
            let again = try sandbox.run(["init", "--kdf-log-n", "14"], env: Self.environment(server, url: url))
            #expect(again.status == 1)
            #expect(again.err.contains("already holds objects"), "\(again)")
            let nested = try sandbox.run(["init", "--kdf-log-n", "14"],
                                         env: Self.environment(server, url: "s3://repos/outer/inner?endpoint=\(server.endpoint)"))
            #expect(nested.status == 1)
            #expect(nested.err.contains("is inside the repository at s3://repos/outer"), "\(nested)")
            let beside = try sandbox.run(["init", "--kdf-log-n", "14"],
                                         env: Self.environment(server, url: "s3://repos/outer-2?endpoint=\(server.endpoint)"))
            #expect(beside.status == 0, "a neighbouring prefix is fine: \(beside)")
        }
    }

    @Test("a wrong secret key is a clear authentication error")
    func wrongSecret() throws {
        try Sandbox.with { sandbox in
            let server = try SeaweedFS.start(in: sandbox.path("s3"), buckets: ["repos"])
            defer { server.stop() }
            var env = Self.environment(server, url: "s3://repos/auth?endpoint=\(server.endpoint)")
            #expect(try sandbox.run(["init", "--kdf-log-n", "14"], env: env).status == 0)
            env["AWS_SECRET_ACCESS_KEY"] = "wrong-secret-value"
            let result = try sandbox.run(["snapshots"], env: env)
            #expect(result.status == 1)
            #expect(result.err.contains("secret access key does not match"))
            #expect(!result.err.contains("wrong-secret-value"))
        }
    }

    @Test("an Object Lock repository survives a delete attempt made with the backup's own credentials")
    func objectLockSurvivesDeletion() throws {
        try Sandbox.with { sandbox in
            let server = try SeaweedFS.start(in: sandbox.path("s3"))
            defer { server.stop() }
            let url = "s3://locked-repo/r?endpoint=\(server.endpoint)&lock-mode=compliance&lock-days=1"
            let env = Self.environment(server, url: url)
            let source = sandbox.path("source")
            try Self.makeTree(at: source, seed: 41)
            try server.createBucket("locked-repo", objectLock: true)
            #expect(try sandbox.run(["init", "--kdf-log-n", "14"], env: env).status == 0)
            try sandbox.backup([source], env: env)

            // Every object is locked; renewing moves every lock later.
            let shown = try sandbox.run(["retention", "--json"], env: env)
            #expect(shown.status == 0, "\(shown)")
            let before = try shown.message("summary", as: RetentionSummary.self)
            #expect(before.objects >= 6 && before.locked == before.objects && before.unlocked == 0)
            sleep(2)  // retain-until dates have whole seconds: make "now + 1 day" later than every lock
            let renewed = try sandbox.run(["retention", "--extend", "--within", "2", "--json"], env: env)
            #expect(renewed.status == 0, "\(renewed)")
            let after = try renewed.message("summary", as: RetentionSummary.self)
            #expect(after.extended == before.objects && after.failures.isEmpty)
            #expect(try #require(after.earliestRetainUntil) > #require(before.earliestRetainUntil))

            // The attacker holds the backup's keys: delete every version, then every object.
            let attacker = try S3StoreTests.store(server, bucket: "locked-repo", prefix: "r")
            let versions = try attacker.versions(prefix: "")
            #expect(versions.count >= 6, "config, key, packs, index, snapshot")
            var refused = 0
            for version in versions {
                do {
                    try attacker.deleteVersion(version.key, versionID: version.versionID)
                } catch let error as ObjectStoreError where error.code == .permissionDenied {
                    refused += 1
                }
            }
            #expect(refused == versions.count, "every locked version refused deletion")
            for object in try attacker.list(prefix: "") {
                try attacker.delete(object.key)  // a plain DELETE only adds a delete marker
            }
            let hidden = try sandbox.run(["snapshots"], env: env)
            #expect(hidden.status == 10, "hidden behind delete markers")
            #expect(hidden.err.contains("lifeboat undelete"), "\(hidden)")
            let reinit = try sandbox.run(["init", "--kdf-log-n", "14"], env: env)
            #expect(reinit.status == 1, "init must not bury the deleted repository")
            #expect(reinit.err.contains("holds a deleted repository"), "\(reinit)")

            // Recovery: remove the markers; everything restores and checks clean.
            let undelete = try sandbox.run(["undelete"], env: env)
            #expect(undelete.status == 0, "\(undelete)")
            let restored = sandbox.path("restored")
            #expect(try sandbox.run(["restore", "latest", "--target", restored], env: env).status == 0)
            #expect(try treeDifferences(source, restored + source) == [])
            #expect(try sandbox.run(["check", "--read-data"], env: env).status == 0)
        }
    }
}

/// The summary of `lifeboat retention --json`.
struct RetentionSummary: Decodable {
    var objects: Int
    var locked: Int
    var unlocked: Int
    var extended: Int
    var earliestRetainUntil: String?
    var failures: [String]

    enum CodingKeys: String, CodingKey {
        case objects, locked, unlocked, extended, earliestRetainUntil = "earliest_retain_until", failures
    }
}
