import Glibc
import Testing

/// Two SeaweedFS servers as two regions (DESIGN §3): a backup that fans out, a region lost
/// mid-life, and replication that brings it back level.
@Suite("S3 regions")
struct S3RegionTests {
    @Test("region b goes down: backup completes in a with exit 4, regions shows the lag, replicate closes it, restore reads b")
    func lostRegion() throws {
        try Sandbox.with { sandbox in
            let serverA = try SeaweedFS.start(in: sandbox.path("s3-a"), buckets: ["region-a"])
            defer { serverA.stop() }
            let serverB = try SeaweedFS.start(in: sandbox.path("s3-b"), buckets: ["region-b"])
            defer { serverB.stop() }
            // One identity for both servers would be usual; here each has its own keys, so
            // each URL names a profile of the shared credentials file.
            try makeDirectories(sandbox.root + "/.aws")
            try writeFile(sandbox.root + "/.aws/credentials", """
                [a]
                aws_access_key_id = \(serverA.backup.accessKey)
                aws_secret_access_key = \(serverA.backup.secretKey)
                [b]
                aws_access_key_id = \(serverB.backup.accessKey)
                aws_secret_access_key = \(serverB.backup.secretKey)

                """, mode: 0o600)
            let repos = ["--repo", "a=s3://region-a/app?endpoint=\(serverA.endpoint)&profile=a",
                         "--repo", "b=s3://region-b/app?endpoint=\(serverB.endpoint)&profile=b&retries=2"]
            let env: [String: String?] = ["LIFEBOAT_REPOSITORY": nil]
            let initialized = try sandbox.run(["init", "--kdf-log-n", "14"] + repos, env: env)
            #expect(initialized.status == 0, "\(initialized)")

            let source = sandbox.path("src")
            try S3RepositoryTests.makeTree(at: source, seed: 51)
            let first = try sandbox.run(["backup", "--json", source] + repos, env: env)
            #expect(first.status == 0, "\(first)")
            #expect(try first.message("summary", as: RegionBackupSummary.self).regions.map(\.status) == ["ok", "ok"])

            serverB.kill()
            try writeFile(source + "/later.bin", randomBytes(500_000, seed: 52))
            let down = try sandbox.run(["backup", "--json", source] + repos, env: env)
            #expect(down.status == 4, "\(down)")
            let summary = try down.message("summary", as: RegionBackupSummary.self)
            #expect(summary.regions.map(\.status) == ["ok", "unreachable"])

            try serverB.restart()
            let lagging = try sandbox.run(["regions", "--json"] + repos, env: env)
            #expect(lagging.status == 0, "\(lagging)")
            let before = try lagging.message("summary", as: RegionsReport.self)
            #expect(before.regions[0].snapshotsMissing == 0)
            #expect(before.regions[1].snapshotsMissing == 1)
            #expect((before.regions[1].lagSeconds ?? 0) > 0)

            let replicated = try sandbox.run(["replicate", "--from", "a", "--to", "b", "--json"] + repos,
                                             env: ["LIFEBOAT_REPOSITORY": nil, "LIFEBOAT_PASSWORD": nil])
            #expect(replicated.status == 0, "\(replicated)")
            #expect(try replicated.message("summary", as: ReplicateSummary.self).regions[0].snapshotsCopied == 1)

            let level = try sandbox.run(["regions", "--json"] + repos, env: env)
            let after = try level.message("summary", as: RegionsReport.self)
            #expect(after.regions.map(\.lagSeconds) == [0, 0])
            #expect(after.regions[1].newestComplete?.id == summary.snapshotID)

            let target = sandbox.path("restored")
            let restored = try sandbox.run(["restore", "latest", "--region", "b", "--target", target] + repos, env: env)
            #expect(restored.status == 0, "\(restored)")
            #expect(try treeDifferences(source, target + source) == [])
            #expect(try sandbox.run(["check", "--read-data", "--region", "b"] + repos, env: env).status == 0)
        }
    }
}
