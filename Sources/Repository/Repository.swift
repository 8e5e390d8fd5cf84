import Chunking
import FoundationEssentials
import Glibc
import ObjectStore
import Sealing
import Synchronization

/// An opened repository (DESIGN §2): its config, the master key, and the in-memory index.
///
/// Safe to share between threads. Readers list snapshots before loading the index, so every
/// blob a listed snapshot needs is already in an index file they read.
public final class Repository: Sendable {
    public let store: any ObjectStore
    public let config: RepositoryConfig
    public let masterKey: MasterKey
    /// The key file that opened the repository.
    public let keyID: String

    let index = Mutex(MasterIndex())
    /// Index files that could not be read, with the reason; `check` reports them.
    let damagedIndexFiles = Mutex<[(key: String, reason: String)]>([])
    private let sealers = Mutex<[PooledSealer]>([])
    private let treeCache = Mutex<[BlobID: Tree]>([:])
    /// Whole tree packs: one request per pack instead of one per directory.
    private let treePacks = TreePackCache(capacity: 256 << 20)

    public static let programVersion = "lifeboat 0.1.0"

    private init(store: any ObjectStore, config: RepositoryConfig, masterKey: MasterKey, keyID: String) {
        self.store = store
        self.config = config
        self.masterKey = masterKey
        self.keyID = keyID
    }

    // MARK: - Creating and opening

    /// Creation settings for `init`.
    public struct Settings: Sendable {
        public var chunker = RepositoryConfig.ChunkerSettings(
            algorithm: "fastcdc", minimumSize: ChunkerParameters.default.minimumSize,
            averageSize: ChunkerParameters.default.averageSize, maximumSize: ChunkerParameters.default.maximumSize)
        public var compressionLevel: Int32 = 3
        public var packSize = 16 << 20
        /// `nil` calibrates scrypt on this machine (about half a second per derivation).
        public var scrypt: ScryptParameters?

        public init() {}
    }

    /// Creates a new repository in an empty store, with one key for `password`.
    public static func initialize(store: any ObjectStore, password: [UInt8], settings: Settings = Settings()) throws -> Repository {
        if try store.size(of: "config") != nil {
            throw RepositoryError(.alreadyExists, "\(store.location): a repository already exists here; use it, or choose another location")
        }
        let config = RepositoryConfig(version: RepositoryConfig.currentVersion, id: SecureRandom.bytes(count: 32).hexString,
                                      chunker: settings.chunker, compressionLevel: settings.compressionLevel,
                                      packSize: settings.packSize)
        try config.validate()
        let masterKey = MasterKey.generate()
        let parameters = try settings.scrypt ?? ScryptParameters.calibrated()
        let keyID = try addKey(to: store, masterKey: masterKey, password: password, parameters: parameters)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try store.put(Array(try encoder.encode(config)), as: "config")
        return Repository(store: store, config: config, masterKey: masterKey, keyID: keyID)
    }

    /// Opens the repository with `password`: reads `config`, then tries every key file.
    ///
    /// Throws `.noRepository` when there is no `config`, `.wrongPassword` when no key opens.
    public static func open(store: any ObjectStore, password: [UInt8],
                            warning: ((String) -> Void)? = nil) throws -> Repository {
        let config = try readConfig(store: store)
        var damaged: [String] = []
        for key in try keyIDs(in: store) {
            // A damaged key file is skipped, not fatal: another key may still open.
            let masterKey: MasterKey?
            do {
                masterKey = try readKeyFile(store: store, id: key).unwrap(password: password, what: "key file keys/\(key.prefix(8))")
            } catch let error as RepositoryError where error.code == .corrupted || error.code == .unsupportedVersion {
                damaged.append(error.message)
                warning?(error.message)
                continue
            }
            if let masterKey {
                return Repository(store: store, config: config, masterKey: masterKey, keyID: key)
            }
        }
        if !damaged.isEmpty {
            throw RepositoryError(.wrongPassword, "\(store.location): no key file opens with this password, and \(damaged.count) key file(s) are damaged; if the password is right, open with another password and add a new key ('lifeboat key add')")
        }
        throw RepositoryError(.wrongPassword, "\(store.location): wrong password: no key file opens with it; check LIFEBOAT_PASSWORD_FILE, LIFEBOAT_PASSWORD_COMMAND or LIFEBOAT_PASSWORD")
    }

    /// Reads and validates `config` without a password (throws `.noRepository` if absent).
    public static func readConfig(store: any ObjectStore) throws -> RepositoryConfig {
        let bytes: [UInt8]
        do {
            bytes = try store.get("config")
        } catch let error as ObjectStoreError where error.code == .notFound {
            if let keys = try? store.list(prefix: "keys/"), !keys.isEmpty {
                throw RepositoryError(.noRepository, "\(store.location): the repository's config object is missing (its keys are there); put back the saved copy of 'config' (docs/OPERATIONS.md)", cause: error)
            }
            throw RepositoryError(.noRepository, "\(store.location): no repository here (no config object); create one with 'lifeboat init --repo \(store.location)' or check --repo / LIFEBOAT_REPOSITORY", cause: error)
        }
        let config: RepositoryConfig
        do {
            config = try JSONDecoder().decode(RepositoryConfig.self, from: Data(bytes))
        } catch {
            throw RepositoryError(.corrupted, "\(store.location)/config: not a valid lifeboat config (\(describeDecodingError(error))); is this a lifeboat repository? Put back the saved copy of 'config'", cause: error)
        }
        try config.validate()
        return config
    }

    // MARK: - Keys

    static func keyIDs(in store: any ObjectStore) throws -> [String] {
        try store.list(prefix: "keys/").map { String($0.key.dropFirst("keys/".count)) }.sorted()
    }

    static func readKeyFile(store: any ObjectStore, id: String) throws -> KeyFile {
        let bytes = try store.get("keys/\(id)")
        guard SHA256.hash(bytes).hex == id else {
            throw RepositoryError(.corrupted, "key file keys/\(id.prefix(8)): checksum mismatch (stored bytes corrupted)")
        }
        do {
            return try JSONDecoder().decode(KeyFile.self, from: Data(bytes))
        } catch {
            throw RepositoryError(.corrupted, "key file keys/\(id.prefix(8)): not a valid key file (\(describeDecodingError(error)))", cause: error)
        }
    }

    @discardableResult
    static func addKey(to store: any ObjectStore, masterKey: MasterKey, password: [UInt8], parameters: ScryptParameters) throws -> String {
        let file = try KeyFile.wrap(masterKey, password: password, parameters: parameters,
                                    host: currentHostName(), username: currentUserName())
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let bytes = Array(try encoder.encode(file))
        let id = SHA256.hash(bytes).hex
        try store.put(bytes, as: "keys/\(id)")
        return id
    }

    /// Adds a key file for `password`; returns its id.
    public func addKey(password: [UInt8]) throws -> String {
        let current = try Repository.readKeyFile(store: store, id: keyID)
        return try Repository.addKey(to: store, masterKey: masterKey, password: password, parameters: current.scryptParameters)
    }

    /// The key files with their metadata, sorted by id.
    public func keys() throws -> [(id: String, file: KeyFile)] {
        try Repository.keyIDs(in: store).map { ($0, try Repository.readKeyFile(store: store, id: $0)) }
    }

    /// Resolves a unique key id prefix.
    public func resolveKey(_ prefix: String) throws -> String {
        let matches = try Repository.keyIDs(in: store).filter { $0.hasPrefix(prefix) }
        guard matches.count == 1 else {
            throw RepositoryError(matches.isEmpty ? .notFound : .invalidArgument,
                                  matches.isEmpty ? "no key '\(prefix)'; see 'lifeboat key list'" : "key prefix '\(prefix)' is ambiguous; give more characters")
        }
        return matches[0]
    }

    /// Removes a key file; refuses to remove the key in use or the last key.
    public func removeKey(_ id: String) throws {
        guard id != keyID else {
            throw RepositoryError(.io, "key \(id.prefix(8)) is the one opening the repository now; open with another password to remove it")
        }
        try store.delete("keys/\(id)")
    }

    // MARK: - Sealing contexts

    /// Runs `body` with a sealer from a small pool; sealers hold C contexts that are costly to make.
    func withSealer<R>(_ body: (BlobSealer) throws -> R) throws -> R {
        let pooled = try sealers.withLock { $0.popLast() } ?? PooledSealer(sealer: makeSealer())
        defer { sealers.withLock { if $0.count < 8 { $0.append(pooled) } } }
        return try body(pooled.sealer)
    }

    func makeSealer() throws -> BlobSealer {
        try BlobSealer(masterKey: masterKey, compressionLevel: config.compressionLevel)
    }

    // MARK: - Index

    /// Loads every index file into memory. A file that cannot be read is recorded in
    /// `damagedIndexFiles` and skipped, so restore of what is still indexed keeps working.
    public func loadIndex() throws {
        try loadIndex(skipping: [])
    }

    private func loadIndex(skipping lost: Set<BlobID>) throws {
        damagedIndexFiles.withLock { $0.removeAll() }
        let files = try store.list(prefix: "index/")
        let decoded = Mutex<[IndexFile]>([])
        let queue = BoundedQueue<String>(capacity: max(1, files.count))
        for file in files { queue.push(file.key) }
        queue.close()
        let failure = FirstError()
        runThreads(count: 2, name: "index") { _ in
            while let key = queue.pop() {
                do {
                    let file = try self.readIndexFile(key)
                    decoded.withLock { $0.append(file) }
                } catch let error as RepositoryError where error.code == .corrupted {
                    self.damagedIndexFiles.withLock { $0.append((key, error.message)) }
                } catch {
                    failure.record(error)
                }
            }
        }
        try failure.throwIfSet()
        let all = decoded.withLock { $0 }
        index.withLock { index in
            index.reserve(additional: all.reduce(0) { $0 + $1.packs.reduce(0) { $0 + $1.blobs.count } })
            for file in all {
                for pack in file.packs where !lost.contains(pack.id) {
                    index.add(packID: pack.id, type: pack.type, size: pack.size, blobs: pack.blobs)
                }
            }
        }
    }

    func readIndexFile(_ key: String) throws -> IndexFile {
        let stored = try store.get(key)
        let name = String(key.dropFirst("index/".count))
        guard SHA256.hash(stored).hex == name else {
            throw RepositoryError(.corrupted, "\(key): checksum mismatch (stored bytes corrupted, or not an index file)")
        }
        let plaintext: [UInt8]
        do {
            plaintext = try withSealer { try $0.openObject(stored, type: ObjectType.index.rawValue) }
        } catch {
            throw RepositoryError(.corrupted, "\(key): does not authenticate (\(error))", cause: error)
        }
        return try IndexFile(decoding: plaintext, what: key)
    }

    /// Stores an index file for `packs`; call only after the packs themselves are stored.
    func writeIndex(_ packs: [IndexFile.Pack]) throws {
        guard !packs.isEmpty else { return }
        let stored = try withSealer { try $0.sealObject(IndexFile(packs: packs).encoded(), type: ObjectType.index.rawValue) }
        try putIgnoringDuplicate(stored, as: "index/\(SHA256.hash(stored).hex)")
    }

    /// Drops from the in-memory index every pack that is missing from the store or has the
    /// wrong size, and returns their keys: a backup must not deduplicate against data that is
    /// gone, or it would write snapshots that cannot be restored. Costs one listing.
    public func forgetLostPacks() throws -> [String] {
        try forgetLostPacks(stored: storedPacks())
    }

    /// Every pack object in the store, key → size (one listing of `data/` and `tree/`).
    func storedPacks() throws -> [String: Int] {
        var stored: [String: Int] = [:]
        for prefix in ["data/", "tree/"] {
            for object in try store.list(prefix: prefix) { stored[object.key] = object.size }
        }
        return stored
    }

    /// ``forgetLostPacks()`` with a listing the caller already has.
    @discardableResult
    func forgetLostPacks(stored: [String: Int]) throws -> [String] {
        let lost: [BlobID: String] = index.withLock { index in
            var lost: [BlobID: String] = [:]
            for pack in index.packs {
                let key = packKey(pack.id, type: pack.type)
                if stored[key] != pack.size { lost[pack.id] = key }
            }
            return lost
        }
        guard !lost.isEmpty else { return [] }
        // The in-memory index keeps one location per blob, which may be the lost copy: load
        // it again without the lost packs, so copies stored since then are found.
        index.withLock { $0 = MasterIndex() }
        try loadIndex(skipping: Set(lost.keys))
        return lost.values.sorted()
    }

    public func location(of id: BlobID) -> BlobLocation? { index.withLock { $0.location(of: id) } }

    public func contains(_ id: BlobID) -> Bool { index.withLock { $0.contains(id) } }

    /// Whether every blob is indexed, under one lock.
    public func containsAll(_ ids: [BlobID]) -> Bool { index.withLock { index in ids.allSatisfy { index.contains($0) } } }

    /// Number of blobs indexed.
    public var indexedBlobCount: Int { index.withLock { $0.count } }

    /// Memory the in-memory index uses per blob, in bytes.
    public var indexBytesPerBlob: Double { index.withLock { $0.bytesPerBlob } }

    /// Stores an object whose name is its content hash: if it already exists with the same
    /// size, the earlier identical write won and this one has nothing to do.
    func putIgnoringDuplicate(_ bytes: [UInt8], as key: String) throws {
        do {
            try store.put(bytes, as: key)
        } catch let error as ObjectStoreError where error.code == .alreadyExists {
            guard try store.size(of: key) == bytes.count else {
                throw RepositoryError(.corrupted, "\(key) exists with a different size than its content hash implies; run 'lifeboat check --read-data'", cause: error)
            }
        }
    }

    // MARK: - Blobs and trees

    /// Reads, authenticates and decompresses one blob.
    public func readBlob(_ id: BlobID, type: BlobType) throws -> [UInt8] {
        guard let location = location(of: id) else {
            throw RepositoryError(.notFound, "\(type) blob \(id.shortHex) is not in the index (missing data); run 'lifeboat check'")
        }
        return try readBlob(id, at: location)
    }

    func readBlob(_ id: BlobID, at location: BlobLocation) throws -> [UInt8] {
        let key = packKey(location.pack, type: location.type)
        if location.type == .tree, let blob = try? treeFromCachedPack(id, at: location, key: key) {
            return blob
        }
        let stored: [UInt8]
        do {
            stored = try store.get(key, range: location.offset..<(location.offset + location.storedLength))
        } catch let error as ObjectStoreError where error.code == .notFound || error.code == .shortRead {
            throw RepositoryError(.corrupted, "pack \(location.pack.shortHex) (\(key)) holding \(location.type) blob \(id.shortHex): \(error.message); run 'lifeboat check'", cause: error)
        }
        do {
            return try openBlob(stored[...], id: id, location: location)
        } catch {
            // A network store can hand back bytes damaged on the way; one fresh read tells that
            // from damage at rest, which fails again.
            let again = try store.get(key, range: location.offset..<(location.offset + location.storedLength))
            return try openBlob(again[...], id: id, location: location)
        }
    }

    /// A tree blob from its whole pack, fetched once (see ``TreePackCache``). Throws when the
    /// pack cannot be fetched or the blob does not authenticate; the caller then reads the
    /// blob alone, which also reports damage the way every other read does.
    private func treeFromCachedPack(_ id: BlobID, at location: BlobLocation, key: String) throws -> [UInt8] {
        let pack = try treePacks.bytes(of: location.pack) { try store.get(key) }
        let end = location.offset + location.storedLength
        do {
            guard end <= pack.count else {
                throw RepositoryError(.corrupted, "pack \(location.pack.shortHex) is shorter than its index says")
            }
            return try openBlob(pack[location.offset..<end], id: id, location: location)
        } catch {
            treePacks.forget(location.pack)
            throw error
        }
    }

    func openBlob(_ stored: ArraySlice<UInt8>, id: BlobID, location: BlobLocation) throws -> [UInt8] {
        do {
            return try withSealer { sealer in
                try stored.withUnsafeBytes {
                    try sealer.open($0, id: id, type: location.type.rawValue, plaintextLength: location.plaintextLength)
                }
            }
        } catch {
            throw RepositoryError(.corrupted, "\(location.type) blob \(id.shortHex) in pack \(location.pack.shortHex): does not authenticate (stored bytes corrupted); run 'lifeboat check --read-data'", cause: error)
        }
    }

    /// Loads and decodes a tree blob (cached: trees are read again and again by restore and diff).
    public func loadTree(_ id: BlobID) throws -> Tree {
        if let cached = treeCache.withLock({ $0[id] }) { return cached }
        let tree = try Tree(decoding: readBlob(id, type: .tree), what: "tree \(id.shortHex)")
        treeCache.withLock { cache in
            if cache.count > 4096 { cache.removeAll(keepingCapacity: true) }
            cache[id] = tree
        }
        return tree
    }

    // MARK: - Snapshots

    /// Every readable snapshot, oldest first. Unreadable ones are returned in `damaged`.
    public func snapshots() throws -> (snapshots: [SnapshotEntry], damaged: [(key: String, reason: String)]) {
        let objects = try store.list(prefix: "snapshots/")
        var result: [SnapshotEntry] = []
        var damaged: [(String, String)] = []
        for object in objects {
            do {
                result.append(try readSnapshot(key: object.key))
            } catch let error as RepositoryError where error.code == .corrupted {
                damaged.append((object.key, error.message))
            }
        }
        result.sort { ($0.snapshot.timestamp, $0.id) < ($1.snapshot.timestamp, $1.id) }
        return (result, damaged)
    }

    func readSnapshot(key: String) throws -> SnapshotEntry {
        let name = String(key.dropFirst("snapshots/".count))
        guard let id = BlobID(hex: name) else {
            throw RepositoryError(.corrupted, "\(key): not a snapshot name")
        }
        let stored = try store.get(key)
        guard SHA256.hash(stored) == id else {
            throw RepositoryError(.corrupted, "\(key): checksum mismatch (stored bytes corrupted)")
        }
        do {
            let plaintext = try withSealer { try $0.openObject(stored, type: ObjectType.snapshot.rawValue) }
            return SnapshotEntry(id: id, snapshot: try JSONDecoder().decode(Snapshot.self, from: Data(plaintext)))
        } catch {
            throw RepositoryError(.corrupted, "\(key): does not authenticate or decode (\(error))", cause: error)
        }
    }

    /// Stores a snapshot create-only: the commit point of a backup.
    public func saveSnapshot(_ snapshot: Snapshot) throws -> BlobID {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let plaintext = Array(try encoder.encode(snapshot))
        let stored = try withSealer { try $0.sealObject(plaintext, type: ObjectType.snapshot.rawValue) }
        let id = SHA256.hash(stored)
        try store.put(stored, as: "snapshots/\(id.hex)")
        return id
    }

    /// Finds a snapshot by `latest` or a unique id prefix; `filter` narrows `latest`.
    public func findSnapshot(_ spec: String, in snapshots: [SnapshotEntry],
                             filter: (Snapshot) -> Bool = { _ in true }) throws -> SnapshotEntry {
        if spec == "latest" {
            guard let latest = snapshots.last(where: { filter($0.snapshot) }) else {
                throw RepositoryError(.notFound, "no snapshot matches 'latest'\(snapshots.isEmpty ? " (the repository has none yet)" : " with these filters"); see 'lifeboat snapshots'")
            }
            return latest
        }
        let matches = snapshots.filter { $0.id.hex.hasPrefix(spec.lowercased()) }
        guard matches.count == 1, !spec.isEmpty else {
            throw RepositoryError(matches.isEmpty ? .notFound : .invalidArgument,
                                  matches.isEmpty ? "no snapshot '\(spec)'; see 'lifeboat snapshots'" : "snapshot prefix '\(spec)' matches \(matches.count) snapshots; give more characters")
        }
        return matches[0]
    }
}

// MARK: - Helpers

/// A sealer parked in the pool. A sealer's C contexts must not be used by two threads at
/// once; the pool guarantees that by handing each one to a single caller under its lock,
/// which the compiler cannot see, hence the unchecked conformance.
private struct PooledSealer: @unchecked Sendable {
    let sealer: BlobSealer
}

extension Array where Element == UInt8 {
    /// Lowercase hex.
    public var hexString: String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(count * 2)
        for byte in self {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// This machine's host name.
public func currentHostName() -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    guard gethostname(&buffer, buffer.count) == 0 else { return "unknown" }
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// The name of the user running lifeboat.
public func currentUserName() -> String {
    UserNames.shared.user(getuid()) ?? String(getuid())
}

/// A short description of a JSON decoding failure, without Swift's type dumps.
func describeDecodingError(_ error: any Error) -> String {
    switch error {
    case DecodingError.keyNotFound(let key, _):
        return "field '\(key.stringValue)' is missing"
    case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
        return "field '\(context.codingPath.map(\.stringValue).joined(separator: "."))' has the wrong type"
    case DecodingError.dataCorrupted(let context):
        return context.codingPath.isEmpty ? "not valid JSON" : "field '\(context.codingPath.map(\.stringValue).joined(separator: "."))' is invalid"
    default:
        return "\(error)"
    }
}
