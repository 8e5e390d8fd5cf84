import Dispatch
import Sealing
import Synchronization

/// Copies a repository's objects from one store to another, as they are: same names, same
/// ciphertext (DESIGN §3 "Regions", copy-afterwards mode). No password is needed.
///
/// What is missing in the destination is copied in the order that keeps every region
/// readable at every moment: `config`, `keys/`, packs (`data/`, `tree/`), `index/`, any
/// other prefix (`wal/`, `drills/`, kinds added later), and `snapshots/` last. Snapshots are
/// copied only if everything before them succeeded, so a region never holds a snapshot
/// whose objects are missing (as long as the source itself is complete).
///
/// Every copy is verified before it is written: the bytes read must have the listed size,
/// and an object named by the SHA-256 of its content (key files, packs, index files,
/// snapshots; docs/FORMAT.md) must hash to its name. An object that exists in the
/// destination with a different size is a conflict: reported, never overwritten.
///
/// Copying is idempotent and resumable: a run lists both stores and copies only what the
/// destination lacks; an object another writer stored meanwhile counts as present.
public enum Replicator {
    /// An object present on both sides with different sizes; left as it is.
    public struct Conflict: Sendable, Hashable {
        public var key: String
        public var sourceSize: Int
        public var destinationSize: Int

        public init(key: String, sourceSize: Int, destinationSize: Int) {
            self.key = key
            self.sourceSize = sourceSize
            self.destinationSize = destinationSize
        }
    }

    /// An object that could not be copied, and why.
    public struct Failure: Sendable {
        public var key: String
        public var error: any Error
    }

    /// What happened to one object that was missing in the destination.
    public enum Outcome: Sendable {
        /// Read, verified and written.
        case copied
        /// Another writer stored it meanwhile, with the same size.
        case alreadyPresent
        /// The destination holds it with a different size.
        case conflict
        /// It could not be read, verified or written.
        case failed
    }

    /// Progress after each object that was missing in the destination.
    public struct Event: Sendable {
        public var key: String
        public var size: Int
        public var outcome: Outcome
        /// Objects handled so far, of `objectsToCopy` missing at the start.
        public var objectsDone: Int
        public var objectsToCopy: Int
        /// Bytes of the objects handled so far, of `bytesToCopy`.
        public var bytesDone: UInt64
        public var bytesToCopy: UInt64
    }

    /// The result of one run.
    public struct Summary: Sendable {
        /// Objects in the source (within the prefixes asked for).
        public var objectsInSource = 0
        /// Objects read, verified and written.
        public var objectsCopied = 0
        public var bytesCopied: UInt64 = 0
        /// Objects the destination already held with the right size.
        public var objectsPresent = 0
        /// Snapshots among the objects copied.
        public var snapshotsCopied = 0
        /// Snapshots missing in the destination that were not copied because an earlier
        /// object failed or conflicted, or the run was cancelled.
        public var snapshotsSkipped = 0
        public var conflicts: [Conflict] = []
        public var failures: [Failure] = []
        /// `isCancelled` returned true before the run finished.
        public var cancelled = false

        /// Whether the destination now holds everything the source held when it was listed.
        public var isComplete: Bool { conflicts.isEmpty && failures.isEmpty && snapshotsSkipped == 0 && !cancelled }
    }

    /// Prefixes whose objects are named by the SHA-256 of their bytes (docs/FORMAT.md).
    public static let contentNamedPrefixes = ["keys/", "data/", "tree/", "index/", "snapshots/"]

    /// The most bytes of object content held in memory at once by default (all workers together).
    public static let defaultMemoryBudget = 1 << 30

    /// Copies what `destination` lacks from `source`, snapshots last.
    ///
    /// - Parameters:
    ///   - prefixes: key prefixes to copy (as ``ObjectStore/list(prefix:)`` takes them);
    ///     `nil` copies everything in the repository.
    ///   - memoryBudget: the most object bytes held at once; fewer copies run in parallel
    ///     when objects are large (each copy holds one whole object).
    ///   - progress: called from worker threads after each object that was missing.
    ///   - isCancelled: polled between objects; a cancelled run copies no further objects
    ///     and no snapshots.
    /// - Returns: what was copied, and per object what failed or conflicted.
    /// - Throws: ``ObjectStoreError`` if either store cannot be listed, the source holds no
    ///   repository (`.notFound`), or the destination holds a different one (`.alreadyExists`).
    public static func copy(from source: any ObjectStore, to destination: any ObjectStore,
                            prefixes: [String]? = nil, memoryBudget: Int = defaultMemoryBudget,
                            progress: (@Sendable (Event) -> Void)? = nil,
                            isCancelled: @escaping @Sendable () -> Bool = { false }) throws -> Summary {
        try requireSameRepository(source: source, destination: destination)
        let sourceObjects = try listSource(source, prefixes: prefixes)
        var destinationSizes: [String: Int] = [:]
        for prefix in prefixes ?? [""] {
            for object in try destination.list(prefix: prefix) { destinationSizes[object.key] = object.size }
        }

        var summary = Summary()
        summary.objectsInSource = sourceObjects.count
        var missing: [Phase: [ObjectInfo]] = [:]
        for object in sourceObjects {
            switch destinationSizes[object.key] {
            case object.size?:
                summary.objectsPresent += 1
            case let size?:
                summary.conflicts.append(Conflict(key: object.key, sourceSize: object.size, destinationSize: size))
            case nil:
                missing[Phase(of: object.key), default: []].append(object)
            }
        }
        let toCopy = missing.values.joined()
        let run = Run(source: source, destination: destination, summary: summary, objectsToCopy: toCopy.count,
                      bytesToCopy: toCopy.reduce(0) { $0 + UInt64($1.size) }, progress: progress, isCancelled: isCancelled)
        let concurrency = min(16, max(2, source.transferConcurrency, destination.transferConcurrency))
        for phase in Phase.allCases {
            let objects = (missing[phase] ?? []).sorted { $0.key < $1.key }
            if phase == .snapshots, !run.mayCopySnapshots {
                run.skipSnapshots(objects.count)
                break
            }
            guard !objects.isEmpty else { continue }
            let largest = objects.map(\.size).max() ?? 1
            let workers = max(1, min(concurrency, objects.count, memoryBudget / max(1, largest)))
            run.copy(objects, workers: workers)
        }
        return run.finish()
    }

    // MARK: - Listing

    /// The order objects are copied in; each phase finishes before the next starts.
    enum Phase: Int, CaseIterable {
        case config, keys, packs, index, other, snapshots

        init(of key: String) {
            if key == "config" {
                self = .config
            } else if key.hasPrefix("keys/") {
                self = .keys
            } else if key.hasPrefix("data/") || key.hasPrefix("tree/") {
                self = .packs
            } else if key.hasPrefix("index/") {
                self = .index
            } else if key.hasPrefix(FanOutStore.primaryOnlyPrefix) {
                self = .snapshots
            } else {
                self = .other
            }
        }
    }

    /// Refuses to mix two repositories: a destination that has a `config` must have the
    /// source's, byte for byte.
    private static func requireSameRepository(source: any ObjectStore, destination: any ObjectStore) throws {
        let sourceConfig: [UInt8]
        do {
            sourceConfig = try source.get("config")
        } catch let error as ObjectStoreError where error.code == .notFound {
            throw ObjectStoreError(.notFound, "\(source.location) holds no repository (no config object); nothing to replicate from it", cause: error)
        }
        guard try destination.size(of: "config") != nil else { return }
        guard try destination.get("config") == sourceConfig else {
            throw ObjectStoreError(.alreadyExists, "\(destination.location) holds a different repository than \(source.location) (their config objects differ); replication never mixes repositories: choose an empty destination")
        }
    }

    /// The source's objects. Snapshots are listed first and only those are kept: a snapshot
    /// written while the rest was being listed may reference objects the listing missed
    /// (the same rule as readers follow, docs/FORMAT.md "Write order").
    private static func listSource(_ source: any ObjectStore, prefixes: [String]?) throws -> [ObjectInfo] {
        let snapshotPrefix = FanOutStore.primaryOnlyPrefix
        let prefixes = prefixes ?? [""]
        let coversSnapshots = prefixes.contains { snapshotPrefix.hasPrefix($0) || $0.hasPrefix(snapshotPrefix) }
        var snapshots: [String: Int] = [:]
        if coversSnapshots {
            for object in try source.list(prefix: snapshotPrefix) { snapshots[object.key] = object.size }
        }
        var objects: [String: Int] = [:]
        for prefix in prefixes {
            for object in try source.list(prefix: prefix) where !object.key.hasPrefix(snapshotPrefix) {
                objects[object.key] = object.size
            }
        }
        for (key, size) in snapshots where prefixes.contains(where: { key.hasPrefix($0) }) {
            objects[key] = size
        }
        return objects.map { ObjectInfo(key: $0.key, size: $0.value) }
    }

    /// Whether `key` is named by the SHA-256 of its content: the last component is 64
    /// lowercase hex digits under one of ``contentNamedPrefixes``.
    static func contentName(of key: String) -> String? {
        guard contentNamedPrefixes.contains(where: { key.hasPrefix($0) }) else { return nil }
        let name = key.split(separator: "/").last.map(String.init) ?? ""
        guard name.utf8.count == 64,
              name.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) })
        else { return nil }
        return name
    }
}

// MARK: - One run

extension Replicator {
    /// The shared state of one ``copy(from:to:prefixes:memoryBudget:progress:isCancelled:)``.
    private final class Run: Sendable {
        struct State {
            var summary: Summary
            var objectsDone = 0
            var bytesDone: UInt64 = 0
            /// Set by an error that will fail every further write (no space, no access, no
            /// connection): the remaining objects are not tried.
            var stopped = false
        }

        let source: any ObjectStore
        let destination: any ObjectStore
        let objectsToCopy: Int
        let bytesToCopy: UInt64
        let progress: (@Sendable (Event) -> Void)?
        let isCancelled: @Sendable () -> Bool
        let state: Mutex<State>

        init(source: any ObjectStore, destination: any ObjectStore, summary: Summary, objectsToCopy: Int,
             bytesToCopy: UInt64, progress: (@Sendable (Event) -> Void)?, isCancelled: @escaping @Sendable () -> Bool) {
            self.source = source
            self.destination = destination
            self.objectsToCopy = objectsToCopy
            self.bytesToCopy = bytesToCopy
            self.progress = progress
            self.isCancelled = isCancelled
            state = Mutex(State(summary: summary))
        }

        /// True while nothing has failed, conflicted, stopped or been cancelled.
        var mayCopySnapshots: Bool {
            if isCancelled() { state.withLock { $0.summary.cancelled = true } }
            return state.withLock { $0.summary.isComplete && !$0.stopped }
        }

        func skipSnapshots(_ count: Int) {
            state.withLock { $0.summary.snapshotsSkipped += count }
        }

        func finish() -> Summary {
            state.withLock { $0.summary }
        }

        /// Copies `objects` on `workers` threads; returns when all are done or the run stops.
        func copy(_ objects: [ObjectInfo], workers: Int) {
            let next = Atomic<Int>(0)
            let group = DispatchGroup()
            for worker in 0..<workers {
                group.enter()
                DispatchQueue(label: "lifeboat.replicate.\(worker)").async {
                    defer { group.leave() }
                    while true {
                        if self.isCancelled() {
                            self.state.withLock { $0.summary.cancelled = true }
                            return
                        }
                        if self.state.withLock({ $0.stopped }) { return }
                        let index = next.wrappingAdd(1, ordering: .relaxed).oldValue
                        guard index < objects.count else { return }
                        self.copyOne(objects[index])
                    }
                }
            }
            group.wait()
        }

        private func copyOne(_ object: ObjectInfo) {
            let outcome: Outcome
            var failure: (any Error)?
            var conflictSize = 0
            do {
                let bytes = try readVerified(object)
                do {
                    try destination.put(bytes, as: object.key)
                    outcome = .copied
                } catch let error as ObjectStoreError where error.code == .alreadyExists {
                    // Another writer (a backup fanning out, a second replicate) got there first.
                    let size = try destination.size(of: object.key)
                    if size == bytes.count {
                        outcome = .alreadyPresent
                    } else {
                        outcome = .conflict
                        conflictSize = size ?? 0
                    }
                }
            } catch {
                outcome = .failed
                failure = error
            }
            let event: Event = state.withLock { state in
                switch outcome {
                case .copied:
                    state.summary.objectsCopied += 1
                    state.summary.bytesCopied += UInt64(object.size)
                    if Phase(of: object.key) == .snapshots { state.summary.snapshotsCopied += 1 }
                case .alreadyPresent:
                    state.summary.objectsPresent += 1
                case .conflict:
                    state.summary.conflicts.append(Conflict(key: object.key, sourceSize: object.size, destinationSize: conflictSize))
                case .failed:
                    state.summary.failures.append(Failure(key: object.key, error: failure!))
                    if let error = failure as? ObjectStoreError, Run.stopsEverything(error) { state.stopped = true }
                }
                state.objectsDone += 1
                state.bytesDone += UInt64(object.size)
                return Event(key: object.key, size: object.size, outcome: outcome, objectsDone: state.objectsDone,
                             objectsToCopy: objectsToCopy, bytesDone: state.bytesDone, bytesToCopy: bytesToCopy)
            }
            progress?(event)
        }

        /// Reads `object` from the source and checks its size and, if content-named, its hash.
        private func readVerified(_ object: ObjectInfo) throws -> [UInt8] {
            let bytes = try source.get(object.key)
            guard bytes.count == object.size else {
                throw ObjectStoreError(.corrupted, "\(object.key) in \(source.location): listed with \(object.size) bytes but \(bytes.count) were read; the source object is damaged or was replaced; not copied")
            }
            if let name = Replicator.contentName(of: object.key), SHA256.hash(bytes).hex != name {
                throw ObjectStoreError(.corrupted, "\(object.key) in \(source.location): checksum mismatch (its bytes do not hash to its name: the source copy is corrupted); not copied; run 'lifeboat check --read-data' on the source")
            }
            return bytes
        }

        /// Errors that every further write would hit too.
        private static func stopsEverything(_ error: ObjectStoreError) -> Bool {
            error.code == .noSpace || error.code == .permissionDenied || error.code == .unavailable
        }
    }
}
