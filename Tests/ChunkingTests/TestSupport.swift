import Chunking

/// Deterministic test input: Marsaglia's xorshift64 with shifts (13, 7, 17), each 64-bit state
/// written as 8 little-endian bytes, starting from the state after one step from `seed`.
func xorshiftBytes(count: Int, seed: UInt64 = 0x0123_4567_89AB_CDEF) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: (count + 7) & ~7)
    var state = seed
    bytes.withUnsafeMutableBytes { raw in
        var offset = 0
        while offset < raw.count {
            state ^= state &<< 13
            state ^= state &>> 7
            state ^= state &<< 17
            raw.storeBytes(of: state.littleEndian, toByteOffset: offset, as: UInt64.self)
            offset &+= 8
        }
    }
    bytes.removeLast(bytes.count - count)
    return bytes
}

/// The key used by the known-answer tests: bytes 0, 1, …, 31.
let sequentialKey: [UInt8] = (0..<32).map { UInt8($0) }

/// Inputs shared between tests, generated once per process.
enum SharedInput {
    static let random64MiB = xorshiftBytes(count: 64 << 20, seed: 0x5EED_0000_0000_0064)
    static let random100MB = xorshiftBytes(count: 100_000_000, seed: 0x5EED_0000_0000_0100)
}

extension Chunker {
    /// The lengths of the chunks of a whole array.
    func lengths(of bytes: [UInt8]) -> [Int] {
        bytes.withUnsafeBytes { chunkLengths(of: $0) }
    }

    /// The end offsets of the chunks of a whole array.
    func cutOffsets(of bytes: [UInt8]) -> [Int] {
        var offset = 0
        return lengths(of: bytes).map { offset += $0; return offset }
    }

    /// A position-independent fingerprint of each chunk's contents.
    func chunkDigests(of bytes: [UInt8]) -> [ChunkDigest] {
        var digests = [ChunkDigest]()
        bytes.withUnsafeBytes { raw in
            forEachChunk(in: raw) { chunk in
                var hasher = Hasher()
                hasher.combine(bytes: chunk)
                digests.append(ChunkDigest(length: chunk.count, hash: hasher.finalize()))
            }
        }
        return digests
    }
}

struct ChunkDigest: Hashable {
    var length: Int
    var hash: Int
}

/// The cut-point rule of `FastCDC`'s documentation, one byte at a time and without the
/// two-bytes-per-step loop, as an independent check of the optimised implementation.
func referenceCutPoint(_ bytes: ArraySlice<UInt8>, parameters p: ChunkerParameters, gear: GearTable,
                       isEndOfInput: Bool = true) -> Int {
    let n = bytes.count
    if n <= p.minimumSize { return n }
    let end = min(n, p.maximumSize)
    let k = p.averageSize.trailingZeroBitCount
    func mask(_ bits: Int) -> UInt64 { (0..<bits).reduce(0) { $0 | 1 << UInt64(62 - 2 * $1) } }
    let maskS = mask(k + 2), maskL = mask(k - 2)
    var hash: UInt64 = 0
    for i in p.minimumSize..<end {
        hash = (hash &<< 1) &+ gear[bytes[bytes.startIndex + i]]
        if hash & (i < p.averageSize ? maskS : maskL) == 0 { return i + 1 }
    }
    return end
}
