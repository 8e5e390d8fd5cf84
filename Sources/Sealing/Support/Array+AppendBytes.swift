extension Array where Element == UInt8 {
    /// Appends at most `maximumCount` bytes that `body` writes in place, returning how many it wrote.
    ///
    /// The new region is zero-filled first (Swift has no "append uninitialized" for an existing
    /// array; a copy of zeros is cheap beside compression or encryption). The unused tail is trimmed;
    /// if `body` throws, the array is left exactly as it was, so a failed open never leaves
    /// unauthenticated plaintext behind in the caller's buffer.
    @inline(__always)
    mutating func appendBytes(
        maximumCount: Int,
        _ body: (UnsafeMutableRawBufferPointer) throws -> Int
    ) rethrows -> Int {
        let start = count
        appendZeros(count: maximumCount)
        do {
            let written = try withUnsafeMutableBytes { all in
                try body(UnsafeMutableRawBufferPointer(rebasing: all[start...]))
            }
            precondition(written >= 0 && written <= maximumCount, "appendBytes: body reported \(written) of \(maximumCount) bytes")
            removeLast(maximumCount - written)
            return written
        } catch {
            removeLast(count - start)
            throw error
        }
    }
}

extension Array where Element == UInt8 {
    /// Appends `count` zero bytes.
    ///
    /// Copies from a shared zero page: this stays a `memcpy` even in debug builds, where
    /// `append(contentsOf: repeatElement(0, count:))` runs element by element (seconds for 32 MiB).
    @inline(__always)
    mutating func appendZeros(count: Int) {
        let needed = self.count + count
        if needed > capacity {
            // Grow geometrically: reserving the exact size on every call would make appending
            // many blobs to one buffer quadratic.
            reserveCapacity(Swift.max(needed, 2 * capacity))
        }
        var remaining = count
        zeroPage.withUnsafeBufferPointer { zeros in
            while remaining > 0 {
                let piece = Swift.min(remaining, zeros.count)
                append(contentsOf: UnsafeBufferPointer(rebasing: zeros[..<piece]))
                remaining -= piece
            }
        }
    }
}

/// 64 KiB of zeros, the source for ``Swift/Array/appendZeros(count:)``.
private let zeroPage = [UInt8](repeating: 0, count: 64 << 10)
