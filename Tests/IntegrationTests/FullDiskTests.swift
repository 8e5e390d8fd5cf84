import Glibc
import Testing

@Suite("Full disk")
struct FullDiskTests {
    /// The repository lives on an 8 MiB tmpfs; a backup of 20 MiB of incompressible data
    /// must fail cleanly, name the repository and the fix, and leave what was saved intact.
    @Test("a backup into a full repository fails with a clear error and loses nothing already saved")
    func repositoryFillsUp() throws {
        try Sandbox.with { sandbox in
            let mountPoint = sandbox.path("small-disk")
            try makeDirectory(mountPoint)
            try mountTemporaryFileSystem(at: mountPoint, options: "size=8m,mode=0700")
            defer { umount2(mountPoint, Int32(MNT_DETACH)) }
            let repository = mountPoint + "/repo"
            let env: [String: String?] = ["LIFEBOAT_REPOSITORY": repository]
            #expect(try sandbox.run(["init", "--kdf-log-n", "14"], env: env).status == 0)

            let small = sandbox.path("small")
            try makeDirectory(small)
            try writeFile(small + "/a.txt", randomBytes(100_000, seed: 1))
            let first = try sandbox.backup([small], env: env)

            let large = sandbox.path("large")
            try makeDirectory(large)
            try writeFile(large + "/big.bin", randomBytes(20 << 20, seed: 2))
            let failed = try sandbox.run(["backup", large], env: env)
            #expect(failed.endedCleanly, "\(failed)")
            #expect(failed.status == 1, "\(failed)")
            #expect(failed.err.contains(repository), "the error names the repository:\n\(failed)")
            #expect(failed.err.contains("free"), "the error says what to do:\n\(failed)")

            // Nothing that was saved is lost: one snapshot, the repository checks clean
            // (packs of the failed run are at most unindexed leftovers), and it restores.
            let snapshots = try sandbox.snapshots(env: env)
            #expect(snapshots.map(\.id) == [first.snapshotID])
            let check = try sandbox.run(["check", "--read-data"], env: env)
            #expect(check.status == 0, "\(check)")
            let target = sandbox.path("restored")
            let restore = try sandbox.run(["restore", "latest", "--target", target], env: env)
            #expect(restore.status == 0, "\(restore)")
            #expect(try treeDifferences(small, target + small) == [])
            // No temporary files are left behind by the failed writes.
            #expect(try sandbox.runProgram("/usr/bin/find", [repository + "/tmp", "-type", "f"], env: env).out == "")
        }
    }
}
