import Sealing

/// An `index/<id>` object: which blobs are in which pack at which offset (docs/FORMAT.md
/// "Index files"). Written only after all its packs are stored.
struct IndexFile: Sendable {
    struct Pack: Sendable {
        var id: BlobID
        var type: BlobType
        var size: Int
        var blobs: [PackedBlob]
    }

    var packs: [Pack]

    static let magic: [UInt8] = Array("LBI1".utf8)

    func encoded() -> [UInt8] {
        var writer = ByteWriter(capacity: 16 + packs.reduce(0) { $0 + 48 + $1.blobs.count * 40 })
        writer.append(IndexFile.magic)
        writer.appendVarint(packs.count)
        for pack in packs {
            pack.id.withUnsafeBytes { writer.append($0) }
            writer.append(pack.type.rawValue)
            writer.appendVarint(pack.size)
            writer.appendVarint(pack.blobs.count)
            for blob in pack.blobs {
                blob.id.withUnsafeBytes { writer.append($0) }
                writer.appendVarint(blob.offset)
                writer.appendVarint(blob.storedLength)
                writer.appendVarint(blob.plaintextLength)
            }
        }
        return writer.bytes
    }

    init(packs: [Pack]) { self.packs = packs }

    init(decoding bytes: [UInt8], what: String) throws {
        var reader = ByteReader(bytes, what: what)
        guard Array(try reader.bytes(4)) == IndexFile.magic else { throw reader.malformed("not an index (bad magic)") }
        let packCount = try reader.int()
        guard packCount <= bytes.count / 34 else { throw reader.malformed("pack count \(packCount)") }
        var packs: [Pack] = []
        packs.reserveCapacity(packCount)
        for _ in 0..<packCount {
            let id = try reader.bytes(32).withUnsafeBytes { BlobID(bytes: $0) }
            guard let type = BlobType(rawValue: try reader.byte()) else { throw reader.malformed("unknown pack type") }
            let size = try reader.int()
            let blobCount = try reader.int()
            guard blobCount <= bytes.count / 35 else { throw reader.malformed("blob count \(blobCount)") }
            var blobs: [PackedBlob] = []
            blobs.reserveCapacity(blobCount)
            for _ in 0..<blobCount {
                let blobID = try reader.bytes(32).withUnsafeBytes { BlobID(bytes: $0) }
                let offset = try reader.int()
                let stored = try reader.int()
                let plain = try reader.int()
                guard offset <= UInt32.max, stored <= UInt32.max, plain <= UInt32.max, offset + stored <= size else {
                    throw reader.malformed("blob \(blobID.shortHex) lies outside its pack")
                }
                blobs.append(PackedBlob(type: type, id: blobID, offset: offset, storedLength: stored, plaintextLength: plain))
            }
            packs.append(Pack(id: id, type: type, size: size, blobs: blobs))
        }
        guard reader.isAtEnd else { throw reader.malformed("trailing bytes") }
        self.packs = packs
    }
}

/// Where a blob is stored.
public struct BlobLocation: Sendable, Equatable {
    public var pack: BlobID
    public var type: BlobType
    public var offset: Int
    public var storedLength: Int
    public var plaintextLength: Int
}

/// The in-memory index of every blob: a compact open-addressing table (DESIGN §2 budget: at
/// most 64 bytes per blob). Entries are 48 bytes; the slot table adds 4 bytes per slot at a
/// load factor between 0.4 and 0.8. Not thread-safe: the repository guards it with a mutex.
struct MasterIndex: Sendable {
    struct Entry: Sendable {
        var id: BlobID
        var pack: UInt32
        var offset: UInt32
        var storedLength: UInt32
        var plaintextLength: UInt32
    }

    struct PackInfo: Sendable {
        var id: BlobID
        var type: BlobType
        var size: Int
    }

    private(set) var packs: [PackInfo] = []
    private var packNumbers: [BlobID: UInt32] = [:]
    private(set) var entries: ContiguousArray<Entry> = []
    /// 0 = empty, otherwise entry index + 1.
    private var slots: [UInt32] = Array(repeating: 0, count: 1024)

    var count: Int { entries.count }

    /// Bytes this index holds per blob, for the memory budget test and `stats`.
    var bytesPerBlob: Double {
        guard !entries.isEmpty else { return 0 }
        let bytes = entries.capacity * MemoryLayout<Entry>.stride + slots.capacity * 4
            + packs.capacity * MemoryLayout<PackInfo>.stride + packNumbers.capacity * 40
        return Double(bytes) / Double(entries.count)
    }

    mutating func reserve(additional: Int) {
        entries.reserveCapacity(entries.count + additional)
        growIfNeeded(for: entries.count + additional)
    }

    func contains(_ id: BlobID) -> Bool { slot(of: id).found }

    func location(of id: BlobID) -> BlobLocation? {
        let probe = slot(of: id)
        guard probe.found else { return nil }
        let entry = entries[Int(slots[probe.index] - 1)]
        let pack = packs[Int(entry.pack)]
        return BlobLocation(pack: pack.id, type: pack.type, offset: Int(entry.offset),
                            storedLength: Int(entry.storedLength), plaintextLength: Int(entry.plaintextLength))
    }

    /// Adds a pack and its blobs; a blob already indexed elsewhere keeps its first location.
    mutating func add(packID: BlobID, type: BlobType, size: Int, blobs: [PackedBlob]) {
        let number: UInt32
        if let existing = packNumbers[packID] {
            number = existing
        } else {
            number = UInt32(packs.count)
            packs.append(PackInfo(id: packID, type: type, size: size))
            packNumbers[packID] = number
        }
        growIfNeeded(for: entries.count + blobs.count)
        for blob in blobs {
            let probe = slot(of: blob.id)
            if probe.found { continue }
            entries.append(Entry(id: blob.id, pack: number, offset: UInt32(blob.offset),
                                 storedLength: UInt32(blob.storedLength), plaintextLength: UInt32(blob.plaintextLength)))
            slots[probe.index] = UInt32(entries.count)
        }
    }

    func pack(_ id: BlobID) -> PackInfo? { packNumbers[id].map { packs[Int($0)] } }

    /// Every blob with its location, for check and stats.
    func forEach(_ body: (BlobID, BlobLocation) -> Void) {
        for entry in entries {
            let pack = packs[Int(entry.pack)]
            body(entry.id, BlobLocation(pack: pack.id, type: pack.type, offset: Int(entry.offset),
                                        storedLength: Int(entry.storedLength), plaintextLength: Int(entry.plaintextLength)))
        }
    }

    // MARK: - Open addressing

    /// Blob ids are HMAC outputs, so their first word is already a uniform hash.
    private func slot(of id: BlobID) -> (index: Int, found: Bool) {
        let mask = slots.count - 1
        var index = Int(truncatingIfNeeded: id.hashSeed) & mask
        while true {
            let value = slots[index]
            if value == 0 { return (index, false) }
            if entries[Int(value - 1)].id == id { return (index, true) }
            index = (index + 1) & mask
        }
    }

    private mutating func growIfNeeded(for count: Int) {
        guard count * 5 > slots.count * 4 else { return }
        var size = slots.count
        while count * 5 > size * 4 { size *= 2 }
        slots = Array(repeating: 0, count: size)
        let mask = size - 1
        for (number, entry) in entries.enumerated() {
            var index = Int(truncatingIfNeeded: entry.id.hashSeed) & mask
            while slots[index] != 0 { index = (index + 1) & mask }
            slots[index] = UInt32(number + 1)
        }
    }
}

extension BlobID {
    /// The first eight bytes as an integer, used as the hash-table position.
    var hashSeed: UInt64 {
        withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
    }
}
