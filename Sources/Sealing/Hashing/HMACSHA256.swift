import COpenSSL

/// HMAC-SHA256 under a fixed key, reusable for any number of messages (blob ids).
///
/// Keep one per worker thread: it owns an OpenSSL MAC context that holds the keyed inner and
/// outer states, so each call only re-copies those states instead of re-hashing the key.
public final class HMACSHA256 {
    private let algorithm: OpaquePointer  // EVP_MAC
    private let context: OpaquePointer    // EVP_MAC_CTX

    /// Creates a MAC keyed with `key` (any length; blob ids use the 32-byte MAC key).
    ///
    /// Traps only if OpenSSL cannot provide HMAC-SHA256 at all (a broken installation).
    public init(key: [UInt8]) {
        guard let algorithm = EVP_MAC_fetch(nil, "HMAC", nil) else {
            fatalError("OpenSSL cannot provide HMAC (\(drainOpenSSLErrors())); the OpenSSL installation is broken")
        }
        guard let context = EVP_MAC_CTX_new(algorithm) else {
            fatalError("OpenSSL: cannot allocate a MAC context (out of memory)")
        }
        self.algorithm = algorithm
        self.context = context
        let ok = withDigestParameters { parameters in
            key.withUnsafeBytes { key in
                withNonNullBytes(key) { base, count in
                    EVP_MAC_init(context, base.assumingMemoryBound(to: UInt8.self), count, parameters)
                }
            }
        }
        precondition(ok == 1, "OpenSSL: HMAC-SHA256 key setup failed: \(drainOpenSSLErrors())")
    }

    deinit {
        EVP_MAC_CTX_free(context)
        EVP_MAC_free(algorithm)
    }

    /// The HMAC-SHA256 of `message` under this instance's key.
    public func authenticationCode(for message: UnsafeRawBufferPointer) -> BlobID {
        withUnsafeTemporaryAllocation(byteCount: BlobID.byteCount, alignment: 8) { code in
            var length = 0
            // A nil key restarts from the keyed state kept in the context.
            var ok = EVP_MAC_init(context, nil, 0, nil)
            if ok == 1 {
                ok = withNonNullBytes(message) { base, count in
                    EVP_MAC_update(context, base.assumingMemoryBound(to: UInt8.self), count)
                }
            }
            if ok == 1 {
                ok = EVP_MAC_final(context, code.baseAddress!.assumingMemoryBound(to: UInt8.self), &length, code.count)
            }
            precondition(ok == 1 && length == BlobID.byteCount,
                         "OpenSSL: HMAC-SHA256 failed: \(drainOpenSSLErrors())")
            return BlobID(bytes: UnsafeRawBufferPointer(code))
        }
    }

    /// One-shot HMAC-SHA256 of `message` under `key`, as 32 bytes.
    public static func authenticationCode(key: [UInt8], message: [UInt8]) -> [UInt8] {
        message.withUnsafeBytes { HMACSHA256(key: key).authenticationCode(for: $0).bytes }
    }

    /// Calls `body` with the OSSL_PARAM list `digest = "SHA256"`.
    ///
    /// OSSL_PARAM holds raw pointers to its name and value, so both must outlive the call that
    /// reads the list; the nested closures guarantee that.
    private func withDigestParameters<R>(_ body: (UnsafePointer<OSSL_PARAM>) -> R) -> R {
        OSSL_MAC_PARAM_DIGEST.withCString { name in
            var value = Array("SHA256".utf8CString)
            return value.withUnsafeMutableBufferPointer { value in
                let parameters = [
                    OSSL_PARAM_construct_utf8_string(name, value.baseAddress, 0),
                    OSSL_PARAM_construct_end(),
                ]
                return parameters.withUnsafeBufferPointer { body($0.baseAddress!) }
            }
        }
    }
}

@available(*, unavailable, message: "HMACSHA256 owns an OpenSSL context; keep one per worker")
extension HMACSHA256: Sendable {}
