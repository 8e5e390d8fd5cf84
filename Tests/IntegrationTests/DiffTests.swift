import Glibc
import Testing

/// `lifeboat diff` over three snapshots with known changes.
@Suite("Diff")
struct DiffTests {
    /// One `--json` change line.
    struct Change: Decodable, Equatable, CustomStringConvertible {
        var modifier: String
        var path: String
        var description: String { "\(modifier)    \(path)" }
    }

    /// The `--json` statistics line.
    struct Statistics: Decodable {
        struct Side: Decodable, Equatable {
            var files: Int
            var dirs: Int
            var others: Int
            var bytes: UInt64
        }
        var sourceSnapshot: String
        var targetSnapshot: String
        var changedFiles: Int
        var metadataChanged: Int?
        var added: Side
        var removed: Side

        enum CodingKeys: String, CodingKey {
            case sourceSnapshot = "source_snapshot", targetSnapshot = "target_snapshot"
            case changedFiles = "changed_files", metadataChanged = "metadata_changed", added, removed
        }
    }

    /// Directory times are put back to these after every change, so a directory's own
    /// metadata never differs between snapshots unless a test means it to.
    static let directoryTime = 1_400_000_000

    static func settleDirectoryTimes(_ source: String, _ directories: [String]) throws {
        for directory in directories {
            try setTimes(directory.isEmpty ? source : source + "/" + directory, seconds: directoryTime, nanoseconds: 5)
        }
    }

    /// Three snapshots of `src`:
    ///
    /// 1. keep.txt, remove.txt (14 bytes), modify.txt (64 KiB), mode.txt (0644), pipe (a fifo),
    ///    becomes-dir (a 14-byte file), old-dir/{a.txt, b.txt}.
    /// 2. added.txt (6 bytes) added, remove.txt removed, modify.txt rewritten with other
    ///    bytes of the same size, mode.txt chmod 0600, pipe replaced by a symlink.
    /// 3. old-dir removed with its files, becomes-dir a directory holding inner.txt,
    ///    new-dir/x.txt added.
    static func makeSnapshots(_ sandbox: Sandbox, source: String) throws -> [String] {
        try makeDirectory(source)
        try writeFile(source + "/keep.txt", "unchanged\n")
        try writeFile(source + "/remove.txt", "to be removed\n")
        try writeFile(source + "/modify.txt", randomBytes(64 << 10, seed: 50))
        try writeFile(source + "/mode.txt", "mode only\n", mode: 0o644)
        try makeFIFO(source + "/pipe")
        try writeFile(source + "/becomes-dir", "file then dir\n")
        try makeDirectory(source + "/old-dir")
        try writeFile(source + "/old-dir/a.txt", "a\n")
        try writeFile(source + "/old-dir/b.txt", "bb\n")
        try settleDirectoryTimes(source, ["", "old-dir"])
        try sandbox.initRepository()
        let first = try sandbox.backup([source]).snapshotID

        try writeFile(source + "/added.txt", "added\n")
        removeTree(source + "/remove.txt")
        try writeFile(source + "/modify.txt", randomBytes(64 << 10, seed: 51))
        try setMode(source + "/mode.txt", 0o600)
        removeTree(source + "/pipe")
        try makeSymlink(source + "/pipe", to: "keep.txt")
        try settleDirectoryTimes(source, [""])
        let second = try sandbox.backup([source]).snapshotID

        removeTree(source + "/old-dir")
        removeTree(source + "/becomes-dir")
        try makeDirectory(source + "/becomes-dir")
        try writeFile(source + "/becomes-dir/inner.txt", "inner\n")
        try makeDirectory(source + "/new-dir")
        try writeFile(source + "/new-dir/x.txt", "x\n")
        try settleDirectoryTimes(source, ["", "becomes-dir", "new-dir"])
        let third = try sandbox.backup([source]).snapshotID
        return [first, second, third]
    }

    @Test("diff prints exactly the +, -, M, T lines of the changes, U only with --metadata, and counts them")
    func knownChanges() throws {
        try Sandbox.with { sandbox in
            let source = sandbox.path("src")
            let ids = try Self.makeSnapshots(sandbox, source: source)

            // The whole snapshots, without --metadata: only the real changes, in name order
            // (the directories above src changed times, but those are metadata only).
            // --quiet leaves out the header and the summary, not the change lines.
            let plain = try sandbox.run(["diff", "--quiet", ids[0], ids[1]])
            #expect(plain.status == 0, "\(plain)")
            #expect(plain.out.split(separator: "\n").map(String.init) == [
                "+    \(source)/added.txt",
                "M    \(source)/modify.txt",
                "T    \(source)/pipe",
                "-    \(source)/remove.txt",
            ])

            // With --metadata, within src (whose own metadata is unchanged): mode.txt's mode.
            let metadata = try sandbox.run(["diff", "--json", "--metadata", "\(ids[0]):\(source)", "\(ids[1]):\(source)"])
            #expect(metadata.status == 0, "\(metadata)")
            #expect(try metadata.messages("change", as: Change.self) == [
                Change(modifier: "+", path: "\(source)/added.txt"),
                Change(modifier: "U", path: "\(source)/mode.txt"),
                Change(modifier: "M", path: "\(source)/modify.txt"),
                Change(modifier: "T", path: "\(source)/pipe"),
                Change(modifier: "-", path: "\(source)/remove.txt"),
            ])
            let statistics = try metadata.message("statistics", as: Statistics.self)
            #expect(statistics.sourceSnapshot == ids[0])
            #expect(statistics.targetSnapshot == ids[1])
            // Added: added.txt whole, plus modify.txt's new 64 KiB (one blob); removed:
            // remove.txt whole plus modify.txt's old blob. The fifo→symlink change is no file.
            #expect(statistics.added == Statistics.Side(files: 1, dirs: 0, others: 0, bytes: 6 + (64 << 10)))
            #expect(statistics.removed == Statistics.Side(files: 1, dirs: 0, others: 0, bytes: 14 + (64 << 10)))
            #expect(statistics.changedFiles == 1)
            #expect(statistics.metadataChanged == 1)

            // Directories: removed and added with their contents, a file that became a directory.
            let structural = try sandbox.run(["diff", "--json", "--metadata", "\(ids[1]):\(source)", "\(ids[2]):\(source)"])
            #expect(structural.status == 0, "\(structural)")
            #expect(try structural.messages("change", as: Change.self) == [
                Change(modifier: "T", path: "\(source)/becomes-dir/"),
                Change(modifier: "+", path: "\(source)/becomes-dir/inner.txt"),
                Change(modifier: "+", path: "\(source)/new-dir/"),
                Change(modifier: "+", path: "\(source)/new-dir/x.txt"),
                Change(modifier: "-", path: "\(source)/old-dir/"),
                Change(modifier: "-", path: "\(source)/old-dir/a.txt"),
                Change(modifier: "-", path: "\(source)/old-dir/b.txt"),
            ])
            let structuralStatistics = try structural.message("statistics", as: Statistics.self)
            // Added: inner.txt (6) and x.txt (2), the directory new-dir; removed: a.txt (2),
            // b.txt (3), old-dir, and becomes-dir's 14 bytes as a file (counted as changed).
            #expect(structuralStatistics.added == Statistics.Side(files: 2, dirs: 1, others: 0, bytes: 8))
            #expect(structuralStatistics.removed == Statistics.Side(files: 2, dirs: 1, others: 0, bytes: 19))
            #expect(structuralStatistics.changedFiles == 1)
            #expect(structuralStatistics.metadataChanged == 0)

            // The text form of the same, with the summary lines.
            let text = try sandbox.run(["diff", "\(ids[1]):\(source)", "\(ids[2]):\(source)"], env: ["TZ": "UTC"])
            #expect(text.status == 0, "\(text)")
            let lines = text.out.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            #expect(lines == [
                "comparing snapshot \(ids[1].prefix(8)) to \(ids[2].prefix(8)):",
                "",
                "T    \(source)/becomes-dir/",
                "+    \(source)/becomes-dir/inner.txt",
                "+    \(source)/new-dir/",
                "+    \(source)/new-dir/x.txt",
                "-    \(source)/old-dir/",
                "-    \(source)/old-dir/a.txt",
                "-    \(source)/old-dir/b.txt",
                "",
                "Files:        2 new,     2 removed,     1 changed",
                "Dirs:         1 new,     1 removed",
                "Others:       0 new,     0 removed",
                "Added:    8 B",
                "Removed:  19 B",
                "",
            ])

            // Across all three (1 → 3), the intermediate states cancel out.
            let span = try sandbox.run(["diff", "--quiet", "\(ids[0]):\(source)", "latest:\(source)"])
            #expect(span.out.split(separator: "\n").map(String.init) == [
                "+    \(source)/added.txt",
                "T    \(source)/becomes-dir/",
                "+    \(source)/becomes-dir/inner.txt",
                "M    \(source)/modify.txt",
                "+    \(source)/new-dir/",
                "+    \(source)/new-dir/x.txt",
                "-    \(source)/old-dir/",
                "-    \(source)/old-dir/a.txt",
                "-    \(source)/old-dir/b.txt",
                "T    \(source)/pipe",
                "-    \(source)/remove.txt",
            ], "\(span)")

            // A snapshot against itself, and the reverse direction swaps + and -.
            let same = try sandbox.run(["diff", "--quiet", "--metadata", ids[1], ids[1]])
            #expect(same.status == 0 && same.out.isEmpty, "\(same)")
            let reverse = try sandbox.run(["diff", "--quiet", "\(ids[1]):\(source)", "\(ids[0]):\(source)"])
            #expect(reverse.out.split(separator: "\n").map(String.init) == [
                "-    \(source)/added.txt",
                "M    \(source)/modify.txt",
                "T    \(source)/pipe",
                "+    \(source)/remove.txt",
            ], "\(reverse)")
        }
    }

    @Test("diff of a missing path or snapshot fails with 1; one snapshot is a usage error")
    func diffErrors() throws {
        try Sandbox.with { sandbox in
            let source = sandbox.path("src")
            try makeDirectory(source)
            try writeFile(source + "/file.txt", "x\n")
            try sandbox.initRepository()
            let id = try sandbox.backup([source]).snapshotID
            let missing = try sandbox.run(["diff", "\(id):\(source)/nope", "latest:\(source)"])
            #expect(missing.status == 1, "\(missing)")
            #expect(missing.err.contains("is not in the snapshot"), "\(missing)")
            let other = id.hasPrefix("0") ? "1234abcd" : "0123abcd"
            let unknown = try sandbox.run(["diff", other, "latest"])
            #expect(unknown.status == 1, "\(unknown)")
            #expect(unknown.err.contains("no snapshot '\(other)'"), "\(unknown)")
            let one = try sandbox.run(["diff", "latest"])
            #expect(one.status == 2, "\(one)")
        }
    }
}
