import CShims
import Glibc
import Sealing

/// What to back up and how (the flags of `lifeboat backup`).
public struct BackupOptions: Sendable {
    /// Where the bytes come from.
    public enum Source: Sendable {
        /// File trees, by path.
        case paths([String])
        /// The standard output of a command, stored as one file named `filename`.
        case command([String], filename: String)
    }

    /// How the files cache picks the snapshot to compare with.
    public enum ParentSelection: Sendable {
        /// The newest snapshot of the same host with the same paths.
        case automatic
        /// A given snapshot (id or `latest`).
        case snapshot(String)
        /// None: read every file again.
        case none
    }

    public var source: Source
    public var excludes: [String] = []
    public var oneFileSystem = false
    public var tags: [String] = []
    public var host: String = currentHostName()
    public var policy: String?
    public var parent: ParentSelection = .automatic
    /// Threads that read, chunk, compress and seal: one more than cores, so that a read
    /// waiting for the disk overlaps with compression (each costs about 10 MiB of buffers).
    public var workers = max(2, systemCoreCount()) + 1
    /// Threads that list directories and stat their entries.
    public var scanners = 4
    /// Called from a background thread about four times a second while the backup runs
    /// (also while it stores, after an interrupt, the packs it made).
    public var progress: (@Sendable (BackupProgress) -> Void)?
    /// Called for each problem that does not stop the backup (unreadable file, file changed while read).
    public var warning: (@Sendable (BackupWarning) -> Void)?
    /// Polled; when it returns true the backup stops without writing a snapshot.
    public var isCancelled: @Sendable () -> Bool = { false }

    public init(source: Source) { self.source = source }
}

/// A problem with one source item that the backup reported and went past.
public struct BackupWarning: Sendable {
    public enum Kind: String, Sendable {
        /// The item could not be read; it is not in the snapshot (exit code 3).
        case unreadable
        /// The file changed while it was being read; what was read is in the snapshot.
        case changedWhileReading = "changed"
        /// The repository is damaged in a way the backup works around (e.g. lost packs whose
        /// data it stores again).
        case repository
    }

    public var kind: Kind
    public var path: String
    public var message: String
}

/// Counters for the progress display.
public struct BackupProgress: Sendable {
    public var secondsElapsed: Double
    public var filesProcessed: Int
    public var bytesProcessed: UInt64
    public var bytesAdded: UInt64
    public var currentPath: String
    /// Packs made (or being filled) and not yet stored. After an interrupt the backup stores
    /// them before it stops, so the next run reuses their data; on a slow store that takes a while.
    public var packsUnstored: Int
}

/// What a finished backup did.
public struct BackupResult: Sendable {
    public var snapshotID: BlobID
    public var snapshot: Snapshot
    public var summary: Snapshot.Summary
    public var warnings: [BackupWarning]
    /// Whether some source data could not be read (exit code 3).
    public var hadUnreadableData: Bool { warnings.contains { $0.kind == .unreadable } }
    public var secondsElapsed: Double
}


/// Cores available to this process.
public func systemCoreCount() -> Int {
    let available = Int(CShims_available_cores())
    return available > 0 ? available : max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
}
