import Repository
import Sealing

/// `lifeboat diff`: what changed between two snapshots.
enum DiffCommand: Command {
    static let name = "diff"
    static let summary = "show what changed between two snapshots"
    static let usage = "lifeboat diff [options] SNAPSHOT1[:PATH] SNAPSHOT2[:PATH]"
    static let details = """
    Compares the trees of two snapshots (or of a path inside each) and prints one line per
    change, directories with a trailing '/':

      +    /path    added in SNAPSHOT2
      -    /path    removed (present only in SNAPSHOT1)
      M    /path    content changed (file data, symlink target or device number)
      T    /path    type changed (e.g. a file became a directory)
      U    /path    only metadata changed (mode, owner, times, xattrs); with --metadata

    Unchanged directories are skipped without being read. The summary counts files,
    directories and other entries added and removed, files changed, and the bytes added and
    removed: whole sizes of added and removed files, and for changed files the size of the
    content blobs only one side has.

    With --json: {"message_type":"change","path":...,"modifier":"+"} per change, then one
    {"message_type":"statistics",...} line.
    """
    static let options: [OptionSpec] = [
        .flag("metadata", "also print entries whose metadata alone changed (U)"),
    ] + SnapshotFilter.options

    static func run(_ context: Context) throws -> ExitCode {
        let arguments = context.arguments
        guard arguments.positionals.count == 2 else {
            throw UsageError(message: "'diff' takes two snapshots, got \(arguments.positionals.count); see 'lifeboat diff --help'")
        }
        let oldSpec = try SnapshotPathArgument(arguments.positionals[0])
        let newSpec = try SnapshotPathArgument(arguments.positionals[1])
        let repository = try context.openRepository()
        let snapshots = try repository.snapshots().snapshots
        let old = try oldSpec.resolve(in: repository, arguments: arguments, snapshots: snapshots)
        let new = try newSpec.resolve(in: repository, arguments: arguments, snapshots: snapshots)
        let walker = TreeWalker(repository: repository)
        let oldNode = try walker.node(at: oldSpec.path, in: old.root)
        let newNode = try walker.node(at: newSpec.path, in: new.root)

        let output = context.output
        output.line("comparing snapshot \(old.entry.id.shortHex) to \(new.entry.id.shortHex):\n")
        var differ = TreeDiffer(repository: repository, walker: walker, showMetadata: arguments.has("metadata"),
                                isCancelled: context.isCancelled) { path, modifier in
            if output.json {
                output.message(ChangeMessage(path: path, modifier: String(modifier)))
            } else {
                output.result("\(modifier)    \(path)")
            }
        }
        // Both sides are compared at the same displayed path: the new snapshot's.
        try differ.compare(oldNode, newNode, path: newSpec.pathBytes)

        let statistics = differ.statistics
        if output.json {
            output.message(StatisticsMessage(source: old.entry.id.hex, target: new.entry.id.hex,
                                             statistics: statistics, showMetadata: arguments.has("metadata")))
        } else {
            func column(_ value: Int) -> String {
                let text = String(value)
                return String(repeating: " ", count: max(0, 5 - text.count)) + text
            }
            output.line("")
            output.line("Files:    \(column(statistics.added.files)) new, \(column(statistics.removed.files)) removed, \(column(statistics.changedFiles)) changed")
            output.line("Dirs:     \(column(statistics.added.directories)) new, \(column(statistics.removed.directories)) removed")
            output.line("Others:   \(column(statistics.added.others)) new, \(column(statistics.removed.others)) removed")
            if arguments.has("metadata") {
                output.line("Metadata: \(column(statistics.metadataChanged)) changed")
            }
            output.line("Added:    \(formatBytes(statistics.added.bytes))")
            output.line("Removed:  \(formatBytes(statistics.removed.bytes))")
        }
        return .success
    }
}

/// Counts of one side of a diff.
struct DiffSide: Encodable {
    var files = 0
    var directories = 0
    var others = 0
    var bytes: UInt64 = 0

    enum CodingKeys: String, CodingKey { case files, directories = "dirs", others, bytes }
}

struct DiffStatistics {
    var added = DiffSide()
    var removed = DiffSide()
    var changedFiles = 0
    var metadataChanged = 0
}

/// Compares two trees recursively, reporting each change through `report`.
private struct TreeDiffer {
    let repository: Repository
    let walker: TreeWalker
    let showMetadata: Bool
    let isCancelled: () -> Bool
    let report: (String, Character) -> Void
    var statistics = DiffStatistics()

    init(repository: Repository, walker: TreeWalker, showMetadata: Bool, isCancelled: @escaping () -> Bool,
         report: @escaping (String, Character) -> Void) {
        self.repository = repository
        self.walker = walker
        self.showMetadata = showMetadata
        self.isCancelled = isCancelled
        self.report = report
    }

    /// Compares two nodes found at the same `path` (either may be missing).
    mutating func compare(_ old: Node?, _ new: Node?, path: [UInt8]) throws {
        if isCancelled() { throw RepositoryError(.interrupted, "diff interrupted") }
        switch (old, new) {
        case (nil, nil):
            return
        case (let old?, nil):
            try wholeSubtree(old, path: path, modifier: "-")
        case (nil, let new?):
            try wholeSubtree(new, path: path, modifier: "+")
        case (let old?, let new?):
            if old.kind != new.kind {
                emit(path, new, "T")
                if old.kind == .file || new.kind == .file { statistics.changedFiles += 1 }
                if old.kind == .file { statistics.removed.bytes += old.size }
                if new.kind == .file { statistics.added.bytes += new.size }
                if old.kind == .directory, let subtree = old.subtree { try contents(of: subtree, path: path, modifier: "-") }
                if new.kind == .directory, let subtree = new.subtree { try contents(of: subtree, path: path, modifier: "+") }
                return
            }
            if old.kind == .directory {
                if showMetadata, !Self.sameMetadata(old, new), !path.isEmpty {
                    emit(path, new, "U")
                    statistics.metadataChanged += 1
                }
                if old.subtree != new.subtree {
                    try compareTrees(old.subtree, new.subtree, path: path)
                }
                return
            }
            if !Self.sameContent(old, new) {
                emit(path, new, "M")
                if new.kind == .file {
                    statistics.changedFiles += 1
                    let oldBlobs = Set(old.content), newBlobs = Set(new.content)
                    statistics.added.bytes += plaintextBytes(newBlobs.subtracting(oldBlobs))
                    statistics.removed.bytes += plaintextBytes(oldBlobs.subtracting(newBlobs))
                }
            } else if showMetadata, !Self.sameMetadata(old, new) {
                emit(path, new, "U")
                statistics.metadataChanged += 1
            }
        }
    }

    /// Merges two sorted listings by name.
    private mutating func compareTrees(_ old: BlobID?, _ new: BlobID?, path: [UInt8]) throws {
        let oldNodes = try old.map { try repository.loadTree($0).nodes } ?? []
        let newNodes = try new.map { try repository.loadTree($0).nodes } ?? []
        var i = 0, j = 0
        while i < oldNodes.count || j < newNodes.count {
            let a = i < oldNodes.count ? oldNodes[i] : nil
            let b = j < newNodes.count ? newNodes[j] : nil
            if let a, let b, a.name == b.name {
                try compare(a, b, path: path + [UInt8(ascii: "/")] + a.name)
                i += 1
                j += 1
            } else if let a, b == nil || a.name.lexicographicallyPrecedes(b!.name) {
                try compare(a, nil, path: path + [UInt8(ascii: "/")] + a.name)
                i += 1
            } else if let b {
                try compare(nil, b, path: path + [UInt8(ascii: "/")] + b.name)
                j += 1
            }
        }
    }

    /// Reports `node` and, for a directory, everything below it as added or removed.
    private mutating func wholeSubtree(_ node: Node, path: [UInt8], modifier: Character) throws {
        count(node, modifier: modifier)
        emit(path, node, modifier)
        if node.kind == .directory, let subtree = node.subtree {
            try contents(of: subtree, path: path, modifier: modifier)
        }
    }

    private mutating func contents(of subtree: BlobID, path: [UInt8], modifier: Character) throws {
        try walker.walk(subtree, prefix: path) { entry in
            if isCancelled() { throw RepositoryError(.interrupted, "diff interrupted") }
            count(entry.node, modifier: modifier)
            emit(entry.path, entry.node, modifier)
            return true
        }
    }

    private mutating func count(_ node: Node, modifier: Character) {
        if modifier == "+" {
            Self.add(node, to: &statistics.added)
        } else {
            Self.add(node, to: &statistics.removed)
        }
    }

    private static func add(_ node: Node, to side: inout DiffSide) {
        switch node.kind {
        case .file:
            side.files += 1
            side.bytes += node.size
        case .directory: side.directories += 1
        default: side.others += 1
        }
    }

    private func emit(_ path: [UInt8], _ node: Node, _ modifier: Character) {
        var text = displayPath(path)
        if node.kind == .directory, !path.isEmpty { text += "/" }
        report(text, modifier)
    }

    private func plaintextBytes(_ ids: Set<BlobID>) -> UInt64 {
        ids.reduce(0) { $0 + UInt64(repository.location(of: $1)?.plaintextLength ?? 0) }
    }

    /// Same data: file content, symlink target, device number (kinds already equal).
    private static func sameContent(_ old: Node, _ new: Node) -> Bool {
        switch old.kind {
        case .file: old.size == new.size && old.content == new.content
        case .symlink: old.symlinkTarget == new.symlinkTarget
        case .characterDevice, .blockDevice: old.deviceNumber == new.deviceNumber
        default: true
        }
    }

    /// Same metadata a restore sets: permissions, owner, modification time, xattrs.
    /// Access and change times and inode numbers are left out: they change without any edit.
    private static func sameMetadata(_ old: Node, _ new: Node) -> Bool {
        old.mode == new.mode && old.uid == new.uid && old.gid == new.gid && old.user == new.user
            && old.group == new.group && old.modificationTime == new.modificationTime
            && old.extendedAttributes == new.extendedAttributes
    }
}

private struct ChangeMessage: Encodable {
    var messageType = "change"
    var path: String
    var modifier: String

    enum CodingKeys: String, CodingKey { case messageType = "message_type", path, modifier }
}

private struct StatisticsMessage: Encodable {
    var messageType = "statistics"
    var sourceSnapshot: String
    var targetSnapshot: String
    var changedFiles: Int
    var metadataChanged: Int?
    var added: DiffSide
    var removed: DiffSide

    init(source: String, target: String, statistics: DiffStatistics, showMetadata: Bool) {
        sourceSnapshot = source
        targetSnapshot = target
        changedFiles = statistics.changedFiles
        metadataChanged = showMetadata ? statistics.metadataChanged : nil
        added = statistics.added
        removed = statistics.removed
    }

    enum CodingKeys: String, CodingKey {
        case messageType = "message_type", sourceSnapshot = "source_snapshot", targetSnapshot = "target_snapshot"
        case changedFiles = "changed_files", metadataChanged = "metadata_changed", added, removed
    }
}
