/// A 32-byte identifier: the HMAC-SHA256 of a blob's plaintext, or the SHA-256 digest of a pack.
///
/// Held as four 64-bit words so that hashing and comparison cost a few instructions (the
/// repository's index holds millions of these). Ordering is the lexicographic order of the
/// bytes, so sorting by `BlobID` sorts by ``hex``. Encodes as its lowercase hex string.
public struct BlobID: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The 32 bytes in memory order: each word is loaded as-is, without byte swapping.
    @usableFromInline
    internal let words: (UInt64, UInt64, UInt64, UInt64)

    /// The number of bytes in an identifier.
    public static let byteCount = 32

    /// The all-zero identifier (used as the id of whole-file objects in the sealing envelope).
    public static let zero = BlobID(words: (0, 0, 0, 0))

    @inlinable
    internal init(words: (UInt64, UInt64, UInt64, UInt64)) {
        self.words = words
    }

    /// Creates an identifier from exactly 32 bytes.
    @inlinable
    public init(bytes: UnsafeRawBufferPointer) {
        precondition(bytes.count == BlobID.byteCount, "a BlobID is 32 bytes, got \(bytes.count)")
        words = (bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self),
                 bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self),
                 bytes.loadUnaligned(fromByteOffset: 16, as: UInt64.self),
                 bytes.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
    }

    /// Creates an identifier from exactly 32 bytes.
    @inlinable
    public init(_ bytes: [UInt8]) {
        self = bytes.withUnsafeBytes { BlobID(bytes: $0) }
    }

    /// Parses 64 hexadecimal characters (either case); returns nil for anything else.
    public init?(hex: String) {
        var text = hex
        text.makeContiguousUTF8()  // a no-op for native strings; bridged ones get a contiguous copy
        guard let parsed = text.utf8.withContiguousStorageIfAvailable(BlobID.parse(hexDigits:)) ?? nil else {
            return nil
        }
        self = parsed
    }

    private static func parse(hexDigits: UnsafeBufferPointer<UInt8>) -> BlobID? {
        guard hexDigits.count == 2 &* BlobID.byteCount else { return nil }
        var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        let ok = withUnsafeMutableBytes(of: &words) { out -> Bool in
            for index in 0..<BlobID.byteCount {
                guard let high = hexValue(hexDigits[2 &* index]), let low = hexValue(hexDigits[2 &* index &+ 1]) else {
                    return false
                }
                out[index] = high &<< 4 | low
            }
            return true
        }
        return ok ? BlobID(words: words) : nil
    }

    /// Calls `body` with the 32 bytes, without copying them into an array.
    @inlinable
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try Swift.withUnsafeBytes(of: words, body)
    }

    /// The 32 bytes, as a new array.
    public var bytes: [UInt8] {
        withUnsafeBytes { Array($0) }
    }

    /// The 64-character lowercase hexadecimal form.
    public var hex: String {
        hexPrefix(byteCount: BlobID.byteCount)
    }

    /// The first 8 hexadecimal characters, for messages and logs.
    public var shortHex: String {
        hexPrefix(byteCount: 4)
    }

    public var description: String { hex }

    private func hexPrefix(byteCount: Int) -> String {
        withUnsafeBytes { bytes in
            String(unsafeUninitializedCapacity: 2 &* byteCount) { out in
                for index in 0..<byteCount {
                    let byte = bytes[index]
                    out[2 &* index] = hexDigit(byte &>> 4)
                    out[2 &* index &+ 1] = hexDigit(byte & 0x0f)
                }
                return 2 &* byteCount
            }
        }
    }

    // MARK: - Hashable, Comparable

    @inlinable
    public static func == (lhs: BlobID, rhs: BlobID) -> Bool {
        lhs.words.0 == rhs.words.0 && lhs.words.1 == rhs.words.1
            && lhs.words.2 == rhs.words.2 && lhs.words.3 == rhs.words.3
    }

    @inlinable
    public func hash(into hasher: inout Hasher) {
        hasher.combine(words.0)
        hasher.combine(words.1)
        hasher.combine(words.2)
        hasher.combine(words.3)
    }

    /// Lexicographic byte order: each word is read big-endian, so the first byte weighs most.
    @inlinable
    public static func < (lhs: BlobID, rhs: BlobID) -> Bool {
        let l0 = UInt64(bigEndian: lhs.words.0), r0 = UInt64(bigEndian: rhs.words.0)
        if l0 != r0 { return l0 < r0 }
        let l1 = UInt64(bigEndian: lhs.words.1), r1 = UInt64(bigEndian: rhs.words.1)
        if l1 != r1 { return l1 < r1 }
        let l2 = UInt64(bigEndian: lhs.words.2), r2 = UInt64(bigEndian: rhs.words.2)
        if l2 != r2 { return l2 < r2 }
        return UInt64(bigEndian: lhs.words.3) < UInt64(bigEndian: rhs.words.3)
    }
}

extension BlobID: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let id = BlobID(hex: text) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "expected 64 hexadecimal characters for a blob id, got '\(text.prefix(80))'")
        }
        self = id
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(hex)
    }
}
