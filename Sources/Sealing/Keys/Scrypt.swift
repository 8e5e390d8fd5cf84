import COpenSSL

/// The scrypt password-based key derivation function (RFC 7914), as OpenSSL implements it.
public enum Scrypt {
    /// Derives `length` bytes from `password` and `salt`.
    ///
    /// Validates `parameters` first (see ``ScryptParameters/validate()``), and gives OpenSSL a
    /// memory limit that fits exactly these parameters (its built-in default of 32 MiB is too small
    /// for calibrated ones).
    /// - Throws: ``SealingError/Code/invalidParameters`` for unusable parameters or length,
    ///   ``SealingError/Code/library`` if OpenSSL fails (for example, out of memory).
    public static func deriveKey(password: [UInt8], salt: [UInt8], parameters: ScryptParameters,
                                 length: Int) throws -> [UInt8] {
        try parameters.validate()
        guard length >= 1, length <= 1 << 20 else {
            throw SealingError(.invalidParameters, "scrypt: a derived key of \(length) bytes was requested; it must be between 1 byte and 1 MiB")
        }
        // OpenSSL needs 128·r·(N+2) bytes for V plus 128·r·p for B; validate() keeps these small.
        let r = UInt64(parameters.r)
        let memoryLimit = 128 * r * (parameters.n + 2) + 128 * r * UInt64(parameters.p) + (1 << 20)
        return try [UInt8](unsafeUninitializedCapacity: length) { key, initialized in
            let ok = password.withUnsafeBytes { password in
                salt.withUnsafeBytes { salt in
                    withNonNullBytes(password) { passwordBase, passwordCount in
                        withNonNullBytes(salt) { saltBase, saltCount in
                            EVP_PBE_scrypt(passwordBase.assumingMemoryBound(to: CChar.self), passwordCount,
                                           saltBase.assumingMemoryBound(to: UInt8.self), saltCount,
                                           parameters.n, r, UInt64(parameters.p), memoryLimit,
                                           key.baseAddress, length)
                        }
                    }
                }
            }
            guard ok == 1 else {
                throw SealingError.openSSL("scrypt key derivation (N=\(parameters.n), r=\(parameters.r), p=\(parameters.p))")
            }
            initialized = length
        }
    }
}
