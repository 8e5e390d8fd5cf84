/// Bytes from a hexadecimal literal; whitespace is ignored so vectors can be copied as printed.
func hexBytes(_ text: String) -> [UInt8] {
    let digits = text.utf8.filter { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\n") }
    precondition(digits.count % 2 == 0, "odd number of hex digits in test vector")
    func value(_ digit: UInt8) -> UInt8 {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return digit - UInt8(ascii: "A") + 10
        default: preconditionFailure("not a hex digit in test vector")
        }
    }
    return stride(from: 0, to: digits.count, by: 2).map { value(digits[$0]) << 4 | value(digits[$0 + 1]) }
}

/// Lowercase hexadecimal of `bytes`, for readable expectations.
func hexString(_ bytes: some Sequence<UInt8>) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var text = ""
    for byte in bytes {
        text.unicodeScalars.append(Unicode.Scalar(digits[Int(byte >> 4)]))
        text.unicodeScalars.append(Unicode.Scalar(digits[Int(byte & 0x0f)]))
    }
    return text
}

/// Deterministic pseudo-random bytes (xorshift64*), for reproducible "incompressible" inputs.
func pseudoRandomBytes(count: Int, seed: UInt64) -> [UInt8] {
    // splitmix64 of the seed, so neighbouring seeds give unrelated (and never zero) states.
    var state = seed &+ 0x9E37_79B9_7F4A_7C15
    state = (state ^ (state >> 30)) &* 0xBF58_476D_1CE4_E5B9
    state = (state ^ (state >> 27)) &* 0x94D0_49BB_1331_11EB
    state = (state ^ (state >> 31)) | 1
    var bytes: [UInt8] = []
    bytes.reserveCapacity(count)
    while bytes.count < count {
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        var word = state &* 0x2545_F491_4F6C_DD1D
        for _ in 0..<8 where bytes.count < count {
            bytes.append(UInt8(truncatingIfNeeded: word))
            word >>= 8
        }
    }
    return bytes
}

/// Text-like, compressible bytes.
func compressibleBytes(count: Int) -> [UInt8] {
    let line = Array("the quick brown fox jumps over the lazy dog; lifeboat keeps backups afloat.\n".utf8)
    var bytes: [UInt8] = []
    bytes.reserveCapacity(count + line.count)
    while bytes.count < count { bytes += line }
    return Array(bytes.prefix(count))
}
