@testable import Repository
import Sealing
import Testing

@Suite("Format encodings")
struct FormatTests {
    static func sampleNode(_ name: String) -> Node {
        var node = Node(name: Array(name.utf8), kind: .file)
        node.mode = 0o4755
        node.uid = 1234
        node.gid = 2345
        node.user = "alice"
        node.group = "staff"
        node.modificationTime = Node.Timestamp(seconds: -86_400, nanoseconds: 123_456_789)
        node.accessTime = Node.Timestamp(seconds: 1_700_000_000, nanoseconds: 1)
        node.changeTime = Node.Timestamp(seconds: 1_800_000_000, nanoseconds: 999_999_999)
        node.size = 5_000_000_000
        node.inode = UInt64.max
        node.device = 2049
        node.linkCount = 2
        node.extendedAttributes = [Node.ExtendedAttribute(name: Array("user.a".utf8), value: [0, 1, 2, 255])]
        node.content = [randomID(), randomID()]
        return node
    }

    @Test("a tree round-trips every field")
    func treeRoundTrip() throws {
        var directory = Node(name: [0xff, 0x00 + 65], kind: .directory)
        directory.subtree = randomID()
        var link = Node(name: Array("link".utf8), kind: .symlink)
        link.symlinkTarget = Array("../../etc/passwd".utf8)
        var device = Node(name: Array("sda".utf8), kind: .blockDevice)
        device.deviceNumber = 0x0800
        let tree = Tree(nodes: [Self.sampleNode("b"), directory, link, device])
        let decoded = try Tree(decoding: tree.encoded(), what: "test")
        #expect(decoded.nodes.count == 4)
        for node in tree.nodes {
            #expect(decoded.nodes.first { $0.name == node.name } == node)
        }
    }

    @Test("the encoding is canonical: input order does not matter")
    func treeCanonical() {
        let a = Self.sampleNode("a"), b = Self.sampleNode("b"), c = Self.sampleNode("c")
        #expect(Tree(nodes: [a, b, c]).encoded() == Tree(nodes: [c, a, b]).encoded())
        var changed = b
        changed.mode = 0o644
        #expect(Tree(nodes: [a, b, c]).encoded() != Tree(nodes: [a, changed, c]).encoded())
    }

    @Test("repeated names, truncation and bad magic are rejected as corrupted")
    func treeRejectsMalformed() throws {
        let node = Self.sampleNode("same")
        var writer = ByteWriter()
        writer.append(Tree.magic)
        writer.appendVarint(2)
        let one = Array(Tree(nodes: [node]).encoded().dropFirst(5))
        writer.append(one)
        writer.append(one)
        #expect(throws: RepositoryError(.corrupted, "")) { try Tree(decoding: writer.bytes, what: "dup") }
        let good = Tree(nodes: [node]).encoded()
        for length in [0, 3, 4, 10, good.count - 1] {
            #expect(throws: RepositoryError(.corrupted, "")) { try Tree(decoding: Array(good.prefix(length)), what: "cut") }
        }
        var badMagic = good
        badMagic[0] ^= 1
        #expect(throws: RepositoryError(.corrupted, "")) { try Tree(decoding: badMagic, what: "magic") }
    }

    @Test("varints round-trip at their edges", arguments: [UInt64(0), 1, 127, 128, 16383, 16384, UInt64(UInt32.max), UInt64.max])
    func varint(value: UInt64) throws {
        var writer = ByteWriter()
        writer.appendVarint(value)
        writer.appendSignedVarint(Int64(bitPattern: value))
        var reader = ByteReader(writer.bytes, what: "varint")
        #expect(try reader.varint() == value)
        #expect(try reader.signedVarint() == Int64(bitPattern: value))
        #expect(reader.isAtEnd)
    }

    @Test("an index file round-trips and rejects blobs outside their pack")
    func indexFile() throws {
        let blobs = (0..<100).map { PackedBlob(type: .data, id: randomID(), offset: $0 * 100, storedLength: 100, plaintextLength: 150) }
        let file = IndexFile(packs: [IndexFile.Pack(id: randomID(), type: .data, size: 10_100, blobs: blobs)])
        let decoded = try IndexFile(decoding: file.encoded(), what: "index")
        #expect(decoded.packs.count == 1)
        #expect(decoded.packs[0].blobs == blobs)
        #expect(decoded.packs[0].size == 10_100)
        let wrong = IndexFile(packs: [IndexFile.Pack(id: randomID(), type: .data, size: 50, blobs: blobs)])
        #expect(throws: RepositoryError(.corrupted, "")) { try IndexFile(decoding: wrong.encoded(), what: "index") }
    }

    @Test("RFC 3339 times round-trip with nanoseconds")
    func timestamps() {
        for time in [Node.Timestamp(seconds: 0, nanoseconds: 0), Node.Timestamp(seconds: 1_764_777_196, nanoseconds: 123_456_789),
                     Node.Timestamp(seconds: 4_102_444_800, nanoseconds: 1)] {
            #expect(Node.Timestamp(rfc3339: time.rfc3339) == time)
        }
        #expect(Node.Timestamp(seconds: 1_764_777_196, nanoseconds: 5).rfc3339 == "2025-12-03T15:53:16.000000005Z")
        #expect(Node.Timestamp(rfc3339: "2025-12-03T15:53:16Z") == Node.Timestamp(seconds: 1_764_777_196, nanoseconds: 0))
        #expect(Node.Timestamp(rfc3339: "yesterday") == nil)
    }
}

@Suite("In-memory index")
struct MasterIndexTests {
    @Test("finds every blob and stays within 64 bytes per blob")
    func lookupAndMemory() {
        var index = MasterIndex()
        let count = 200_000
        let ids = (0..<count).map { _ in randomID() }
        index.reserve(additional: count)
        var added = 0
        while added < count {
            let pack = randomID()
            let blobs = ids[added..<min(count, added + 1000)].enumerated().map {
                PackedBlob(type: .data, id: $1, offset: $0 * 10, storedLength: 10, plaintextLength: 20)
            }
            index.add(packID: pack, type: .data, size: 10_000, blobs: blobs)
            added += 1000
        }
        #expect(index.count == count)
        for (number, id) in ids.enumerated() where number % 97 == 0 {
            let location = index.location(of: id)
            #expect(location?.offset == (number % 1000) * 10)
            #expect(location?.plaintextLength == 20)
        }
        #expect(!index.contains(randomID()))
        #expect(index.bytesPerBlob <= 64, "index uses \(index.bytesPerBlob) bytes per blob")
    }

    @Test("a blob stored twice keeps its first location")
    func duplicates() {
        var index = MasterIndex()
        let id = randomID()
        let first = randomID(), second = randomID()
        index.add(packID: first, type: .data, size: 100, blobs: [PackedBlob(type: .data, id: id, offset: 0, storedLength: 10, plaintextLength: 10)])
        index.add(packID: second, type: .data, size: 100, blobs: [PackedBlob(type: .data, id: id, offset: 50, storedLength: 10, plaintextLength: 10)])
        #expect(index.count == 1)
        #expect(index.location(of: id)?.pack == first)
        #expect(index.packs.count == 2)
    }
}

@Suite("Exclude patterns")
struct ExcludeFilterTests {
    @Test("patterns match like restic's", arguments: [
        ("*.log", "/var/log/app.log", true),
        ("*.log", "/var/log/app.log.1", false),
        ("node_modules", "/srv/app/node_modules", true),
        ("/srv/app/cache", "/srv/app/cache", true),
        ("/srv/app/cache", "/x/srv/app/cache", false),
        ("app/*.tmp", "/srv/app/x.tmp", true),
        ("app/*.tmp", "/srv/app/sub/x.tmp", false),
        ("/srv/**/x.tmp", "/srv/app/sub/x.tmp", true),
        ("/srv/*/x.tmp", "/srv/app/sub/x.tmp", false),
        ("cach?", "/a/cache", true),
        ("[ab].txt", "/a/b.txt", true),
    ])
    func matching(pattern: String, path: String, expected: Bool) throws {
        let filter = try ExcludeFilter(patterns: [pattern])
        let name = Array(path.split(separator: "/").last!.utf8)
        #expect(filter.excludes(path: Array(path.utf8), name: name) == expected)
    }

    @Test("an empty pattern is refused")
    func emptyPattern() {
        #expect(throws: RepositoryError(.invalidArgument, "")) { try ExcludeFilter(patterns: [""]) }
    }
}

@Suite("Backup paths")
struct PathTests {
    @Test("paths are made absolute, cleaned and deduplicated")
    func normalize() throws {
        #expect(try Backup.normalize(["/etc/", "/srv/app/../app", "/etc/ssh", "/var//lib"]) == ["/etc", "/srv/app", "/var/lib"])
        #expect(try Backup.normalize(["/", "/etc"]) == ["/"])
        #expect(throws: RepositoryError(.invalidArgument, "")) { try Backup.normalize([]) }
    }
}
