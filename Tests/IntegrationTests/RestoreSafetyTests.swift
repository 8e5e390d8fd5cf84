import Glibc
@testable import Repository
import Sealing
import Testing

/// A restore must never write outside its target, whatever a (malicious or damaged)
/// snapshot says. `lifeboat backup` cannot produce such snapshots, so these are crafted
/// through the library: file content comes from a real backup of a payload file, trees are
/// stored with the backup's own `BlobStorage`, and the snapshot is committed with
/// `saveSnapshot`, exactly as a backup commits.
@Suite("Restore safety")
struct RestoreSafetyTests {
    static let payload = "attacker-controlled content\n"

    /// Builds trees in a repository and commits them as snapshots.
    final class Crafter {
        let repository: Repository
        let storage: BlobStorage
        let content: [BlobID]
        let size: UInt64

        /// Backs up a payload file with `lifeboat`; every crafted file reuses its content.
        init(_ sandbox: Sandbox) throws {
            try sandbox.initRepository()
            let payloadFile = sandbox.path("payload-src/payload.txt")
            try makeDirectory(sandbox.path("payload-src"))
            try writeFile(payloadFile, RestoreSafetyTests.payload)
            try sandbox.backup([payloadFile])
            let oracle = try RepositoryOracle(sandbox: sandbox)
            guard let stored = try oracle.files().first(where: { $0.path == payloadFile }) else {
                throw HarnessError("the payload backup has no \(payloadFile)")
            }
            repository = oracle.repository
            storage = try BlobStorage(repository: repository)
            content = stored.blobs.map(\.id)
            size = UInt64(RestoreSafetyTests.payload.utf8.count)
        }

        func file(_ name: [UInt8]) -> Node {
            var node = Node(name: name, kind: .file)
            node.mode = 0o644
            node.uid = getuid()
            node.gid = getgid()
            node.modificationTime = Node.Timestamp(seconds: 1_600_000_000, nanoseconds: 0)
            node.size = size
            node.content = content
            return node
        }

        func symlink(_ name: [UInt8], to target: String) -> Node {
            var node = Node(name: name, kind: .symlink)
            node.mode = 0o777
            node.uid = getuid()
            node.gid = getgid()
            node.symlinkTarget = Array(target.utf8)
            return node
        }

        func directory(_ name: [UInt8], _ children: [Node]) throws -> Node {
            var node = Node(name: name, kind: .directory)
            node.mode = 0o755
            node.uid = getuid()
            node.gid = getgid()
            node.subtree = try storage.store(Tree(nodes: children))
            return node
        }

        /// Stores the root tree, finishes the uploads and writes the snapshot; returns its id.
        func commit(_ rootNodes: [Node]) throws -> String {
            let root = try storage.store(Tree(nodes: rootNodes))
            try storage.finish()
            let snapshot = Snapshot(
                time: Node.Timestamp.now().rfc3339, host: "crafted", username: "attacker", paths: ["/crafted"],
                tags: [], tree: root.hex, parent: nil, sourceKind: "files", command: nil, policy: nil,
                excludes: nil, programVersion: "crafted", summary: nil)
            return try repository.saveSnapshot(snapshot).hex
        }
    }

    static func crafter(_ sandbox: Sandbox) throws -> Crafter { try Crafter(sandbox) }

    static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test("entries named '..', '.', '', with '/' or NUL are refused and reported; nothing lands outside")
    func unsafeNamesAreRefused() throws {
        try Sandbox.with { sandbox in
            let crafter = try Self.crafter(sandbox)
            let outside = sandbox.path("outside")
            try makeDirectory(outside)
            let snapshot = try crafter.commit([
                crafter.file([]),
                crafter.file(Self.bytes(".")),
                try crafter.directory(Self.bytes(".."), [crafter.file(Self.bytes("pwned-dotdot"))]),
                crafter.file(Self.bytes("../outside/pwned-slash")),
                try crafter.directory(Self.bytes("dir"), [
                    crafter.file(Self.bytes("inner.txt")),
                    crafter.file(Self.bytes("../../pwned-nested")),
                ]),
                crafter.symlink(Self.bytes("escape"), to: outside),
                crafter.file(Self.bytes("escape/pwned-through-link")),
                crafter.file(Self.bytes("nul") + [0] + Self.bytes("name")),
                crafter.file(Self.bytes("ok.txt")),
            ])

            let target = sandbox.path("target")
            let result = try sandbox.run(["restore", snapshot, "--target", target])
            #expect(result.endedCleanly, "\(result)")
            #expect(result.status == 1, "\(result)")
            let refusals = result.err.split(separator: "\n").filter { $0.contains("refusing entry with unsafe name") }
            #expect(refusals.count == 7, "\(result)")
            for name in ["'..'", "'.'", "''", "'../outside/pwned-slash'", "'../../pwned-nested'", "'escape/pwned-through-link'"] {
                #expect(refusals.contains { $0.hasSuffix(name) }, "\(name) should be reported:\n\(result)")
            }

            // Inside the target: only the safe entries; the symlink is restored as a symlink.
            #expect(try relativePaths(below: target) == ["dir", "dir/inner.txt", "escape", "ok.txt"])
            #expect(try readLink(target + "/escape") == Self.bytes(outside))
            #expect(try readText(target + "/ok.txt") == Self.payload)
            // Outside the target: nothing new anywhere in the sandbox.
            #expect(try directoryNames(outside).isEmpty)
            #expect(try Set(directoryNames(sandbox.root).map(display)) == [".io", "repo", "payload-src", "outside", "target"])
        }
    }

    @Test("existing symlinks in the target are replaced, never followed")
    func existingSymlinksAreNotFollowed() throws {
        try Sandbox.with { sandbox in
            let crafter = try Self.crafter(sandbox)
            let outside = sandbox.path("outside")
            try makeDirectory(outside)
            let victim = sandbox.path("victim.txt")
            try writeFile(victim, "must not change\n")
            let target = sandbox.path("target")
            try makeDirectory(target)
            // Left in the target by an earlier restore, or planted by someone else.
            try makeSymlink(target + "/escape", to: outside)
            try makeSymlink(target + "/victim", to: victim)
            try makeSymlink(target + "/link-dir", to: outside)

            let snapshot = try crafter.commit([
                try crafter.directory(Self.bytes("escape"), [crafter.file(Self.bytes("pwned-through-link"))]),
                crafter.file(Self.bytes("victim")),
                crafter.symlink(Self.bytes("link-dir"), to: "/"),
            ])
            let result = try sandbox.run(["restore", snapshot, "--target", target])
            #expect(result.status == 0, "\(result)")

            #expect(try directoryNames(outside).isEmpty)
            #expect(try readText(victim) == "must not change\n")
            #expect(try status(target + "/escape").st_mode & S_IFMT == S_IFDIR)
            #expect(try readText(target + "/escape/pwned-through-link") == Self.payload)
            #expect(try status(target + "/victim").st_mode & S_IFMT == S_IFREG)
            #expect(try readText(target + "/victim") == Self.payload)
            #expect(try readLink(target + "/link-dir") == Self.bytes("/"))
        }
    }

    @Test("a subpath that names a '..' entry does not climb out of the target")
    func dotDotSubpath() throws {
        try Sandbox.with { sandbox in
            let crafter = try Self.crafter(sandbox)
            let snapshot = try crafter.commit([crafter.file(Self.bytes(".."))])
            let target = sandbox.path("deep/target")
            try makeDirectories(target)
            let result = try sandbox.run(["restore", "\(snapshot):/..", "--target", target])
            #expect(result.endedCleanly, "\(result)")
            #expect(result.status == 1, "\(result)")
            #expect(try directoryNames(target).isEmpty)
            #expect(try directoryNames(sandbox.path("deep")).map(display) == ["target"])
            #expect(try status(sandbox.path("deep")).st_mode & S_IFMT == S_IFDIR)
        }
    }

    @Test("a tree with duplicate names is rejected as corrupted")
    func duplicateNames() throws {
        let a = Node(name: Array("same".utf8), kind: .file)
        var b = a
        b.mode = 0o600
        let encoded = Tree(nodes: [a, b]).encoded()
        #expect(throws: RepositoryError.self) { try Tree(decoding: encoded, what: "crafted tree") }
        do {
            _ = try Tree(decoding: encoded, what: "crafted tree")
        } catch let error as RepositoryError {
            #expect(error.code == .corrupted)
            #expect(error.message.contains("repeated"))
        }

        try Sandbox.with { sandbox in
            let crafter = try Self.crafter(sandbox)
            let snapshot = try crafter.commit([
                try crafter.directory(Self.bytes("dup"), [crafter.file(Self.bytes("x")), crafter.file(Self.bytes("x"))]),
                crafter.file(Self.bytes("fine.txt")),
            ])
            let target = sandbox.path("target")
            let restore = try sandbox.run(["restore", snapshot, "--target", target])
            #expect(restore.endedCleanly, "\(restore)")
            #expect(restore.status == 1, "\(restore)")
            #expect(restore.err.contains("/dup: contents not restored"), "\(restore)")
            #expect(try readText(target + "/fine.txt") == Self.payload)
            #expect(try directoryNames(target + "/dup").isEmpty)

            let check = try sandbox.run(["check"])
            #expect(check.endedCleanly, "\(check)")
            #expect(check.status == 1, "\(check)")
            #expect(check.out.contains("names out of order or repeated"), "\(check)")
            #expect(check.out.contains("snapshot \(snapshot.prefix(8)) is damaged"), "\(check)")
        }
    }
}
