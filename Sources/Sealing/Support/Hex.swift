/// Lowercase hexadecimal of `bytes`.
func encodeHex(_ bytes: [UInt8]) -> String {
    String(unsafeUninitializedCapacity: 2 * bytes.count) { out in
        for (index, byte) in bytes.enumerated() {
            out[2 &* index] = hexDigit(byte &>> 4)
            out[2 &* index &+ 1] = hexDigit(byte & 0x0f)
        }
        return 2 * bytes.count
    }
}

/// The bytes spelled by an even-length hexadecimal string (either case), or nil.
func decodeHex(_ text: String) -> [UInt8]? {
    let digits = Array(text.utf8)
    guard digits.count % 2 == 0 else { return nil }
    var bytes: [UInt8] = []
    bytes.reserveCapacity(digits.count / 2)
    var index = 0
    while index < digits.count {
        guard let high = hexValue(digits[index]), let low = hexValue(digits[index + 1]) else { return nil }
        bytes.append(high &<< 4 | low)
        index += 2
    }
    return bytes
}

@inline(__always)
func hexDigit(_ value: UInt8) -> UInt8 {
    value < 10 ? UInt8(ascii: "0") &+ value : UInt8(ascii: "a") &+ (value &- 10)
}

@inline(__always)
func hexValue(_ character: UInt8) -> UInt8? {
    switch character {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return character &- UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return character &- UInt8(ascii: "a") &+ 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return character &- UInt8(ascii: "A") &+ 10
    default: return nil
    }
}
