/// Content-defined chunking with FastCDC and normalised chunking (Xia et al., USENIX ATC 2016;
/// IEEE TPDS 2020), using a keyed ``GearTable``.
///
/// ## Cut-point rule (part of the repository format)
///
/// Let `min`, `avg` (= 2^k) and `max` be the ``ChunkerParameters`` and `n` the number of bytes
/// available (`n ≥ max` unless the stream ends). The chunk starting at offset 0 is found so:
///
/// 1. If the stream ends within `min` bytes, the chunk is the rest of the stream.
/// 2. The first `min` bytes are not hashed ("cut-point skipping"). The hash `h` (a `UInt64`)
///    starts at 0, and for each byte `b` at offset `i = min, min + 1, …` it becomes
///    `h = (h << 1) &+ gear[b]` (shift and add modulo 2^64).
/// 3. After hashing the byte at offset `i`, the chunk ends there (its length is `i + 1`) if
///    `h & mask == 0`, where `mask` is `maskS` while `i < avg` and `maskL` from `i = avg` on.
/// 4. If no byte qualifies before offset `min(n, max)`, the chunk is `min(n, max)` bytes.
///
/// Normalised chunking, level 2: `maskS` has `k + 2` one-bits (harder to match, so fewer
/// chunks shorter than `avg`) and `maskL` has `k − 2` (easier, so fewer long chunks). A mask with
/// `b` one-bits has bits 62, 60, 58, …, `62 − 2(b − 1)` set: every other bit, from the top of the
/// word down. The gear hash shifts left, so bit `j` of `h` depends on the last `j + 1` bytes
/// only; spreading the mask over the upper half makes a cut depend on the last 63 bytes and at
/// least the last `63 − 2(b − 1)` (21 for `maskS` with the defaults, `k = 20`), not merely on
/// the last `b` bytes as a low-bit mask would. Bit 63 is left out so that
/// `maskL ⊂ maskS` and both survive a one-bit left shift (which the two-bytes-per-step
/// loop in ``cutPoint(in:isEndOfInput:)`` relies on).
///
/// Runs of one byte value (zeros in sparse files) are cut at `max`: after 64 bytes the hash is
/// the constant `0 &- gear[b]`. Only if that constant or one of the 64 hashes before it matches
/// a mask (about 1 in 50,000 per key and byte value with the defaults) does such a run
/// get shorter chunks, and then of one fixed length, so it still deduplicates.
///
/// On random data the chance that a byte ends a chunk is `2^−(k+2)` before `avg` and `2^−(k−2)`
/// after. With `min = avg / 2`, about 11.8 % of chunks end between `min` and `avg`
/// (`1 − e^(−1/8)`) and the rest about `avg / 4` after `avg`, for a mean of about 1.19 × `avg`.
public struct FastCDC: Chunker {
    /// The sizes this chunker was made with.
    public let parameters: ChunkerParameters
    // The hot loop lives inside `cutPoint`, which runs once per chunk, so calls from other
    // modules cost nothing measurable and nothing here needs to be `@inlinable`.
    let gear: GearTable
    let maskS: UInt64
    let maskL: UInt64

    /// Creates a chunker.
    ///
    /// - Precondition: `parameters.validate()` does not throw; validate parameters that come from
    ///   configuration or a repository before calling this.
    public init(parameters: ChunkerParameters, gear: GearTable) {
        do {
            try parameters.validate()
        } catch {
            preconditionFailure("FastCDC: \(error)")
        }
        self.parameters = parameters
        self.gear = gear
        let k = parameters.averageSize.trailingZeroBitCount
        self.maskS = FastCDC.mask(oneBits: k + 2)
        self.maskL = FastCDC.mask(oneBits: k - 2)
    }

    /// A mask with `oneBits` bits set at positions 62, 60, 58, ….
    static func mask(oneBits: Int) -> UInt64 {
        precondition((1...31).contains(oneBits))
        var mask: UInt64 = 0
        for j in 0..<oneBits {
            mask |= 1 << UInt64(62 - 2 * j)
        }
        return mask
    }

    public var maximumSize: Int { parameters.maximumSize }

    public func cutPoint(in buffer: UnsafeRawBufferPointer, isEndOfInput: Bool) -> Int {
        let count = buffer.count
        precondition(count > 0, "cutPoint(in:isEndOfInput:) called with an empty buffer")
        precondition(isEndOfInput || count >= parameters.maximumSize,
                     "cutPoint(in:isEndOfInput:) needs at least maximumSize (\(parameters.maximumSize)) bytes before the end of input, got \(count)")
        let minimum = parameters.minimumSize
        if count <= minimum {
            return count
        }
        let end = Swift.min(count, parameters.maximumSize)
        let normal = Swift.min(parameters.averageSize, end)
        let maskS = self.maskS
        let maskL = self.maskL
        let bytes = buffer.baseAddress.unsafelyUnwrapped
        return gear.values.withUnsafeBufferPointer { table in
            let gear = table.baseAddress.unsafelyUnwrapped
            let shiftedGear = gear + 256
            // Two bytes per step, as in the FastCDC 2020 paper, shortens the serial dependency
            // chain from two operations per byte to three per two bytes. With
            // h1 = (h << 1) &+ gear[a], the first half computes h1 << 1 = (h << 2) &+ (gear[a] << 1),
            // and h1 & mask == 0 exactly when (h1 << 1) & (mask << 1) == 0 because bit 63 is not
            // in any mask; the second half adds gear[b], giving (h1 << 1) &+ gear[b] = h2. So the
            // cut points are those of the one-byte-per-step rule documented above.
            var hash: UInt64 = 0
            var i = minimum
            while i &+ 1 < normal {
                hash = (hash &<< 2) &+ shiftedGear[Int(bytes.load(fromByteOffset: i, as: UInt8.self))]
                if hash & (maskS &<< 1) == 0 {
                    return i &+ 1
                }
                hash = hash &+ gear[Int(bytes.load(fromByteOffset: i &+ 1, as: UInt8.self))]
                if hash & maskS == 0 {
                    return i &+ 2
                }
                i &+= 2
            }
            while i < normal {
                hash = (hash &<< 1) &+ gear[Int(bytes.load(fromByteOffset: i, as: UInt8.self))]
                if hash & maskS == 0 {
                    return i &+ 1
                }
                i &+= 1
            }
            while i &+ 1 < end {
                hash = (hash &<< 2) &+ shiftedGear[Int(bytes.load(fromByteOffset: i, as: UInt8.self))]
                if hash & (maskL &<< 1) == 0 {
                    return i &+ 1
                }
                hash = hash &+ gear[Int(bytes.load(fromByteOffset: i &+ 1, as: UInt8.self))]
                if hash & maskL == 0 {
                    return i &+ 2
                }
                i &+= 2
            }
            while i < end {
                hash = (hash &<< 1) &+ gear[Int(bytes.load(fromByteOffset: i, as: UInt8.self))]
                if hash & maskL == 0 {
                    return i &+ 1
                }
                i &+= 1
            }
            return end
        }
    }
}
