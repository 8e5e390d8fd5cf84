import Glibc
import Testing

/// Problems found by trying to break lifeboat as a new user would, kept fixed.
@Suite("Recovery and robustness")
struct RecoveryTests {
    /// All files below `directory` (regular files only), sorted.
    static func files(under directory: String) throws -> [String] {
        var result: [String] = []
        func walk(_ path: String) {
            guard let handle = opendir(path) else { return }
            defer { closedir(handle) }
            while let entry = readdir(handle) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                if name == "." || name == ".." { continue }
                let child = path + "/" + name
                var info = stat()
                guard lstat(child, &info) == 0 else { continue }
                if info.st_mode & S_IFMT == S_IFDIR { walk(child) } else { result.append(child) }
            }
        }
        walk(directory)
        return result.sorted()
    }

    @Test("after a data pack is lost, the next backup stores its data again and the new snapshot restores")
    func lostPackIsStoredAgain() throws {
        try Sandbox.with { sandbox in
            let source = sandbox.path("src")
            try makeDirectory(source)
            for number in 0..<40 {
                try writeFile(source + "/file-\(number)", randomBytes(200_000, seed: UInt64(number + 1)))
            }
            try sandbox.initRepository(["--pack-size", "4"])
            try sandbox.backup([source])
            let packs = try Self.files(under: sandbox.repository + "/data")
            try #require(packs.count >= 2)
            #expect(unlink(packs[0]) == 0)

            let again = try sandbox.run(["backup", "--json", source])
            #expect(again.status == 0, "\(again)")
            #expect((again.out + again.err).contains("missing or truncated"), "the backup says it works around the lost pack:\n\(again)")
            let summary = try again.message("summary", as: BackupSummary.self)
            #expect(summary.dataBlobs > 0, "the lost data is stored again")

            let target = sandbox.path("restored")
            try sandbox.restore(summary.snapshotID, to: target)
            #expect(try treeDifferences(source, target + source) == [])
            // The same data was stored again, so the first snapshot is whole again too; check
            // still names the lost pack (its index entry remains) but no snapshot is affected.
            let check = try sandbox.run(["check", "--json"])
            #expect(check.status == 1)
            let report = try check.message("summary", as: CheckSummary.self)
            #expect(report.errors.contains { $0.contains("missing from the store") }, "\(report.errors)")
            #expect(report.affectedSnapshots.isEmpty, "\(report.affectedSnapshots)")
            let first = sandbox.path("restored-first")
            try sandbox.restore(try sandbox.snapshots()[0].id, to: first)
            #expect(try treeDifferences(source, first + source) == [])
        }
    }

    @Test("a garbage or damaged key file does not lock the others out")
    func damagedKeyFileIsSkipped() throws {
        try Sandbox.with { sandbox in
            try sandbox.initRepository()
            try writeFile(sandbox.repository + "/keys/" + String(repeating: "0", count: 64), "garbage\n")
            let listed = try sandbox.run(["snapshots"])
            #expect(listed.status == 0, "\(listed)")
            #expect(listed.err.contains("keys/00000000"), "the damaged key file is named:\n\(listed)")
            let wrong = try sandbox.run(["snapshots"], env: ["LIFEBOAT_PASSWORD": "not the password"])
            #expect(wrong.status == 12, "\(wrong)")
            let removed = try sandbox.run(["key", "remove", "00000000"])
            #expect(removed.status == 0, "the damaged key file can be removed:\n\(removed)")
        }
    }

    @Test("a path whose parent directory is a symlink is backed up through it")
    func symlinkedParent() throws {
        try Sandbox.with { sandbox in
            let real = sandbox.path("real")
            try makeDirectory(real)
            try makeDirectory(real + "/dir")
            try writeFile(real + "/dir/file", "through a link\n")
            try makeSymlink(sandbox.path("link"), to: "real")
            try sandbox.initRepository()
            let summary = try sandbox.backup([sandbox.path("link/dir/file")])
            #expect(summary.filesNew == 1)
            let dumped = try sandbox.run(["dump", "latest", sandbox.path("link/dir/file")])
            #expect(dumped.out == "through a link\n", "\(dumped)")
        }
    }

    @Test("the repository password is not handed to a --stdin-from-command child")
    func passwordNotInChildEnvironment() throws {
        try Sandbox.with { sandbox in
            try sandbox.initRepository()
            try sandbox.backup(["--stdin-from-command", "--stdin-filename", "env.txt", "--", "env"])
            let dumped = try sandbox.run(["dump", "latest", "/env.txt"])
            #expect(dumped.status == 0, "\(dumped)")
            #expect(dumped.out.contains("LIFEBOAT_REPOSITORY="), "the rest of the environment is passed:\n\(dumped.out)")
            #expect(!dumped.out.contains("LIFEBOAT_PASSWORD"))
            #expect(!dumped.out.contains(sandbox.password))
        }
    }

    @Test("an interrupted backup indexes what it stored, and the next run reuses it")
    func interruptedBackupIsReused() throws {
        try Sandbox.with { sandbox in
            let source = sandbox.path("src")
            try makeDirectory(source)
            for number in 0..<8 {
                try writeFile(source + "/file-\(number)", randomBytes(8 << 20, seed: UInt64(number + 10)))
            }
            try sandbox.initRepository(["--pack-size", "4"])
            let running = try sandbox.start(["backup", "--workers", "1", source])
            // Interrupt once some packs are stored (bounded wait: 20 s).
            var waited = 0
            while waited < 200, (try? Self.files(under: sandbox.repository + "/data").count) ?? 0 < 3 {
                usleep(100_000)
                waited += 1
            }
            kill(running.pid, SIGINT)
            let interrupted = try running.wait()
            try #require(interrupted.status == 130, "\(interrupted)")
            let indexFiles = try Self.files(under: sandbox.repository + "/index")
            #expect(!indexFiles.isEmpty, "the stored packs are indexed")
            let next = try sandbox.backup([source])
            #expect(next.dataAdded < 64 << 20, "the next run reuses what was stored (added \(next.dataAdded) of 64 MiB)")
            let check = try sandbox.run(["check"])
            #expect(check.status == 0, "\(check)")
        }
    }

    @Test("Ctrl-C during a backup to a slow store says it is storing the packs already made, and a second one stops at once")
    func interruptSaysWhatItWaitsFor() throws {
        try Sandbox.with { sandbox in
            let server = try SeaweedFS.start(in: sandbox.path("s3"), buckets: ["slow"])
            defer { server.stop() }
            // 256 KiB/s over all uploads: a 4 MiB pack takes 16 s, so packs wait to be stored.
            let env: [String: String?] = [
                "LIFEBOAT_REPOSITORY": "s3://slow/r?endpoint=\(server.endpoint)&upload-limit=256&connections=2",
                "AWS_ACCESS_KEY_ID": server.backup.accessKey, "AWS_SECRET_ACCESS_KEY": server.backup.secretKey,
            ]
            #expect(try sandbox.run(["init", "--kdf-log-n", "14", "--pack-size", "4"], env: env).status == 0)
            let source = sandbox.path("src")
            try makeDirectory(source)
            for number in 0..<4 {
                try writeFile(source + "/file-\(number)", randomBytes(8 << 20, seed: UInt64(number + 30)))
            }
            for json in [false, true] {
                let running = try sandbox.start(["backup", source] + (json ? ["--json"] : []), env: env)
                sleep(3)  // reading is fast; uploading is not: packs are made and waiting
                kill(running.pid, SIGINT)
                let path = json ? running.stdoutPath : running.stderrPath
                let deadline = monotonicSeconds() + 20
                while !((try? readText(path))?.contains("interrupted: storing") ?? false) && monotonicSeconds() < deadline {
                    usleep(50_000)
                }
                let noticed = monotonicSeconds()
                kill(running.pid, SIGINT)  // the second Ctrl-C
                let result = try running.wait(timeout: 60)
                #expect(monotonicSeconds() - noticed < 5, "the second interrupt stops at once")
                #expect(result.status == 130 && result.signal == nil, "\(result)")
                if json {
                    let notices = try result.messages("status", as: InterruptNotice.self).filter { $0.interrupted == true }
                    #expect(notices.count == 1, "printed once: \(result)")
                    let notice = try #require(notices.first)
                    let packs = try #require(notice.packsToStore)
                    #expect(packs > 0)
                    #expect(notice.message == Self.interruptNotice(packs: packs), "\(result)")
                    #expect(!result.err.contains("interrupted: storing"), "not on stderr with --json: \(result)")
                } else {
                    let lines = result.err.split(separator: "\n").filter { $0.hasPrefix("interrupted: storing") }.map(String.init)
                    #expect(lines.count == 1, "printed once: \(result)")
                    let line = try #require(lines.first)
                    let packs = (1...64).first { Self.interruptNotice(packs: $0) == line }
                    #expect(packs != nil, "the notice names how many packs: \(line)")
                    #expect(!result.out.contains("interrupted: storing"))
                }
            }
        }
    }

    private static func interruptNotice(packs: Int) -> String {
        "interrupted: storing the \(packs == 1 ? "pack" : "\(packs) packs") already made so the next backup reuses them (press Ctrl-C again to stop at once)"
    }

    /// The `status` line `backup --json` prints once when an interrupt waits for uploads.
    private struct InterruptNotice: Decodable {
        var interrupted: Bool?
        var packsToStore: Int?
        var message: String?

        enum CodingKeys: String, CodingKey { case interrupted, packsToStore = "packs_to_store", message }
    }
}
