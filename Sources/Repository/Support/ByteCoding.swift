/// Appends the little-endian, variable-length encodings of the repository's binary formats
/// (trees, index files, pack headers; docs/FORMAT.md "Primitive encodings").
struct ByteWriter {
    var bytes: [UInt8] = []

    init(capacity: Int = 256) { bytes.reserveCapacity(capacity) }

    mutating func append(_ byte: UInt8) { bytes.append(byte) }

    mutating func append(_ other: some Sequence<UInt8>) { bytes.append(contentsOf: other) }

    /// Unsigned LEB128.
    mutating func appendVarint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    mutating func appendVarint(_ value: Int) { appendVarint(UInt64(value)) }

    /// Zig-zag then LEB128, for signed values such as times before 1970.
    mutating func appendSignedVarint(_ value: Int64) {
        appendVarint(UInt64(bitPattern: (value &<< 1) ^ (value >> 63)))
    }

    /// A varint length followed by the bytes.
    mutating func appendLengthPrefixed(_ data: some Collection<UInt8>) {
        appendVarint(UInt64(data.count))
        bytes.append(contentsOf: data)
    }

    mutating func appendUInt32(_ value: UInt32) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func appendUInt64(_ value: UInt64) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }
}

/// Reads what ``ByteWriter`` wrote; every read is bounds-checked and throws
/// ``RepositoryError/Code/corrupted`` naming `what` when the data is malformed.
struct ByteReader {
    private let bytes: [UInt8]
    private(set) var position: Int
    let what: String

    init(_ bytes: [UInt8], what: String) {
        self.bytes = bytes
        self.position = 0
        self.what = what
    }

    var isAtEnd: Bool { position == bytes.count }

    func malformed(_ detail: String) -> RepositoryError {
        RepositoryError(.corrupted, "\(what): malformed (\(detail) at byte \(position)); run 'lifeboat check'")
    }

    mutating func byte() throws -> UInt8 {
        guard position < bytes.count else { throw malformed("unexpected end") }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func bytes(_ count: Int) throws -> ArraySlice<UInt8> {
        guard count >= 0, count <= bytes.count - position else { throw malformed("length \(count) past the end") }
        defer { position += count }
        return bytes[position..<position + count]
    }

    mutating func varint() throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let byte = try self.byte()
            guard shift < 64 else { throw malformed("varint too long") }
            result |= UInt64(byte & 0x7f) << shift
            if byte < 0x80 { return result }
            shift += 7
        }
    }

    mutating func int() throws -> Int {
        let value = try varint()
        guard value <= UInt64(Int.max) else { throw malformed("value out of range") }
        return Int(value)
    }

    mutating func uint32() throws -> UInt32 {
        let value = try varint()
        guard value <= UInt64(UInt32.max) else { throw malformed("value out of range") }
        return UInt32(value)
    }

    mutating func signedVarint() throws -> Int64 {
        let raw = try varint()
        return Int64(bitPattern: raw >> 1) ^ -Int64(bitPattern: raw & 1)
    }

    mutating func lengthPrefixed() throws -> [UInt8] {
        let count = try int()
        return Array(try bytes(count))
    }

    mutating func fixedUInt32() throws -> UInt32 {
        let slice = try bytes(4)
        var value: UInt32 = 0
        for (shift, byte) in zip(stride(from: 0, to: 32, by: 8), slice) { value |= UInt32(byte) << UInt32(shift) }
        return value
    }

    mutating func fixedUInt64() throws -> UInt64 {
        let slice = try bytes(8)
        var value: UInt64 = 0
        for (shift, byte) in zip(stride(from: 0, to: 64, by: 8), slice) { value |= UInt64(byte) << UInt64(shift) }
        return value
    }
}
