import Sealing

/// Blob and object types; the values are authenticated with every sealed blob (docs/FORMAT.md).
public enum BlobType: UInt8, Sendable, CustomStringConvertible {
    case data = 0
    case tree = 1

    public var description: String { self == .data ? "data" : "tree" }

    /// The key prefix of packs that hold blobs of this type: data packs can go to cold
    /// storage while tree packs stay hot.
    var packPrefix: String { self == .data ? "data" : "tree" }
}

/// Types of whole sealed objects (not blobs), authenticated like blob types.
enum ObjectType: UInt8 {
    case packHeader = 2
    case index = 3
    case snapshot = 4
}

/// One blob inside a pack, as listed in the pack header and the index.
public struct PackedBlob: Sendable, Equatable {
    public var type: BlobType
    public var id: BlobID
    public var offset: Int
    public var storedLength: Int
    public var plaintextLength: Int

    public init(type: BlobType, id: BlobID, offset: Int, storedLength: Int, plaintextLength: Int) {
        self.type = type
        self.id = id
        self.offset = offset
        self.storedLength = storedLength
        self.plaintextLength = plaintextLength
    }
}

/// The object key of a pack: `data/ab/abcd…` or `tree/ab/abcd…`.
public func packKey(_ id: BlobID, type: BlobType) -> String {
    let hex = id.hex
    return "\(type.packPrefix)/\(hex.prefix(2))/\(hex)"
}

/// Builds one pack: sealed blobs back to back, then the sealed header and its length
/// (docs/FORMAT.md "Packs"). Owned by one thread at a time.
struct PackBuilder {
    let type: BlobType
    private(set) var bytes: [UInt8] = []
    private(set) var blobs: [PackedBlob] = []

    init(type: BlobType, capacity: Int) {
        self.type = type
        bytes.reserveCapacity(capacity + capacity / 8)
    }

    var isEmpty: Bool { blobs.isEmpty }
    var count: Int { bytes.count }

    /// Seals `plaintext` into the pack.
    mutating func add(_ plaintext: UnsafeRawBufferPointer, id: BlobID, sealer: BlobSealer) throws {
        let offset = bytes.count
        let stored = try sealer.seal(plaintext, id: id, type: type.rawValue, appendingTo: &bytes)
        blobs.append(PackedBlob(type: type, id: id, offset: offset, storedLength: stored, plaintextLength: plaintext.count))
    }

    /// Appends a blob sealed elsewhere (by a worker, outside the pack's lock).
    mutating func append(sealed: UnsafeRawBufferPointer, id: BlobID, plaintextLength: Int) {
        let offset = bytes.count
        bytes.append(contentsOf: sealed)
        blobs.append(PackedBlob(type: type, id: id, offset: offset, storedLength: sealed.count, plaintextLength: plaintextLength))
    }

    /// Appends the header and returns the finished pack bytes, its id and its blobs.
    mutating func finish(sealer: BlobSealer) throws -> FinishedPack {
        var header = ByteWriter(capacity: 8 + blobs.count * 42)
        header.append(PackHeader.magic)
        header.appendVarint(blobs.count)
        for blob in blobs {
            header.append(blob.type.rawValue)
            blob.id.withUnsafeBytes { header.append($0) }
            header.appendVarint(blob.storedLength)
            header.appendVarint(blob.plaintextLength)
        }
        let sealedHeader = try sealer.sealObject(header.bytes, type: ObjectType.packHeader.rawValue)
        bytes.append(contentsOf: sealedHeader)
        var trailer = ByteWriter(capacity: 4)
        trailer.appendUInt32(UInt32(sealedHeader.count))
        bytes.append(contentsOf: trailer.bytes)
        let id = SHA256.hash(bytes)
        let pack = FinishedPack(id: id, type: type, bytes: bytes, blobs: blobs)
        bytes = []
        blobs = []
        return pack
    }
}

/// A pack ready for upload.
struct FinishedPack: Sendable {
    var id: BlobID
    var type: BlobType
    var bytes: [UInt8]
    var blobs: [PackedBlob]
}

/// Reads a pack's header back (for `check --read-data`).
enum PackHeader {
    static let magic: [UInt8] = Array("LBP1".utf8)

    /// Parses the header at the end of `pack` (the whole stored pack); `what` names the pack in errors.
    static func blobs(in pack: [UInt8], sealer: BlobSealer, what: String) throws -> [PackedBlob] {
        guard pack.count >= 4 + BlobSealer.overhead else {
            throw RepositoryError(.corrupted, "\(what): too short to be a pack (\(pack.count) bytes)")
        }
        var trailer = ByteReader(Array(pack[(pack.count - 4)...]), what: what)
        let headerLength = Int(try trailer.fixedUInt32())
        guard headerLength <= pack.count - 4 else {
            throw RepositoryError(.corrupted, "\(what): header length \(headerLength) exceeds the pack")
        }
        let headerStart = pack.count - 4 - headerLength
        let plaintext: [UInt8]
        do {
            plaintext = try sealer.openObject(Array(pack[headerStart..<(pack.count - 4)]), type: ObjectType.packHeader.rawValue)
        } catch {
            throw RepositoryError(.corrupted, "\(what): header does not authenticate (\(error))", cause: error)
        }
        var reader = ByteReader(plaintext, what: "\(what) header")
        guard Array(try reader.bytes(4)) == magic else { throw reader.malformed("bad magic") }
        let count = try reader.int()
        var offset = 0
        var blobs: [PackedBlob] = []
        for _ in 0..<min(count, pack.count) {
            guard let type = BlobType(rawValue: try reader.byte()) else { throw reader.malformed("unknown blob type") }
            let id = try reader.bytes(32).withUnsafeBytes { BlobID(bytes: $0) }
            let stored = try reader.int()
            let plain = try reader.int()
            blobs.append(PackedBlob(type: type, id: id, offset: offset, storedLength: stored, plaintextLength: plain))
            offset += stored
        }
        guard offset == headerStart else {
            throw RepositoryError(.corrupted, "\(what): header lists \(offset) bytes of blobs but the pack holds \(headerStart)")
        }
        return blobs
    }
}
