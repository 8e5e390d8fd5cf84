import FoundationEssentials
import Testing

/// The files cache: a second backup reads only what changed, and says so in its summary.
@Suite("Incremental backups")
struct IncrementalBackupTests {
    static let fileCount = 40

    /// 40 files in 4 directories: `src/d0/f00.txt` … `src/d3/f39.txt`.
    static func makeTree(at source: String) throws {
        try makeDirectory(source)
        for directory in 0..<4 { try makeDirectory(source + "/d\(directory)") }
        for number in 0..<fileCount {
            try writeFile(path(source, number), randomBytes(1_000 + number * 97, seed: UInt64(number)))
        }
    }

    static func path(_ source: String, _ number: Int) -> String {
        source + "/d\(number % 4)/f\(number < 10 ? "0" : "")\(number).txt"
    }

    @Test("--json summaries count new, changed and unmodified files exactly")
    func summariesCountChanges() throws {
        try Sandbox.with { sandbox in
            let source = sandbox.path("src")
            try Self.makeTree(at: source)
            try sandbox.initRepository()

            let first = try sandbox.backup([source])
            #expect(first.filesNew == Self.fileCount)
            #expect(first.filesChanged == 0)
            #expect(first.filesUnmodified == 0)
            #expect(first.totalFilesProcessed == Self.fileCount)
            #expect(first.parent == nil)
            #expect(first.snapshotID.count == 64)

            let unchanged = try sandbox.backup([source])
            #expect(unchanged.filesNew == 0)
            #expect(unchanged.filesChanged == 0)
            #expect(unchanged.filesUnmodified == Self.fileCount)
            #expect(unchanged.dataBlobs == 0)
            #expect(unchanged.parent == first.snapshotID)

            // Three files get new content (size kept for one, so only mtime/ctime tell).
            try overwrite(Self.path(source, 1), at: 0, with: Array("changed".utf8))
            try writeFile(Self.path(source, 17), "shorter now")
            try writeFile(Self.path(source, 30), randomBytes(5_000, seed: 99))
            let modified = try sandbox.backup([source])
            #expect(modified.filesNew == 0)
            #expect(modified.filesChanged == 3)
            #expect(modified.filesUnmodified == Self.fileCount - 3)
            #expect(modified.parent == unchanged.snapshotID)

            try writeFile(source + "/d0/new-1.txt", "one")
            try writeFile(source + "/d2/new-2.txt", "two")
            let added = try sandbox.backup([source])
            #expect(added.filesNew == 2)
            #expect(added.filesChanged == 0)
            #expect(added.filesUnmodified == Self.fileCount)
            #expect(added.totalFilesProcessed == Self.fileCount + 2)

            // The JSON summary names the snapshot that `snapshots --json` lists.
            let listed = try sandbox.snapshots()
            #expect(listed.map(\.id) == [first, unchanged, modified, added].map(\.snapshotID))
            #expect(listed.last?.parent == modified.snapshotID)

            // The newest snapshot restores to exactly the current tree.
            let target = sandbox.path("restored")
            try sandbox.restore("latest", to: target)
            #expect(try treeDifferences(source, target + source) == [])
        }
    }

    @Test("every --json line parses and exactly one is the summary")
    func jsonLinesParse() throws {
        try Sandbox.with { sandbox in
            let source = sandbox.path("src")
            try Self.makeTree(at: source)
            try sandbox.initRepository()
            let result = try sandbox.run(["backup", "--json", source])
            #expect(result.status == 0)
            struct Line: Decodable {
                var messageType: String
                enum CodingKeys: String, CodingKey { case messageType = "message_type" }
            }
            let lines = result.stdout.split(separator: UInt8(ascii: "\n"))
            let decoded = try lines.map { try JSONDecoder().decode(Line.self, from: Data($0)) }
            #expect(decoded.filter { $0.messageType == "summary" }.count == 1)
            #expect(decoded.allSatisfy { ["status", "summary"].contains($0.messageType) })
            #expect(decoded.last?.messageType == "summary")
            #expect(result.err == "")
        }
    }

    @Test("an unchanged re-backup stores no new tree blobs")
    func unchangedTreesDeduplicate() throws {
        try Sandbox.with { sandbox in
            let source = sandbox.path("src")
            try Self.makeTree(at: source)
            try sandbox.initRepository()
            try sandbox.backup([source])
            let second = try sandbox.backup([source])
            // Directory nodes include the access time, and listing a directory during the
            // first backup moves its atime (relatime: atime ≤ mtime is updated on read), so the
            // second backup sees "changed" directories and stores new trees for unchanged data.
            #expect(second.dirsChanged == 0)
            // Once the atimes have settled, nothing changes. The root tree may still be new:
            // it holds the node for /tmp, whose mtime moves as parallel tests create their
            // sandboxes there (the root itself is not counted in dirs_*).
            let third = try sandbox.backup([source])
            #expect(third.dirsChanged == 0)
            #expect(third.dirsUnmodified == second.dirsNew + second.dirsChanged + second.dirsUnmodified)
            #expect(third.treeBlobs <= 1)
            #expect(third.dataBlobs == 0)
        }
    }
}
