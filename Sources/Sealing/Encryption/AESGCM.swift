import COpenSSL

/// AES-256-GCM with a fixed key: 96-bit nonces, 128-bit tags.
///
/// Keep one per worker: it owns two OpenSSL cipher contexts (one sealing, one opening) whose key
/// schedule is computed once, so each call only sets the nonce. Never seal two messages under
/// the same key and nonce; ``BlobSealer`` draws a random nonce for every blob.
public final class AESGCM {
    /// The key length in bytes.
    public static let keyByteCount = 32
    /// The nonce length in bytes.
    public static let nonceByteCount = 12
    /// The authentication tag length in bytes, appended after the ciphertext.
    public static let tagByteCount = 16

    /// OpenSSL takes `int` lengths; larger inputs go through in pieces of this size.
    private static let maximumUpdateLength = 1 << 30

    private let algorithm: OpaquePointer  // EVP_CIPHER
    private let sealingContext: OpaquePointer  // EVP_CIPHER_CTX
    private let openingContext: OpaquePointer  // EVP_CIPHER_CTX

    /// Creates a cipher for a 32-byte key.
    ///
    /// - Throws: ``SealingError/Code/invalidParameters`` for a key of another length,
    ///   ``SealingError/Code/library`` if OpenSSL cannot set the cipher up.
    public init(key: [UInt8]) throws {
        guard key.count == AESGCM.keyByteCount else {
            throw SealingError(.invalidParameters, "AES-256-GCM needs a 32-byte key, got \(key.count) bytes")
        }
        guard let algorithm = EVP_CIPHER_fetch(nil, "AES-256-GCM", nil) else {
            throw SealingError.openSSL("fetching AES-256-GCM")
        }
        guard let sealingContext = EVP_CIPHER_CTX_new() else {
            EVP_CIPHER_free(algorithm)
            throw SealingError.openSSL("allocating a cipher context")
        }
        guard let openingContext = EVP_CIPHER_CTX_new() else {
            EVP_CIPHER_CTX_free(sealingContext)
            EVP_CIPHER_free(algorithm)
            throw SealingError.openSSL("allocating a cipher context")
        }
        self.algorithm = algorithm
        self.sealingContext = sealingContext
        self.openingContext = openingContext
        // From here on, deinit frees the contexts if a throw follows.
        let ok = key.withUnsafeBufferPointer { key in
            EVP_EncryptInit_ex2(sealingContext, algorithm, key.baseAddress, nil, nil) == 1
                && EVP_DecryptInit_ex2(openingContext, algorithm, key.baseAddress, nil, nil) == 1
        }
        guard ok else { throw SealingError.openSSL("setting the AES-256-GCM key") }
    }

    deinit {
        EVP_CIPHER_CTX_free(sealingContext)
        EVP_CIPHER_CTX_free(openingContext)
        EVP_CIPHER_free(algorithm)
    }

    // MARK: - Public API

    /// Encrypts and authenticates `plaintext`, appending ciphertext || tag (16 bytes) to `output`.
    ///
    /// `output` must not alias `plaintext` or `additionalData`.
    /// - Throws: ``SealingError/Code/invalidParameters`` for a nonce that is not 12 bytes.
    public func seal(_ plaintext: UnsafeRawBufferPointer, nonce: [UInt8], additionalData: UnsafeRawBufferPointer,
                     appendingTo output: inout [UInt8]) throws {
        try checkNonce(nonce)
        _ = try output.appendBytes(maximumCount: plaintext.count + AESGCM.tagByteCount) { out in
            try nonce.withUnsafeBytes { nonce in
                try seal(plaintext, nonce: nonce, additionalData: additionalData, into: out)
            }
            return out.count
        }
    }

    /// Verifies and decrypts `sealed` (ciphertext || tag), appending the plaintext to `output`.
    ///
    /// On any failure `output` is left unchanged, so unauthenticated bytes never reach the caller.
    /// - Throws: ``SealingError/Code/authenticationFailed`` if the tag does not match (tampered
    ///   ciphertext, tag, nonce or additional data, or the wrong key); ``SealingError/Code/corrupted``
    ///   if `sealed` is shorter than a tag; ``SealingError/Code/invalidParameters`` for a bad nonce.
    public func open(_ sealed: UnsafeRawBufferPointer, nonce: [UInt8], additionalData: UnsafeRawBufferPointer,
                     appendingTo output: inout [UInt8]) throws {
        try checkNonce(nonce)
        guard sealed.count >= AESGCM.tagByteCount else {
            throw SealingError(.corrupted, "AES-256-GCM: sealed data is \(sealed.count) bytes, shorter than its 16-byte tag")
        }
        _ = try output.appendBytes(maximumCount: sealed.count - AESGCM.tagByteCount) { out in
            let authentic = try nonce.withUnsafeBytes { nonce in
                try open(sealed, nonce: nonce, additionalData: additionalData, into: out)
            }
            guard authentic else {
                throw SealingError(.authenticationFailed,
                                   "AES-256-GCM: authentication failed (the data was altered, or the key is wrong)")
            }
            return out.count
        }
    }

    private func checkNonce(_ nonce: [UInt8]) throws {
        guard nonce.count == AESGCM.nonceByteCount else {
            throw SealingError(.invalidParameters, "AES-256-GCM needs a 12-byte nonce, got \(nonce.count) bytes")
        }
    }

    // MARK: - In-place primitives

    /// Writes ciphertext || tag into `output`, which must be exactly `plaintext.count + 16` bytes.
    func seal(_ plaintext: UnsafeRawBufferPointer, nonce: UnsafeRawBufferPointer,
              additionalData: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws {
        precondition(nonce.count == AESGCM.nonceByteCount && output.count == plaintext.count + AESGCM.tagByteCount)
        let context = sealingContext
        // Passing no cipher and no key keeps the key schedule and only replaces the nonce.
        guard EVP_EncryptInit_ex2(context, nil, nil, nonce.baseAddress!.assumingMemoryBound(to: UInt8.self), nil) == 1 else {
            throw SealingError.openSSL("setting the AES-256-GCM nonce")
        }
        try absorbAdditionalData(additionalData, context: context, encrypting: true)
        let written = try transform(plaintext, into: output.baseAddress!, context: context, encrypting: true)
        var finalLength: Int32 = 0
        guard EVP_EncryptFinal_ex(context, output.baseAddress! + written, &finalLength) == 1,
              written + Int(finalLength) == plaintext.count else {
            throw SealingError.openSSL("finishing AES-256-GCM encryption")
        }
        guard EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_AEAD_GET_TAG, Int32(AESGCM.tagByteCount),
                                  output.baseAddress! + plaintext.count) == 1 else {
            throw SealingError.openSSL("reading the AES-256-GCM tag")
        }
    }

    /// Decrypts `sealed` (ciphertext || tag) into `output` (exactly `sealed.count - 16` bytes) and
    /// returns whether the tag matched. On `false`, `output` holds unauthenticated bytes that the
    /// caller must discard.
    func open(_ sealed: UnsafeRawBufferPointer, nonce: UnsafeRawBufferPointer,
              additionalData: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws -> Bool {
        precondition(nonce.count == AESGCM.nonceByteCount && sealed.count >= AESGCM.tagByteCount
                     && output.count == sealed.count - AESGCM.tagByteCount)
        let context = openingContext
        let ciphertextCount = sealed.count - AESGCM.tagByteCount
        guard EVP_DecryptInit_ex2(context, nil, nil, nonce.baseAddress!.assumingMemoryBound(to: UInt8.self), nil) == 1 else {
            throw SealingError.openSSL("setting the AES-256-GCM nonce")
        }
        try absorbAdditionalData(additionalData, context: context, encrypting: false)
        let ciphertext = UnsafeRawBufferPointer(rebasing: sealed[..<ciphertextCount])
        let written = try withNonNullMutableBytes(output) { base, _ in
            try transform(ciphertext, into: base, context: context, encrypting: false)
        }
        // EVP_CTRL_AEAD_SET_TAG takes a non-const pointer, so hand it a copy of the tag.
        var tag: (UInt64, UInt64) = (0, 0)
        withUnsafeMutableBytes(of: &tag) { tag in
            tag.copyMemory(from: UnsafeRawBufferPointer(rebasing: sealed[ciphertextCount...]))
        }
        guard EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_AEAD_SET_TAG, Int32(AESGCM.tagByteCount), &tag) == 1 else {
            throw SealingError.openSSL("setting the AES-256-GCM tag")
        }
        // GCM writes nothing at the end; the output pointer only has to be valid.
        var finalLength: Int32 = 0
        var placeholder: UInt8 = 0
        let verified = EVP_DecryptFinal_ex(context, &placeholder, &finalLength)
        guard verified == 1 else {
            // A tag mismatch may leave entries in this thread's error queue; they carry no news.
            ERR_clear_error()
            return false
        }
        guard written + Int(finalLength) == ciphertextCount else {
            throw SealingError(.library, "OpenSSL: AES-256-GCM decryption produced \(written + Int(finalLength)) of \(ciphertextCount) bytes")
        }
        return true
    }

    private func absorbAdditionalData(_ additionalData: UnsafeRawBufferPointer, context: OpaquePointer,
                                      encrypting: Bool) throws {
        var offset = 0
        while offset < additionalData.count {
            let piece = min(additionalData.count - offset, AESGCM.maximumUpdateLength)
            var length: Int32 = 0
            let input = (additionalData.baseAddress! + offset).assumingMemoryBound(to: UInt8.self)
            let ok = encrypting ? EVP_EncryptUpdate(context, nil, &length, input, Int32(piece))
                                : EVP_DecryptUpdate(context, nil, &length, input, Int32(piece))
            guard ok == 1 else { throw SealingError.openSSL("adding AES-256-GCM additional data") }
            offset += piece
        }
    }

    /// Runs the cipher over `input` into `output`, in pieces OpenSSL's `int` lengths can carry.
    private func transform(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawPointer,
                           context: OpaquePointer, encrypting: Bool) throws -> Int {
        var consumed = 0
        var written = 0
        while consumed < input.count {
            let piece = min(input.count - consumed, AESGCM.maximumUpdateLength)
            var length: Int32 = 0
            let source = (input.baseAddress! + consumed).assumingMemoryBound(to: UInt8.self)
            let target = (output + written).assumingMemoryBound(to: UInt8.self)
            let ok = encrypting ? EVP_EncryptUpdate(context, target, &length, source, Int32(piece))
                                : EVP_DecryptUpdate(context, target, &length, source, Int32(piece))
            guard ok == 1 else {
                throw SealingError.openSSL(encrypting ? "AES-256-GCM encryption" : "AES-256-GCM decryption")
            }
            consumed += piece
            written += Int(length)
        }
        return written
    }
}

@available(*, unavailable, message: "AESGCM owns OpenSSL contexts; keep one per worker")
extension AESGCM: Sendable {}
