/// How to restore (the flags of `lifeboat restore`).
public struct RestoreOptions: Sendable {
    /// The directory to restore into; created if missing.
    public var target: String
    /// The path inside the snapshot to restore (`ID:subpath`); its contents land in `target`.
    public var subpath: String = "/"
    /// Patterns (as for backup excludes) matched against paths inside the snapshot; when any
    /// are given, only matching entries and what lies below them are restored.
    public var includes: [String] = []
    public var excludes: [String] = []
    /// Re-read every restored file and check it against the snapshot.
    public var verify = false
    /// Restore owners (default: when running as root).
    public var restoreOwnership: Bool
    /// Threads that fetch, unseal and write; more than cores, so disk waits overlap.
    public var workers = max(2, systemCoreCount()) + 2
    public var progress: (@Sendable (RestoreProgress) -> Void)?
    public var warning: (@Sendable (String) -> Void)?
    public var isCancelled: @Sendable () -> Bool = { false }

    public init(target: String) {
        self.target = target
        restoreOwnership = geteuidIsRoot()
    }
}

/// Counters for the progress display.
public struct RestoreProgress: Sendable {
    public var secondsElapsed: Double
    public var filesDone: Int
    public var filesTotal: Int
    public var bytesDone: UInt64
    public var bytesTotal: UInt64
}

/// What a finished restore did.
public struct RestoreResult: Sendable {
    public var files = 0
    public var directories = 0
    public var otherEntries = 0
    public var bytes: UInt64 = 0
    public var filesVerified = 0
    /// Entries that could not be restored, with the reason (exit code 1 when not empty).
    public var errors: [String] = []
    public var secondsElapsed: Double = 0
}

import Glibc

func geteuidIsRoot() -> Bool { geteuid() == 0 }
