import FoundationEssentials
import Glibc
import Repository
import Sealing
import Testing

/// `lifeboat stats` in both modes, against sizes known from the generated tree and against
/// what the repository holds (read through the library).
@Suite("Stats")
struct StatsTests {
    struct RestoreSize: Decodable, Equatable {
        var snapshots: Int
        var files: Int
        var directories: Int
        var others: Int
        var totalSize: UInt64

        enum CodingKeys: String, CodingKey {
            case snapshots = "snapshots_count", files = "total_file_count", directories = "total_dir_count"
            case others = "total_other_count", totalSize = "total_size"
        }
    }

    struct RawData: Decodable {
        struct Totals: Decodable {
            var snapshots: Int
            var packs: Int
            var dataPacks: Int
            var treePacks: Int
            var blobs: Int
            var packBytes: UInt64

            enum CodingKeys: String, CodingKey {
                case snapshots = "snapshots_count", packs = "pack_count", dataPacks = "data_pack_count"
                case treePacks = "tree_pack_count", blobs = "blob_count", packBytes = "total_pack_size"
            }
        }
        var mode: String
        var snapshots: Int
        var totalBlobs: Int
        var dataBlobs: Int
        var treeBlobs: Int
        var uncompressed: UInt64
        var stored: UInt64
        var ratio: Double
        var repository: Totals

        enum CodingKeys: String, CodingKey {
            case mode, snapshots = "snapshots_count", totalBlobs = "total_blob_count", dataBlobs = "data_blob_count"
            case treeBlobs = "tree_blob_count", uncompressed = "total_uncompressed_size", stored = "total_size"
            case ratio = "compression_ratio", repository
        }
    }

    static let duplicateSize = 3 << 20
    static let otherSize = 100 << 10
    /// Each name of the hardlinked small.txt is a file, but its bytes count once.
    static let fileCount = 5
    static let totalSize = UInt64(2 * duplicateSize + 6 + otherSize)
    /// The distinct contents: one copy of the duplicated file, small.txt, other.bin.
    static let distinctContentSize = UInt64(duplicateSize + 6 + otherSize)
    /// /tmp, /tmp/lifeboat-it-…, src and src/sub.
    static let directoryCount = 4

    /// dup-a.bin and dup-b.bin: the same 3 MiB (two files, not links); small.txt with a
    /// hardlink small-link; sub/other.bin of 100 KiB.
    static func makeTree(at source: String) throws {
        try makeDirectory(source)
        let duplicate = randomBytes(duplicateSize, seed: 60)
        try writeFile(source + "/dup-a.bin", duplicate)
        try writeFile(source + "/dup-b.bin", duplicate)
        try writeFile(source + "/small.txt", "small\n")
        try makeHardlink(source + "/small-link", to: source + "/small.txt")
        try makeDirectory(source + "/sub")
        try writeFile(source + "/sub/other.bin", randomBytes(otherSize, seed: 61))
    }

    /// What the repository says the snapshots reference: distinct data and tree blobs with
    /// their plaintext and stored sizes.
    struct Referenced {
        var dataBlobs = Set<BlobID>()
        var treeBlobs = Set<BlobID>()
        var dataBytes: UInt64 = 0
        var treeBytes: UInt64 = 0
        var storedBytes: UInt64 = 0
    }

    static func referenced(_ sandbox: Sandbox) throws -> Referenced {
        let oracle = try RepositoryOracle(sandbox: sandbox)
        let repository = oracle.repository
        var result = Referenced()
        let walker = TreeWalker(repository: repository)
        for entry in try repository.snapshots().snapshots {
            let root = try #require(entry.snapshot.treeID)
            result.treeBlobs.insert(root)
            try walker.walk(root) { item in
                result.dataBlobs.formUnion(item.node.content)
                if let subtree = item.node.subtree { result.treeBlobs.insert(subtree) }
                return true
            }
        }
        for (ids, isData) in [(result.dataBlobs, true), (result.treeBlobs, false)] {
            for id in ids {
                let location = try #require(repository.location(of: id), "blob \(id) is not in the index")
                if isData {
                    result.dataBytes += UInt64(location.plaintextLength)
                } else {
                    result.treeBytes += UInt64(location.plaintextLength)
                }
                result.storedBytes += UInt64(location.storedLength)
            }
        }
        return result
    }

    @Test("restore-size counts every file name and each hardlinked file's bytes once, per snapshot")
    func restoreSize() throws {
        try Sandbox.with { sandbox in
            let source = sandbox.path("src")
            try Self.makeTree(at: source)
            try sandbox.initRepository()
            let first = try sandbox.backup([source]).snapshotID

            let one = try sandbox.run(["stats", "--json"])
            #expect(one.status == 0, "\(one)")
            let firstSize = RestoreSize(snapshots: 1, files: Self.fileCount, directories: Self.directoryCount,
                                        others: 0, totalSize: Self.totalSize)
            #expect(try one.message("stats", as: RestoreSize.self) == firstSize)

            // The text form, exactly.
            let text = try sandbox.run(["stats"])
            #expect(text.status == 0, "\(text)")
            #expect(text.out == """
            Stats in restore-size mode:
              Snapshots processed:  1
                            Files:  5
                      Directories:  4
                    Other entries:  0
                       Total size:  6.10 MiB (6393862 bytes)

            """)
            #expect(Self.totalSize == 6_393_862)

            // A second snapshot with one more file and a fifo.
            try writeFile(source + "/sub/new.txt", "new file\n")
            try makeFIFO(source + "/sub/pipe")
            try sandbox.backup([source])
            let secondSize = RestoreSize(snapshots: 1, files: Self.fileCount + 1, directories: Self.directoryCount,
                                         others: 1, totalSize: Self.totalSize + 9)

            let latest = try sandbox.run(["stats", "--json", "latest"])
            #expect(try latest.message("stats", as: RestoreSize.self) == secondSize)
            let byID = try sandbox.run(["stats", "--json", String(first.prefix(8))])
            #expect(try byID.message("stats", as: RestoreSize.self) == firstSize)
            // The same snapshot named twice counts once.
            let twice = try sandbox.run(["stats", "--json", first, String(first.prefix(12))])
            #expect(try twice.message("stats", as: RestoreSize.self) == firstSize)
            // Without arguments: every snapshot, added up.
            let both = try sandbox.run(["stats", "--json"])
            #expect(try both.message("stats", as: RestoreSize.self) == RestoreSize(
                snapshots: 2, files: 2 * Self.fileCount + 1, directories: 2 * Self.directoryCount, others: 1,
                totalSize: 2 * Self.totalSize + 9))

            let withPath = try sandbox.run(["stats", "latest:\(source)"])
            #expect(withPath.status == 2, "\(withPath)")
            let badMode = try sandbox.run(["stats", "--mode", "sizes"])
            #expect(badMode.status == 2, "\(badMode)")
            #expect(badMode.err.contains("expected restore-size or raw-data"), "\(badMode)")
        }
    }

    @Test("raw-data counts each distinct blob once: identical files share their blobs")
    func rawData() throws {
        try Sandbox.with { sandbox in
            let source = sandbox.path("src")
            try Self.makeTree(at: source)
            try sandbox.initRepository()
            let summary = try sandbox.backup([source])

            let result = try sandbox.run(["stats", "--mode", "raw-data", "--json"])
            #expect(result.status == 0, "\(result)")
            let stats = try result.message("stats", as: RawData.self)
            let referenced = try Self.referenced(sandbox)
            #expect(stats.mode == "raw-data")
            #expect(stats.snapshots == 1)

            // The duplicate's bytes are stored once: the data blobs hold exactly the distinct contents.
            #expect(referenced.dataBytes == Self.distinctContentSize)
            #expect(stats.dataBlobs == referenced.dataBlobs.count)
            #expect(stats.dataBlobs == summary.dataBlobs, "a first backup stores every referenced data blob")
            // One tree per directory, plus the snapshot's root.
            #expect(stats.treeBlobs == Self.directoryCount + 1)
            #expect(stats.treeBlobs == referenced.treeBlobs.count)
            #expect(stats.treeBlobs == summary.treeBlobs)
            #expect(stats.totalBlobs == stats.dataBlobs + stats.treeBlobs)
            #expect(stats.uncompressed == referenced.dataBytes + referenced.treeBytes)
            #expect(stats.uncompressed == summary.dataAdded)
            #expect(stats.stored == referenced.storedBytes)
            // Random bytes do not compress (stored is a little more: nonces, tags), trees do.
            #expect(stats.stored > referenced.dataBytes)
            #expect(abs(stats.ratio - Double(stats.uncompressed) / Double(stats.stored)) < 1e-9)
            // One snapshot references every blob in the repository.
            #expect(stats.repository.snapshots == 1)
            #expect(stats.repository.blobs == stats.totalBlobs)
            #expect(stats.repository.packs == stats.repository.dataPacks + stats.repository.treePacks)
            #expect(stats.repository.packs >= 2)
            #expect(stats.repository.packBytes > stats.stored)

            // restore-size counts the duplicate twice, raw-data once.
            let restore = try sandbox.run(["stats", "--json"])
            #expect(try restore.message("stats", as: RestoreSize.self).totalSize == Self.totalSize)
            #expect(Self.totalSize - referenced.dataBytes == UInt64(Self.duplicateSize))

            // A second snapshot adding one small file adds exactly one data blob to the total.
            try writeFile(source + "/sub/new.txt", "new file\n")
            try sandbox.backup([source])
            let again = try sandbox.run(["stats", "--mode", "raw-data", "--json"])
            let both = try again.message("stats", as: RawData.self)
            #expect(both.snapshots == 2)
            #expect(both.dataBlobs == stats.dataBlobs + 1)
            #expect(both.repository.snapshots == 2)
            let latestOnly = try sandbox.run(["stats", "--mode", "raw-data", "--json", "latest"])
            let latest = try latestOnly.message("stats", as: RawData.self)
            #expect(latest.snapshots == 1)
            #expect(latest.dataBlobs == stats.dataBlobs + 1)
            #expect(latest.treeBlobs == Self.directoryCount + 1)

            // The text form names the same numbers.
            let text = try sandbox.run(["stats", "--mode", "raw-data"])
            #expect(text.status == 0, "\(text)")
            #expect(text.out.hasPrefix("Stats in raw-data mode:\n"), "\(text)")
            #expect(text.out.contains("   Total blob count:  \(both.totalBlobs) (\(both.dataBlobs) data, \(both.treeBlobs) tree)\n"), "\(text)")
            #expect(text.out.contains("(\(both.uncompressed) bytes)"), "\(text)")
        }
    }
}
