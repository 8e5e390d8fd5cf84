/// The 256 pseudo-random 64-bit values of a gear hash, derived from a secret 32-byte chunker key.
///
/// Because the table is keyed, cut points depend on the key: someone who sees only chunk or pack
/// sizes cannot tell whether a repository holds a known file by its chunk-size fingerprint.
///
/// ## Derivation (part of the repository format)
///
/// The table is the first 2048 bytes of the ChaCha20 keystream (RFC 8439, 20 rounds) under the
/// chunker key, with an all-zero 96-bit nonce and the 32-bit block counter starting at 0; that is,
/// ChaCha20 blocks 0 through 31 concatenated. Entry `i` (0 ≤ i < 256) is keystream bytes
/// `8·i ..< 8·i + 8` read as a little-endian `UInt64`. Equivalently, it is the encryption of 2048
/// zero bytes: `openssl enc -chacha20 -K <key hex> -iv 00000000000000000000000000000000`
/// (OpenSSL's 16-byte IV is the 4-byte little-endian counter followed by the 12-byte nonce).
///
/// ChaCha20 was chosen over a simple generator such as xoshiro256** because it is fully
/// specified by a public standard with test vectors, uses all 256 bits of the key, and does not
/// reveal the key from any number of table entries.
public struct GearTable: Sendable {
    /// The 256 entries, then the same entries shifted left by one bit (512 in all); FastCDC
    /// reads them through one `withUnsafeBufferPointer` per chunk, outside its hot loop.
    let values: [UInt64]

    /// Derives the table from a 32-byte chunker key, as described above.
    ///
    /// - Precondition: `key.count == 32`.
    public init(key: [UInt8]) {
        precondition(key.count == 32, "a chunker key is 32 bytes, got \(key.count)")
        var keyWords = [UInt32](repeating: 0, count: 8)
        for word in 0..<8 {
            for byte in 0..<4 {
                keyWords[word] |= UInt32(key[4 * word + byte]) << (8 * byte)
            }
        }
        var values = [UInt64]()
        values.reserveCapacity(256)
        for counter in 0..<32 {
            let block = ChaCha20.block(key: keyWords, counter: UInt32(counter), nonce: (0, 0, 0))
            for pair in 0..<8 {
                values.append(UInt64(block[2 * pair]) | UInt64(block[2 * pair + 1]) << 32)
            }
        }
        // Entries 256..<512 are the same values shifted left by one bit, for FastCDC's
        // two-bytes-per-step loop.
        values += values.map { $0 &<< 1 }
        self.values = values
    }

    /// The table entry for `byte`.
    public subscript(byte: UInt8) -> UInt64 {
        values[Int(byte)]
    }
}

/// The ChaCha20 block function of RFC 8439 §2.3, used only to derive gear tables.
enum ChaCha20 {
    /// Returns the 16 little-endian output words of one block (64 keystream bytes).
    static func block(key: [UInt32], counter: UInt32, nonce: (UInt32, UInt32, UInt32)) -> [UInt32] {
        precondition(key.count == 8)
        let initial: [UInt32] = [
            0x6170_7865, 0x3320_646e, 0x7962_2d32, 0x6b20_6574,  // "expand 32-byte k"
            key[0], key[1], key[2], key[3], key[4], key[5], key[6], key[7],
            counter, nonce.0, nonce.1, nonce.2,
        ]
        var x = initial
        func quarterRound(_ a: Int, _ b: Int, _ c: Int, _ d: Int) {
            x[a] &+= x[b]; x[d] ^= x[a]; x[d] = x[d].rotatedLeft(by: 16)
            x[c] &+= x[d]; x[b] ^= x[c]; x[b] = x[b].rotatedLeft(by: 12)
            x[a] &+= x[b]; x[d] ^= x[a]; x[d] = x[d].rotatedLeft(by: 8)
            x[c] &+= x[d]; x[b] ^= x[c]; x[b] = x[b].rotatedLeft(by: 7)
        }
        for _ in 0..<10 {
            quarterRound(0, 4, 8, 12)
            quarterRound(1, 5, 9, 13)
            quarterRound(2, 6, 10, 14)
            quarterRound(3, 7, 11, 15)
            quarterRound(0, 5, 10, 15)
            quarterRound(1, 6, 11, 12)
            quarterRound(2, 7, 8, 13)
            quarterRound(3, 4, 9, 14)
        }
        for i in 0..<16 {
            x[i] &+= initial[i]
        }
        return x
    }
}

extension UInt32 {
    fileprivate func rotatedLeft(by count: UInt32) -> UInt32 {
        (self &<< count) | (self &>> (32 &- count))
    }
}
