import CZstd

/// A reusable zstd decompression context (one per worker).
public final class ZstdDecompressor {
    private let context: OpaquePointer  // ZSTD_DCtx

    /// Creates a decompressor.
    public init() {
        guard let context = ZSTD_createDCtx() else {
            fatalError("zstd: cannot allocate a decompression context (out of memory)")
        }
        self.context = context
    }

    deinit {
        ZSTD_freeDCtx(context)
    }

    /// Decompresses `input` (one or more zstd frames), appending exactly `decompressedSize` bytes to `output`.
    ///
    /// - Throws: ``SealingError/Code/corrupted`` if the input is not valid zstd or decompresses to
    ///   any other length; `output` is then unchanged.
    public func decompress(_ input: UnsafeRawBufferPointer, decompressedSize: Int,
                           appendingTo output: inout [UInt8]) throws {
        guard decompressedSize >= 0 else {
            throw SealingError(.invalidParameters, "zstd: negative decompressed size \(decompressedSize)")
        }
        _ = try output.appendBytes(maximumCount: decompressedSize) { out in
            try decompress(input, into: out)
            return decompressedSize
        }
    }

    /// Decompresses `input` into `output`, which it must fill exactly.
    func decompress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws {
        let produced = withNonNullBytes(input) { inputBase, inputCount in
            withNonNullMutableBytes(output) { outputBase, outputCount in
                ZSTD_decompressDCtx(context, outputBase, outputCount, inputBase, inputCount)
            }
        }
        guard ZSTD_isError(produced) == 0 else {
            throw SealingError(.corrupted, "zstd: decompression failed: \(zstdErrorName(produced)) (expected \(output.count) bytes)")
        }
        guard produced == output.count else {
            throw SealingError(.corrupted, "zstd: decompressed to \(produced) bytes, expected \(output.count)")
        }
    }

    /// The content size recorded in the header of the zstd frame at the start of `frame`, or nil
    /// if the header is malformed or does not record it.
    static func contentSize(ofFrame frame: UnsafeRawBufferPointer) -> Int? {
        guard let base = frame.baseAddress else { return nil }
        let size = ZSTD_getFrameContentSize(base, frame.count)
        // ZSTD_CONTENTSIZE_UNKNOWN and ZSTD_CONTENTSIZE_ERROR are the two largest values; both fail here.
        return Int(exactly: size)
    }
}

@available(*, unavailable, message: "ZstdDecompressor owns a zstd context; keep one per worker")
extension ZstdDecompressor: Sendable {}
