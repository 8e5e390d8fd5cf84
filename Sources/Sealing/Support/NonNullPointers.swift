/// A raw buffer whose base address is never nil, for C functions that reject a null pointer
/// even with a zero length (an empty Swift array may hand out a nil base address).
@inline(__always)
func withNonNullBytes<R>(
    _ buffer: UnsafeRawBufferPointer,
    _ body: (UnsafeRawPointer, Int) throws -> R
) rethrows -> R {
    if let base = buffer.baseAddress {
        return try body(base, buffer.count)
    }
    var placeholder: UInt8 = 0
    return try withUnsafeBytes(of: &placeholder) { try body($0.baseAddress!, 0) }
}

/// The mutable counterpart of ``withNonNullBytes(_:_:)``.
@inline(__always)
func withNonNullMutableBytes<R>(
    _ buffer: UnsafeMutableRawBufferPointer,
    _ body: (UnsafeMutableRawPointer, Int) throws -> R
) rethrows -> R {
    if let base = buffer.baseAddress {
        return try body(base, buffer.count)
    }
    var placeholder: UInt8 = 0
    return try withUnsafeMutableBytes(of: &placeholder) { try body($0.baseAddress!, 0) }
}
