import Dispatch
import Synchronization

/// A store that writes to a primary store and, at the same time, to mirror stores in other
/// regions (DESIGN §3 "Regions", fan-out mode).
///
/// Reads (`get`, `size(of:)`, `list`) go to the primary only. A `put` goes to the primary
/// and, in parallel, to every mirror that has not failed yet; the primary's outcome is the
/// call's outcome. A mirror that throws anything but `.alreadyExists` is marked failed with
/// its first error and left alone from then on: one unreachable region never fails or blocks
/// a backup. ``mirrorStatuses`` reports which mirrors kept up.
///
/// Objects under `snapshots/` are written to the primary only. A snapshot is the commit
/// point of a backup; a mirror gets it later from the ``Replicator``, after every object it
/// references, so no region ever holds a snapshot whose objects are missing.
public final class FanOutStore: ObjectStore {
    /// A mirror: a store in another region, with the name it is reported under.
    public struct Mirror: Sendable {
        public var name: String
        public var store: any ObjectStore

        public init(name: String, store: any ObjectStore) {
            self.name = name
            self.store = store
        }
    }

    /// How a mirror is doing: `error` is the first error it threw, or nil if it kept up.
    public struct MirrorStatus: Sendable {
        public var name: String
        public var location: String
        public var error: (any Error)?

        public var isHealthy: Bool { error == nil }
    }

    /// The key prefix that only the primary receives (commit objects).
    public static let primaryOnlyPrefix = "snapshots/"

    public let primary: any ObjectStore
    public let mirrors: [Mirror]
    private let failures: Mutex<[(any Error)?]>

    public init(primary: any ObjectStore, mirrors: [Mirror]) {
        self.primary = primary
        self.mirrors = mirrors
        failures = Mutex(Array(repeating: nil, count: mirrors.count))
    }

    /// Each mirror's name, location and first error, in the order given.
    public var mirrorStatuses: [MirrorStatus] {
        let errors = failures.withLock { $0 }
        return mirrors.indices.map { MirrorStatus(name: mirrors[$0].name, location: mirrors[$0].store.location, error: errors[$0]) }
    }

    /// The mirrors that have not failed.
    public var healthyMirrors: [Mirror] {
        let errors = failures.withLock { $0 }
        return mirrors.indices.filter { errors[$0] == nil }.map { mirrors[$0] }
    }

    // MARK: - ObjectStore

    public var location: String { primary.location }

    public var transferConcurrency: Int { primary.transferConcurrency }

    /// Writes to the primary and to every healthy mirror in parallel; waits for all of them.
    ///
    /// Throws what the primary threw. Mirror errors other than `.alreadyExists` only mark the
    /// mirror failed. Keys under `snapshots/` go to the primary only.
    public func put(_ bytes: [UInt8], as key: String) throws {
        guard !key.hasPrefix(Self.primaryOnlyPrefix) else {
            try primary.put(bytes, as: key)
            return
        }
        try onHealthyMirrors { try $0.put(bytes, as: key) } primary: {
            try primary.put(bytes, as: key)
        }
    }

    public func get(_ key: String) throws -> [UInt8] { try primary.get(key) }

    public func get(_ key: String, range: Range<Int>) throws -> [UInt8] { try primary.get(key, range: range) }

    public func size(of key: String) throws -> Int? { try primary.size(of: key) }

    public func list(prefix: String) throws -> [ObjectInfo] { try primary.list(prefix: prefix) }

    /// Deletes from the primary and every healthy mirror; throws what the primary threw.
    public func delete(_ key: String) throws {
        try onHealthyMirrors { try $0.delete(key) } primary: {
            try primary.delete(key)
        }
    }

    // MARK: - Fan-out

    /// Runs `mirrorWork` for each healthy mirror on threads of their own while `primaryWork`
    /// runs on the caller's thread, then waits for all of them.
    private func onHealthyMirrors(_ mirrorWork: @escaping @Sendable (any ObjectStore) throws -> Void,
                                  primary primaryWork: () throws -> Void) throws {
        let healthy = failures.withLock { errors in mirrors.indices.filter { errors[$0] == nil } }
        let group = DispatchGroup()
        for index in healthy {
            let mirror = mirrors[index]
            group.enter()
            // A queue of its own is a thread of its own: a mirror's slow network never waits
            // for a free thread in a shared pool that the primary's writers may be holding.
            DispatchQueue(label: "lifeboat.fanout.\(mirror.name)").async {
                defer { group.leave() }
                do {
                    try mirrorWork(mirror.store)
                } catch let error as ObjectStoreError where error.code == .alreadyExists {
                    return
                } catch {
                    self.failures.withLock { if $0[index] == nil { $0[index] = error } }
                }
            }
        }
        defer { group.wait() }
        try primaryWork()
    }
}
