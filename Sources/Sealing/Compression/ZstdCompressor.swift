import CZstd

/// A reusable zstd compression context at a fixed level (one per worker).
///
/// Frames record their content size (so the reader can size its buffer) and carry no checksum
/// (AES-GCM already authenticates every byte).
public final class ZstdCompressor {
    private let context: OpaquePointer  // ZSTD_CCtx

    /// The zstd level this compressor uses, after zstd's own clamping.
    public let level: Int32

    /// Creates a compressor at `level`: negative levels are zstd's fast modes, 1...19 the usual
    /// range (3 is zstd's default). As in zstd, 0 selects the default level; the "no compression"
    /// meaning of 0 belongs to ``BlobSealer``, which then never creates a compressor.
    public init(level: Int32) {
        guard let context = ZSTD_createCCtx() else {
            fatalError("zstd: cannot allocate a compression context (out of memory)")
        }
        self.context = context
        let clamped = level == 0 ? ZSTD_defaultCLevel() : min(max(level, ZSTD_minCLevel()), ZSTD_maxCLevel())
        self.level = clamped
        // These only fail for out-of-range values, which the clamping above rules out.
        ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, clamped)
        ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 0)
        ZSTD_CCtx_setParameter(context, ZSTD_c_contentSizeFlag, 1)
    }

    deinit {
        ZSTD_freeCCtx(context)
    }

    /// Compresses `input` into one zstd frame appended to `output`; returns the frame's length.
    ///
    /// - Throws: ``SealingError/Code/library`` if zstd fails (which it should only do for inputs
    ///   beyond its size limits); `output` is then unchanged.
    @discardableResult
    public func compress(_ input: UnsafeRawBufferPointer, appendingTo output: inout [UInt8]) throws -> Int {
        let bound = ZSTD_compressBound(input.count)
        guard ZSTD_isError(bound) == 0 else {
            throw SealingError(.invalidParameters, "zstd: cannot compress \(input.count) bytes in one frame")
        }
        return try output.appendBytes(maximumCount: bound) { out in
            let written = withNonNullBytes(input) { base, count in
                ZSTD_compress2(context, out.baseAddress, out.count, base, count)
            }
            guard ZSTD_isError(written) == 0 else {
                throw SealingError(.library, "zstd: compression failed: \(zstdErrorName(written))")
            }
            return written
        }
    }
}

@available(*, unavailable, message: "ZstdCompressor owns a zstd context; keep one per worker")
extension ZstdCompressor: Sendable {}

/// zstd's description of an error code.
func zstdErrorName(_ code: Int) -> String {
    String(cString: ZSTD_getErrorName(code))
}
