import COpenSSL

/// Cryptographically secure random bytes from OpenSSL's DRBG (seeded by the kernel).
public enum SecureRandom {
    /// `count` fresh random bytes.
    public static func bytes(count: Int) -> [UInt8] {
        precondition(count >= 0, "SecureRandom.bytes: negative count \(count)")
        return [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            fill(UnsafeMutableRawBufferPointer(buffer))
            initialized = count
        }
    }

    /// Overwrites `buffer` with fresh random bytes.
    ///
    /// Traps if the generator fails. That only happens when the kernel cannot supply entropy or
    /// OpenSSL is broken; carrying on would hand out predictable keys and repeated GCM nonces,
    /// silently destroying the confidentiality of everything sealed afterwards. No caller could
    /// recover from that, so stopping is the only safe answer.
    public static func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        var offset = 0
        while offset < buffer.count {
            let piece = min(buffer.count - offset, Int(Int32.max))
            let target = (buffer.baseAddress! + offset).assumingMemoryBound(to: UInt8.self)
            guard RAND_bytes(target, Int32(piece)) == 1 else {
                fatalError("OpenSSL: the random number generator failed (\(drainOpenSSLErrors())); refusing to continue with predictable keys or nonces")
            }
            offset += piece
        }
    }
}
