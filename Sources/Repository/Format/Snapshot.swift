import Sealing

/// A `snapshots/<id>` object, the commit point of a backup (docs/FORMAT.md "Snapshots").
/// Sealed JSON; the name is the SHA-256 of the stored bytes.
public struct Snapshot: Codable, Sendable {
    public var time: String
    public var host: String
    public var username: String
    /// The absolute paths that were backed up (for stdin: the file name given).
    public var paths: [String]
    public var tags: [String]
    /// Hex id of the root tree blob.
    public var tree: String
    /// Hex id of the snapshot this one was compared against (files cache), if any.
    public var parent: String?
    /// What was backed up: `files` or `command`.
    public var sourceKind: String
    /// The command line of a `--stdin-from-command` source.
    public var command: [String]?
    /// The policy that took it, when run from a policy.
    public var policy: String?
    public var excludes: [String]?
    public var programVersion: String
    public var summary: Summary?

    /// What a backup did, kept with the snapshot for reports.
    public struct Summary: Codable, Sendable, Equatable {
        public var backupStart: String
        public var backupEnd: String
        public var filesNew: Int
        public var filesChanged: Int
        public var filesUnmodified: Int
        public var directoriesNew: Int
        public var directoriesChanged: Int
        public var directoriesUnmodified: Int
        public var dataBlobs: Int
        public var treeBlobs: Int
        public var dataAdded: UInt64
        public var dataAddedPacked: UInt64
        public var totalFilesProcessed: Int
        public var totalBytesProcessed: UInt64
        public var errors: Int

        enum CodingKeys: String, CodingKey {
            case backupStart = "backup_start", backupEnd = "backup_end", filesNew = "files_new"
            case filesChanged = "files_changed", filesUnmodified = "files_unmodified"
            case directoriesNew = "dirs_new", directoriesChanged = "dirs_changed", directoriesUnmodified = "dirs_unmodified"
            case dataBlobs = "data_blobs", treeBlobs = "tree_blobs", dataAdded = "data_added"
            case dataAddedPacked = "data_added_packed", totalFilesProcessed = "total_files_processed"
            case totalBytesProcessed = "total_bytes_processed", errors
        }
    }

    enum CodingKeys: String, CodingKey {
        case time, host, username, paths, tags, tree, parent, sourceKind = "source_kind", command, policy
        case excludes, programVersion = "program_version", summary
    }

    public var timestamp: Node.Timestamp { Node.Timestamp(rfc3339: time) ?? Node.Timestamp(seconds: 0, nanoseconds: 0) }

    public var treeID: BlobID? { BlobID(hex: tree) }
}

/// A snapshot together with the id it is stored under.
public struct SnapshotEntry: Sendable {
    public var id: BlobID
    public var snapshot: Snapshot

    public init(id: BlobID, snapshot: Snapshot) {
        self.id = id
        self.snapshot = snapshot
    }
}
