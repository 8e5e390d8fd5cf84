/// A flat namespace of immutable objects addressed by slash-separated keys
/// (`config`, `keys/<id>`, `data/<name>`), as DESIGN §2 and §3 describe.
///
/// Every method is synchronous and safe to call from many threads at once; the
/// repository's worker pools give each call its own thread. Objects are never
/// rewritten: `put` creates, and the only deletes are prune's.
public protocol ObjectStore: Sendable {
    /// A human-readable location for messages, e.g. `/srv/backups/repo` or `s3://bucket/prefix`.
    var location: String { get }

    /// Creates the object `key` with `bytes`, atomically: readers see either nothing or all of it.
    ///
    /// Throws ``ObjectStoreError`` with code `.alreadyExists` if the object exists already
    /// (the existing object is left as it was).
    func put(_ bytes: [UInt8], as key: String) throws

    /// Reads the whole object. Throws `.notFound` if it does not exist.
    func get(_ key: String) throws -> [UInt8]

    /// Reads `range` (byte offsets) of the object. Throws `.notFound`, or `.shortRead` if the
    /// object ends before `range.upperBound`.
    func get(_ key: String, range: Range<Int>) throws -> [UInt8]

    /// The object's size in bytes, or `nil` if it does not exist.
    func size(of key: String) throws -> Int?

    /// Every object whose key starts with `prefix`, in no particular order.
    func list(prefix: String) throws -> [ObjectInfo]

    /// Deletes the object; deleting an absent object is not an error.
    func delete(_ key: String) throws

    /// How many large writes are worth running at once: 1 for a local disk (parallel writes
    /// only compete for it), more for a network store whose latency they hide.
    var transferConcurrency: Int { get }
}

extension ObjectStore {
    public var transferConcurrency: Int { 1 }
}

/// One listed object.
public struct ObjectInfo: Sendable, Hashable {
    public var key: String
    public var size: Int

    public init(key: String, size: Int) {
        self.key = key
        self.size = size
    }
}
