import FoundationEssentials
import Glibc
import Testing

/// `lifeboat ls` on a small tree with every common entry kind, and what `backup` records
/// about a snapshot (tags, host, parent) and how the parent choice changes the file counts.
@Suite("Listing")
struct ListingTests {
    /// 2009-02-13 23:31:30 UTC: every entry of the listing tree gets this time (plus a
    /// per-entry number of nanoseconds), so `--long` lines can be written out in full.
    static let time = 1_234_567_890

    /// The tree: names chosen so that their byte order is the listing order below.
    ///
    ///     fifo          fifo 0640
    ///     file.txt      "hello\n", 0644
    ///     link          -> file.txt
    ///     setuid        "#!/bin/sh\n", 4755, owner 1234:2345 (in no passwd file)
    ///     sub/          0750
    ///       deeper/     0755
    ///         leaf.txt  "leaf\n"
    ///       inner.txt   "inner\n", 0600
    static func makeTree(at source: String) throws {
        try makeDirectory(source)
        try makeFIFO(source + "/fifo", mode: 0o640)
        try writeFile(source + "/file.txt", "hello\n", mode: 0o644)
        try makeSymlink(source + "/link", to: "file.txt")
        try writeFile(source + "/setuid", "#!/bin/sh\n", mode: 0o755)
        try setOwner(source + "/setuid", uid: 1234, gid: 2345)
        try setMode(source + "/setuid", 0o4755)
        try makeDirectory(source + "/sub", mode: 0o750)
        try makeDirectory(source + "/sub/deeper", mode: 0o755)
        try writeFile(source + "/sub/deeper/leaf.txt", "leaf\n")
        try writeFile(source + "/sub/inner.txt", "inner\n", mode: 0o600)
        for (number, relative) in ["fifo", "file.txt", "link", "setuid", "sub/deeper/leaf.txt", "sub/deeper",
                                   "sub/inner.txt", "sub", ""].enumerated() {
            try setTimes(relative.isEmpty ? source : source + "/" + relative, seconds: time,
                         nanoseconds: 123_456_789 + number)
        }
    }

    /// The non-empty lines of stdout.
    static func lines(_ result: RunResult) -> [String] {
        result.out.split(separator: "\n").map(String.init)
    }

    /// `/tmp`, `/tmp/lifeboat-it-…`, … up to and including `path`: a snapshot keeps the
    /// directories above a backed-up path.
    static func ancestors(of path: String) -> [String] {
        var result: [String] = []
        var partial = ""
        for component in path.split(separator: "/") {
            partial += "/" + component
            result.append(partial)
        }
        return result
    }

    @Test("ls lists exactly the snapshot's paths, parents first; a PATH and --depth narrow it")
    func plainListing() throws {
        try Sandbox.with { sandbox in
            let source = sandbox.path("src")
            try Self.makeTree(at: source)
            try sandbox.initRepository()
            try sandbox.backup([source])

            let all = try sandbox.run(["ls", "latest"])
            #expect(all.status == 0, "\(all)")
            #expect(Self.lines(all) == Self.ancestors(of: source) + [
                "fifo", "file.txt", "link", "setuid", "sub", "sub/deeper", "sub/deeper/leaf.txt", "sub/inner.txt",
            ].map { source + "/" + $0 })

            // A directory path: the directory itself, then everything below it.
            let sub = try sandbox.run(["ls", "latest:\(source)/sub"])
            #expect(sub.status == 0, "\(sub)")
            #expect(Self.lines(sub) == ["sub", "sub/deeper", "sub/deeper/leaf.txt", "sub/inner.txt"].map { source + "/" + $0 })

            // Trailing and repeated slashes and '.' are normalised away.
            let untidy = try sandbox.run(["ls", "latest:\(source)//./sub/"])
            #expect(Self.lines(untidy) == Self.lines(sub), "\(untidy)")

            // --depth 1: only the directory's own entries.
            let shallow = try sandbox.run(["ls", "--depth", "1", "latest:\(source)/sub"])
            #expect(Self.lines(shallow) == ["sub", "sub/deeper", "sub/inner.txt"].map { source + "/" + $0 }, "\(shallow)")

            // A file path lists just that file.
            let file = try sandbox.run(["ls", "latest:\(source)/file.txt"])
            #expect(Self.lines(file) == [source + "/file.txt"], "\(file)")
        }
    }

    @Test("ls --long prints mode string, owner, size, time and symlink target")
    func longListing() throws {
        try Sandbox.with { sandbox in
            let source = sandbox.path("src")
            try Self.makeTree(at: source)
            try sandbox.initRepository()
            try sandbox.backup([source])

            // Local time is UTC here, so the time column is known.
            let result = try sandbox.run(["ls", "--long", "latest:\(source)"], env: ["TZ": "UTC"])
            #expect(result.status == 0, "\(result)")
            let when = "2009-02-13 23:31:30"
            #expect(Self.lines(result) == [
                "drwxr-xr-x root     root                0 \(when) \(source)",
                "prw-r----- root     root                0 \(when) \(source)/fifo",
                "-rw-r--r-- root     root                6 \(when) \(source)/file.txt",
                "lrwxrwxrwx root     root                0 \(when) \(source)/link -> file.txt",
                "-rwsr-xr-x 1234     2345               10 \(when) \(source)/setuid",
                "drwxr-x--- root     root                0 \(when) \(source)/sub",
                "drwxr-xr-x root     root                0 \(when) \(source)/sub/deeper",
                "-rw-r--r-- root     root                5 \(when) \(source)/sub/deeper/leaf.txt",
                "-rw------- root     root                6 \(when) \(source)/sub/inner.txt",
            ])
        }
    }

    @Test("ls --json gives one node line per entry with type, size, mode, owner, time and target")
    func jsonListing() throws {
        struct NodeLine: Decodable {
            var path: String
            var name: String
            var type: String
            var mode: UInt32
            var permissions: String
            var uid: UInt32
            var gid: UInt32
            var user: String
            var size: UInt64
            var mtime: String
            var links: UInt64
            var target: String?
        }
        struct SnapshotLine: Decodable {
            var id: String
            var paths: [String]
        }
        try Sandbox.with { sandbox in
            let source = sandbox.path("src")
            try Self.makeTree(at: source)
            try sandbox.initRepository()
            let snapshot = try sandbox.backup([source]).snapshotID

            let result = try sandbox.run(["ls", "--json", "\(snapshot.prefix(10)):\(source)"])
            #expect(result.status == 0, "\(result)")
            let header = try result.message("snapshot", as: SnapshotLine.self)
            #expect(header.id == snapshot)
            #expect(header.paths == [source])
            let nodes = try result.messages("node", as: NodeLine.self)
            #expect(nodes.map(\.path) == ["", "/fifo", "/file.txt", "/link", "/setuid", "/sub", "/sub/deeper",
                                          "/sub/deeper/leaf.txt", "/sub/inner.txt"].map { source + $0 })
            let byName = Dictionary(nodes.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
            // A directory's link count is 2 plus its number of subdirectories.
            let expected: [(name: String, type: String, mode: UInt32, permissions: String, size: UInt64, links: UInt64)] = [
                ("src", "dir", 0o755, "drwxr-xr-x", 0, 3),
                ("fifo", "fifo", 0o640, "prw-r-----", 0, 1),
                ("file.txt", "file", 0o644, "-rw-r--r--", 6, 1),
                ("link", "symlink", 0o777, "lrwxrwxrwx", 0, 1),
                ("setuid", "file", 0o4755, "-rwsr-xr-x", 10, 1),
                ("sub", "dir", 0o750, "drwxr-x---", 0, 3),
                ("deeper", "dir", 0o755, "drwxr-xr-x", 0, 2),
                ("leaf.txt", "file", 0o644, "-rw-r--r--", 5, 1),
                ("inner.txt", "file", 0o600, "-rw-------", 6, 1),
            ]
            for item in expected {
                let node = try #require(byName[item.name], "no node named \(item.name)")
                #expect(node.type == item.type, "\(item.name)")
                #expect(node.mode == item.mode, "\(item.name): mode \(String(node.mode, radix: 8))")
                #expect(node.permissions == item.permissions, "\(item.name)")
                #expect(node.size == item.size, "\(item.name)")
                #expect(node.links == item.links, "\(item.name)")
            }
            #expect(byName["link"]?.target == "file.txt")
            #expect(byName["file.txt"]?.target == nil)
            #expect(byName["setuid"]?.uid == 1234)
            #expect(byName["setuid"]?.gid == 2345)
            #expect(byName["setuid"]?.user == "")
            #expect(byName["file.txt"]?.uid == 0)
            #expect(byName["file.txt"]?.user == "root")
            // file.txt got the second time of makeTree's list: 123456789 + 1 ns.
            #expect(byName["file.txt"]?.mtime == "2009-02-13T23:31:30.123456790Z")
        }
    }

    @Test("ls of a missing path or an unknown snapshot fails with 1; a malformed id is a usage error")
    func listingErrors() throws {
        try Sandbox.with { sandbox in
            try sandbox.initRepository()
            let empty = try sandbox.run(["ls", "latest"])
            #expect(empty.status == 1, "\(empty)")
            #expect(empty.err.contains("no snapshot matches 'latest' (the repository has none yet)"), "\(empty)")

            let source = sandbox.path("src")
            try Self.makeTree(at: source)
            let snapshot = try sandbox.backup([source]).snapshotID

            let missing = try sandbox.run(["ls", "latest:\(source)/no/such/file"])
            #expect(missing.status == 1, "\(missing)")
            #expect(missing.err == "lifeboat: '\(source)/no/such/file' is not in the snapshot; list it with 'lifeboat ls'\n")
            #expect(missing.out.isEmpty)

            let throughFile = try sandbox.run(["ls", "latest:\(source)/file.txt/inside"])
            #expect(throughFile.status == 1, "\(throughFile)")
            #expect(throughFile.err.contains("file.txt is not a directory in the snapshot"), "\(throughFile)")

            // A hex prefix that matches no snapshot (the real id does not start with it).
            let other = snapshot.hasPrefix("0") ? "1234abcd" : "0123abcd"
            let unknown = try sandbox.run(["ls", other])
            #expect(unknown.status == 1, "\(unknown)")
            #expect(unknown.err == "lifeboat: no snapshot '\(other)'; see 'lifeboat snapshots'\n")

            struct ErrorLine: Decodable {
                var code: String?
                var exitCode: Int32?
                enum CodingKeys: String, CodingKey { case code, exitCode = "exit_code" }
            }
            let unknownJSON = try sandbox.run(["ls", "--json", other])
            #expect(unknownJSON.status == 1)
            let error = try unknownJSON.message("error", as: ErrorLine.self)
            #expect(error.code == "not_found")
            #expect(error.exitCode == 1)

            // Not hex at all: rejected before the repository is opened.
            let malformed = try sandbox.run(["ls", "not-an-id"])
            #expect(malformed.status == 2, "\(malformed)")
            #expect(malformed.err.contains("'not-an-id' is not a snapshot"), "\(malformed)")
            let dotDot = try sandbox.run(["ls", "latest:\(source)/../etc"])
            #expect(dotDot.status == 2, "\(dotDot)")
            let twoArguments = try sandbox.run(["ls", "latest", "latest"])
            #expect(twoArguments.status == 2, "\(twoArguments)")
        }
    }

    @Test("backup records --tag (comma lists and repeats) and --host; --parent and --force choose what is re-read")
    func tagsHostAndParent() throws {
        try Sandbox.with { sandbox in
            let source = sandbox.path("src")
            try Self.makeTree(at: source)
            // The regular files: file.txt, setuid, sub/deeper/leaf.txt, sub/inner.txt.
            let fileCount = 4
            try sandbox.initRepository()

            let first = try sandbox.backup(["--tag", "a,b", "--tag", "c", "--host", "h1", source])
            #expect(first.filesNew == fileCount)
            #expect(first.parent == nil)
            let listed = try sandbox.snapshots()
            #expect(listed.count == 1)
            #expect(listed.first?.tags == ["a", "b", "c"])
            #expect(listed.first?.host == "h1")
            #expect(listed.first?.paths == [source])

            // Tag filters: 'a,b' needs both, repeated --tag means either.
            let both = try sandbox.run(["snapshots", "--json", "--tag", "a,c"])
            #expect(try both.listedSnapshots().count == 1)
            let missingTag = try sandbox.run(["snapshots", "--json", "--tag", "a,z"])
            #expect(try missingTag.listedSnapshots().isEmpty)
            let either = try sandbox.run(["snapshots", "--json", "--tag", "z", "--tag", "c"])
            #expect(try either.listedSnapshots().count == 1)

            // Same host and paths: the first snapshot is the parent, nothing is read again.
            let second = try sandbox.backup(["--host", "h1", source])
            #expect(second.parent == first.snapshotID)
            #expect(second.filesUnmodified == fileCount)
            #expect(second.filesNew == 0 && second.filesChanged == 0)

            // Another host has no snapshot of these paths: no parent, every file is new.
            let otherHost = try sandbox.backup(["--host", "h2", source])
            #expect(otherHost.parent == nil)
            #expect(otherHost.filesNew == fileCount)
            #expect(otherHost.filesUnmodified == 0)

            // --parent picks a snapshot of another host explicitly.
            let withParent = try sandbox.backup(["--host", "h3", "--parent", String(first.snapshotID.prefix(12)), source])
            #expect(withParent.parent == first.snapshotID)
            #expect(withParent.filesUnmodified == fileCount)
            #expect(withParent.filesNew == 0 && withParent.filesChanged == 0)

            // --force: no parent at all, so every file counts as new (not as changed).
            let forced = try sandbox.backup(["--host", "h1", "--force", source])
            #expect(forced.parent == nil)
            #expect(forced.filesNew == fileCount)
            #expect(forced.filesChanged == 0 && forced.filesUnmodified == 0)
            // It read everything again, but every data blob was already stored. (Trees may be
            // new: the harness writes its own files next to the source, which changes the
            // modification time of the directories above it.)
            #expect(forced.dataBlobs == 0)

            let all = try sandbox.snapshots()
            #expect(all.map(\.host) == ["h1", "h1", "h2", "h3", "h1"])
            #expect(all.map(\.parent) == [nil, first.snapshotID, nil, first.snapshotID, nil])
            #expect(all.dropFirst().allSatisfy { $0.tags.isEmpty })

            let unknownParent = try sandbox.run(["backup", "--parent", "feedfacefeed", source])
            #expect(unknownParent.status == 1, "\(unknownParent)")
            #expect(unknownParent.err.contains("no snapshot 'feedfacefeed'"), "\(unknownParent)")
        }
    }
}
