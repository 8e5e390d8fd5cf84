/// Computes blob ids and seals blobs and whole-file objects in Lifeboat's envelope (DESIGN §2).
///
/// The envelope, byte for byte:
///
///     flags (1) || nonce (12, random) || AES-256-GCM ciphertext || tag (16)
///
/// - `flags` 0x00: the ciphertext encrypts the plaintext as is; 0x01: it encrypts one zstd frame
///   that records its content size. Data that zstd cannot shrink is stored raw.
/// - Additional authenticated data: `type (1) || flags (1) || id (32)`, so a sealed blob cannot be
///   passed off as another blob, as another type, or with its flag flipped.
/// - Whole-file objects (index files, snapshots) use the same envelope with the all-zero id.
///
/// Keep one per worker: it reuses one HMAC, one AES-GCM and one zstd context, and a scratch
/// buffer for compressed data.
public final class BlobSealer {
    /// Bytes the envelope adds to the (possibly compressed) payload: 1 + 12 + 16.
    public static let overhead = 29
    /// The zstd levels a repository may configure, besides 0 (no compression).
    public static let compressionLevels: ClosedRange<Int32> = -7...19

    static let storedFlag: UInt8 = 0x00
    static let compressedFlag: UInt8 = 0x01
    private static let nonceRange = 1..<(1 + AESGCM.nonceByteCount)
    private static let payloadStart = 1 + AESGCM.nonceByteCount
    /// A scratch buffer grown past this by one large blob is released rather than kept:
    /// most blobs are small, and a backup runs a sealer per worker, so keeping every
    /// worker's largest-ever buffer would cost tens of megabytes for nothing.
    private static let scratchRetentionLimit = 2 << 20

    /// The zstd level in use; 0 means compression is off.
    public let compressionLevel: Int32

    private let mac: HMACSHA256
    private let cipher: AESGCM
    private let compressor: ZstdCompressor?
    private let decompressor = ZstdDecompressor()
    private var scratch: [UInt8] = []

    /// Creates a sealer for `masterKey`, compressing at `compressionLevel`.
    ///
    /// `compressionLevel` is a zstd level in ``compressionLevels`` (negative levels are the fast
    /// modes; 3 is zstd's default), or 0 to store every blob raw. Opening works at any level.
    /// - Throws: ``SealingError/Code/invalidParameters`` for a key of the wrong length or a level
    ///   out of range.
    public init(masterKey: MasterKey, compressionLevel: Int32) throws {
        try masterKey.validate()
        guard compressionLevel == 0 || BlobSealer.compressionLevels.contains(compressionLevel) else {
            throw SealingError(.invalidParameters, "compression level \(compressionLevel) is out of range: use \(BlobSealer.compressionLevels.lowerBound)...\(BlobSealer.compressionLevels.upperBound), or 0 for no compression")
        }
        self.compressionLevel = compressionLevel
        mac = HMACSHA256(key: masterKey.macKey)
        cipher = try AESGCM(key: masterKey.encryptionKey)
        compressor = compressionLevel == 0 ? nil : ZstdCompressor(level: compressionLevel)
    }

    /// The blob id of `plaintext`: HMAC-SHA256 under the repository's MAC key.
    public func id(of plaintext: UnsafeRawBufferPointer) -> BlobID {
        mac.authenticationCode(for: plaintext)
    }

    // MARK: - Sealing

    /// Compresses (when that helps), encrypts and appends `plaintext` in the envelope to `output`.
    ///
    /// `id` must be ``id(of:)`` of `plaintext` for a blob, and `type` the caller's blob type byte.
    /// Returns the number of bytes appended: ``overhead`` plus the stored payload.
    /// - Throws: ``SealingError/Code/library`` if zstd or OpenSSL fails; `output` is then unchanged.
    @discardableResult
    public func seal(_ plaintext: UnsafeRawBufferPointer, id: BlobID, type: UInt8,
                     appendingTo output: inout [UInt8]) throws -> Int {
        defer { trimScratch() }
        if let compressor {
            scratch.removeAll(keepingCapacity: true)
            let compressedCount = try compressor.compress(plaintext, appendingTo: &scratch)
            if compressedCount < plaintext.count {
                return try scratch.withUnsafeBytes { frame in
                    try sealPayload(frame, flags: BlobSealer.compressedFlag, id: id, type: type, appendingTo: &output)
                }
            }
        }
        return try sealPayload(plaintext, flags: BlobSealer.storedFlag, id: id, type: type, appendingTo: &output)
    }

    /// Seals a whole-file object (an index file, a snapshot) under the all-zero id.
    public func sealObject(_ plaintext: [UInt8], type: UInt8) throws -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(plaintext.count + BlobSealer.overhead)
        try plaintext.withUnsafeBytes { plaintext in
            _ = try seal(plaintext, id: .zero, type: type, appendingTo: &output)
        }
        return output
    }

    private func sealPayload(_ payload: UnsafeRawBufferPointer, flags: UInt8, id: BlobID, type: UInt8,
                             appendingTo output: inout [UInt8]) throws -> Int {
        try output.appendBytes(maximumCount: BlobSealer.overhead + payload.count) { envelope in
            envelope[0] = flags
            let nonce = UnsafeMutableRawBufferPointer(rebasing: envelope[BlobSealer.nonceRange])
            SecureRandom.fill(nonce)
            try withAdditionalData(type: type, flags: flags, id: id) { additionalData in
                try cipher.seal(payload, nonce: UnsafeRawBufferPointer(nonce), additionalData: additionalData,
                                into: UnsafeMutableRawBufferPointer(rebasing: envelope[BlobSealer.payloadStart...]))
            }
            return envelope.count
        }
    }

    // MARK: - Opening

    /// Verifies, decrypts and decompresses a sealed blob, returning its plaintext.
    ///
    /// - Parameter plaintextLength: the length the caller expects (from the index), if known.
    /// - Throws: ``SealingError/Code/authenticationFailed`` if the bytes were altered or belong to
    ///   another id, type or key; ``SealingError/Code/corrupted`` for a malformed envelope, a bad
    ///   zstd frame, or a plaintext whose length differs from `plaintextLength`.
    public func open(_ sealed: UnsafeRawBufferPointer, id: BlobID, type: UInt8, plaintextLength: Int?) throws -> [UInt8] {
        guard sealed.count >= BlobSealer.overhead else {
            throw SealingError(.corrupted, "\(subject(id, type)): sealed data is \(sealed.count) bytes, shorter than the \(BlobSealer.overhead)-byte envelope (truncated)")
        }
        let flags = sealed[0]
        guard flags == BlobSealer.storedFlag || flags == BlobSealer.compressedFlag else {
            throw SealingError(.corrupted, "\(subject(id, type)): unknown envelope flags 0x\(String(flags, radix: 16)) (damaged, or written by a newer version)")
        }
        let nonce = UnsafeRawBufferPointer(rebasing: sealed[BlobSealer.nonceRange])
        let body = UnsafeRawBufferPointer(rebasing: sealed[BlobSealer.payloadStart...])
        let payloadCount = body.count - AESGCM.tagByteCount

        if flags == BlobSealer.storedFlag {
            let plaintext = try [UInt8](unsafeUninitializedCapacity: payloadCount) { buffer, initialized in
                try decrypt(body, nonce: nonce, flags: flags, id: id, type: type, into: UnsafeMutableRawBufferPointer(buffer))
                initialized = payloadCount
            }
            try checkLength(plaintext.count, expected: plaintextLength, id: id, type: type)
            return plaintext
        }

        defer { trimScratch() }
        scratch.removeAll(keepingCapacity: true)
        _ = try scratch.appendBytes(maximumCount: payloadCount) { frame in
            try decrypt(body, nonce: nonce, flags: flags, id: id, type: type, into: frame)
            return payloadCount
        }
        return try scratch.withUnsafeBytes { frame in
            guard let size = ZstdDecompressor.contentSize(ofFrame: frame) else {
                throw SealingError(.corrupted, "\(subject(id, type)): the compressed payload has no valid zstd frame header")
            }
            try checkLength(size, expected: plaintextLength, id: id, type: type)
            do {
                return try [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
                    try decompressor.decompress(frame, into: UnsafeMutableRawBufferPointer(buffer))
                    initialized = size
                }
            } catch let error as SealingError {
                throw SealingError(error.code, "\(subject(id, type)): \(error.message)", cause: error)
            }
        }
    }

    /// Opens a whole-file object sealed by ``sealObject(_:type:)``.
    public func openObject(_ sealed: [UInt8], type: UInt8) throws -> [UInt8] {
        try sealed.withUnsafeBytes { try open($0, id: .zero, type: type, plaintextLength: nil) }
    }

    private func decrypt(_ body: UnsafeRawBufferPointer, nonce: UnsafeRawBufferPointer, flags: UInt8, id: BlobID,
                         type: UInt8, into output: UnsafeMutableRawBufferPointer) throws {
        let authentic = try withAdditionalData(type: type, flags: flags, id: id) { additionalData in
            try cipher.open(body, nonce: nonce, additionalData: additionalData, into: output)
        }
        guard authentic else {
            throw SealingError(.authenticationFailed, "\(subject(id, type)): authentication failed: the stored bytes were altered, or they belong to another id, type or repository key")
        }
    }

    private func checkLength(_ length: Int, expected: Int?, id: BlobID, type: UInt8) throws {
        if let expected, expected != length {
            throw SealingError(.corrupted, "\(subject(id, type)): plaintext is \(length) bytes but the index says \(expected)")
        }
    }

    // MARK: - Helpers

    /// Calls `body` with the additional authenticated data `type || flags || id` (34 bytes).
    private func withAdditionalData<R>(type: UInt8, flags: UInt8, id: BlobID,
                                       _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        try withUnsafeTemporaryAllocation(byteCount: 2 + BlobID.byteCount, alignment: 8) { buffer in
            buffer[0] = type
            buffer[1] = flags
            id.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: buffer[2...]).copyMemory(from: $0) }
            return try body(UnsafeRawBufferPointer(buffer))
        }
    }

    private func subject(_ id: BlobID, _ type: UInt8) -> String {
        id == .zero ? "object of type \(type)" : "blob \(id.shortHex) (type \(type))"
    }

    private func trimScratch() {
        if scratch.capacity > BlobSealer.scratchRetentionLimit {
            scratch = []
        }
    }
}

@available(*, unavailable, message: "BlobSealer owns OpenSSL and zstd contexts; keep one per worker")
extension BlobSealer: Sendable {}
