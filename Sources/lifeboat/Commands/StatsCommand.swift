import Repository
import Sealing

/// `lifeboat stats`: sizes of snapshots and of the repository.
enum StatsCommand: Command {
    static let name = "stats"
    static let summary = "show how much the snapshots hold and how much the repository stores"
    static let usage = "lifeboat stats [options] [SNAPSHOT...]"
    static let details = """
    Modes (--mode):
      restore-size  the default: files, directories and bytes a restore of each selected
                    snapshot would write, added up over the snapshots (a hardlinked file
                    counts once per snapshot)
      raw-data      the distinct blobs the selected snapshots reference: their size before
                    and after compression and encryption, and the compression ratio; then
                    the whole repository: snapshots, packs, blobs, stored pack bytes and the
                    in-memory index's bytes per blob

    SNAPSHOT is 'latest' or an id prefix; without any, every snapshot is counted (or those
    --host, --tag and --path select).

    Examples:
      lifeboat stats
      lifeboat stats --mode raw-data --json
      lifeboat stats latest
    """
    static let options: [OptionSpec] = [
        .value("mode", "MODE", "restore-size (default) or raw-data"),
    ] + SnapshotFilter.options

    enum Mode: String {
        case restoreSize = "restore-size", rawData = "raw-data"
    }

    static func run(_ context: Context) throws -> ExitCode {
        let arguments = context.arguments
        let modeName = arguments.value("mode") ?? Mode.restoreSize.rawValue
        guard let mode = Mode(rawValue: modeName) else {
            throw UsageError(message: "--mode '\(modeName)': expected restore-size or raw-data")
        }
        for argument in arguments.positionals where argument.contains(":") {
            throw UsageError(message: "'\(argument)': stats counts whole snapshots; give snapshot ids without ':PATH'")
        }
        let output = context.output
        let repository = try context.openRepository()
        let listing = try repository.snapshots()
        for damaged in listing.damaged {
            output.warning("\(damaged.key): \(damaged.reason); it is not counted")
        }
        let filter = SnapshotFilter(arguments)
        var selected: [SnapshotEntry] = []
        if arguments.positionals.isEmpty {
            selected = listing.snapshots.filter { filter.matches($0.snapshot) }
        } else {
            var seen = Set<BlobID>()
            for argument in arguments.positionals {
                let entry = try repository.findSnapshot(try SnapshotPathArgument(argument).spec.snapshot,
                                                        in: listing.snapshots, filter: filter.matches)
                if seen.insert(entry.id).inserted { selected.append(entry) }
            }
        }

        let walker = TreeWalker(repository: repository)
        let isCancelled = context.isCancelled
        func checkCancelled() throws {
            if isCancelled() { throw RepositoryError(.interrupted, "stats interrupted") }
        }

        switch mode {
        case .restoreSize:
            var totals = RestoreSizeMessage(snapshots: selected.count)
            for (number, entry) in selected.enumerated() {
                output.progress("snapshot \(number + 1) of \(selected.count): \(entry.id.shortHex)")
                var hardlinks = Set<[UInt64]>()
                try walker.walk(try entry.rootTree()) { item in
                    try checkCancelled()
                    let node = item.node
                    switch node.kind {
                    case .file:
                        totals.files += 1
                        if node.linkCount <= 1 || hardlinks.insert([node.device, node.inode]).inserted {
                            totals.totalSize += node.size
                        }
                    case .directory: totals.directories += 1
                    default: totals.others += 1
                    }
                    return true
                }
            }
            output.clearProgress()
            if output.json {
                output.message(totals)
            } else {
                output.result("Stats in restore-size mode:")
                output.result(aligned([
                    ("Snapshots processed", String(totals.snapshots)),
                    ("Files", String(totals.files)),
                    ("Directories", String(totals.directories)),
                    ("Other entries", String(totals.others)),
                    ("Total size", sizeText(totals.totalSize)),
                ]))
            }

        case .rawData:
            var data = Set<BlobID>()
            var trees = Set<BlobID>()
            for (number, entry) in selected.enumerated() {
                output.progress("snapshot \(number + 1) of \(selected.count): \(entry.id.shortHex), \(data.count) blobs so far")
                let root = try entry.rootTree()
                guard trees.insert(root).inserted else { continue }
                try walker.walk(root) { item in
                    try checkCancelled()
                    data.formUnion(item.node.content)
                    // A subtree already counted was walked in full before: skip it.
                    if let subtree = item.node.subtree { return trees.insert(subtree).inserted }
                    return true
                }
            }
            output.clearProgress()
            var message = RawDataMessage(snapshots: selected.count)
            var missing = 0
            for (ids, type) in [(data, BlobType.data), (trees, BlobType.tree)] {
                for id in ids {
                    guard let location = repository.location(of: id) else {
                        missing += 1
                        continue
                    }
                    if type == .data { message.dataBlobs += 1 } else { message.treeBlobs += 1 }
                    message.totalUncompressedSize += UInt64(location.plaintextLength)
                    message.totalStoredSize += UInt64(location.storedLength)
                }
            }
            if missing > 0 {
                output.warning("\(missing) referenced blobs are not in the index and are not counted; run 'lifeboat check'")
            }
            message.totalBlobCount = message.dataBlobs + message.treeBlobs
            message.compressionRatio = message.totalStoredSize == 0 ? 0
                : Double(message.totalUncompressedSize) / Double(message.totalStoredSize)
            let totals = repository.indexTotals()
            message.repository = RawDataMessage.RepositoryTotals(
                snapshots: listing.snapshots.count, packs: totals.packs, dataPacks: totals.dataPacks,
                treePacks: totals.treePacks, blobs: totals.blobs, packBytes: totals.packBytes,
                indexBytesPerBlob: (repository.indexBytesPerBlob * 10).rounded() / 10)
            if output.json {
                output.message(message)
            } else {
                let repositoryTotals = message.repository!
                output.result("Stats in raw-data mode:")
                output.result(aligned([
                    ("Snapshots processed", String(message.snapshots)),
                    ("Total blob count", "\(message.totalBlobCount) (\(message.dataBlobs) data, \(message.treeBlobs) tree)"),
                    ("Total uncompressed size", sizeText(message.totalUncompressedSize)),
                    ("Total stored size", sizeText(message.totalStoredSize) + " (compressed and encrypted)"),
                    ("Compression ratio", formatDecimal(message.compressionRatio, places: 2) + "x"),
                    ("", ""),
                    ("Repository snapshots", String(repositoryTotals.snapshots)),
                    ("Packs", "\(repositoryTotals.packs) (\(repositoryTotals.dataPacks) data, \(repositoryTotals.treePacks) tree)"),
                    ("Blobs", String(repositoryTotals.blobs)),
                    ("Stored pack bytes", sizeText(repositoryTotals.packBytes)),
                    ("Index memory per blob", formatDecimal(repositoryTotals.indexBytesPerBlob, places: 1) + " bytes"),
                ]))
            }
        }
        return .success
    }

    /// `label:  value` lines with the colons lined up; an empty label gives an empty line.
    private static func aligned(_ rows: [(String, String)]) -> String {
        let width = rows.map(\.0.count).max() ?? 0
        return rows.map { label, value in
            label.isEmpty ? "" : String(repeating: " ", count: 2 + width - label.count) + label + ":  " + value
        }.joined(separator: "\n")
    }

    /// `1.5 GiB (1610612736 bytes)`, or just `512 B`.
    private static func sizeText(_ bytes: UInt64) -> String {
        bytes < 1024 ? formatBytes(bytes) : "\(formatBytes(bytes)) (\(bytes) bytes)"
    }
}

private struct RestoreSizeMessage: Encodable {
    var messageType = "stats"
    var mode = StatsCommand.Mode.restoreSize.rawValue
    var snapshots: Int
    var files = 0
    var directories = 0
    var others = 0
    var totalSize: UInt64 = 0

    init(snapshots: Int) { self.snapshots = snapshots }

    enum CodingKeys: String, CodingKey {
        case messageType = "message_type", mode, snapshots = "snapshots_count", files = "total_file_count"
        case directories = "total_dir_count", others = "total_other_count", totalSize = "total_size"
    }
}

private struct RawDataMessage: Encodable {
    struct RepositoryTotals: Encodable {
        var snapshots: Int
        var packs: Int
        var dataPacks: Int
        var treePacks: Int
        var blobs: Int
        var packBytes: UInt64
        var indexBytesPerBlob: Double

        enum CodingKeys: String, CodingKey {
            case snapshots = "snapshots_count", packs = "pack_count", dataPacks = "data_pack_count"
            case treePacks = "tree_pack_count", blobs = "blob_count", packBytes = "total_pack_size"
            case indexBytesPerBlob = "index_bytes_per_blob"
        }
    }

    var messageType = "stats"
    var mode = StatsCommand.Mode.rawData.rawValue
    var snapshots: Int
    var totalBlobCount = 0
    var dataBlobs = 0
    var treeBlobs = 0
    var totalUncompressedSize: UInt64 = 0
    var totalStoredSize: UInt64 = 0
    var compressionRatio = 0.0
    var repository: RepositoryTotals?

    init(snapshots: Int) { self.snapshots = snapshots }

    enum CodingKeys: String, CodingKey {
        case messageType = "message_type", mode, snapshots = "snapshots_count", totalBlobCount = "total_blob_count"
        case dataBlobs = "data_blob_count", treeBlobs = "tree_blob_count"
        case totalUncompressedSize = "total_uncompressed_size", totalStoredSize = "total_size"
        case compressionRatio = "compression_ratio", repository
    }
}
