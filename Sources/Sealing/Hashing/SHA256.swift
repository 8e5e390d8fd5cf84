import COpenSSL

/// SHA-256, fetched once from OpenSSL's default provider.
///
/// Fetching per call costs a lock and a table lookup inside OpenSSL; a fetched `EVP_MD` is
/// immutable and OpenSSL documents it as safe to share between threads, which is why this one
/// global may be `nonisolated(unsafe)`.
nonisolated(unsafe) let sha256Algorithm: OpaquePointer = {
    guard let algorithm = EVP_MD_fetch(nil, "SHA256", nil) else {
        fatalError("OpenSSL cannot provide SHA-256 (\(drainOpenSSLErrors())); the OpenSSL installation is broken")
    }
    return algorithm
}()

/// One-shot SHA-256, as used for pack names (a pack's name is the digest of its stored bytes).
public enum SHA256 {
    /// The SHA-256 digest of `bytes`.
    public static func hash(_ bytes: UnsafeRawBufferPointer) -> BlobID {
        withUnsafeTemporaryAllocation(byteCount: BlobID.byteCount, alignment: 8) { digest in
            var length: UInt32 = 0
            let ok = withNonNullBytes(bytes) { base, count in
                EVP_Digest(base, count, digest.baseAddress!.assumingMemoryBound(to: UInt8.self), &length, sha256Algorithm, nil)
            }
            precondition(ok == 1 && length == UInt32(BlobID.byteCount),
                         "OpenSSL: SHA-256 failed: \(drainOpenSSLErrors())")
            return BlobID(bytes: UnsafeRawBufferPointer(digest))
        }
    }

    /// The SHA-256 digest of `bytes`.
    public static func hash(_ bytes: [UInt8]) -> BlobID {
        bytes.withUnsafeBytes { hash($0) }
    }
}

/// Incremental SHA-256, for data that arrives in pieces (a pack being assembled or downloaded).
///
/// Owns an OpenSSL digest context; not for sharing between threads. After ``finalize()`` the
/// hasher starts over, so one instance can serve a worker for its whole life.
public final class SHA256Hasher {
    private let context: OpaquePointer

    /// Creates a hasher with nothing hashed yet.
    public init() {
        guard let context = EVP_MD_CTX_new() else {
            fatalError("OpenSSL: cannot allocate a digest context (out of memory)")
        }
        self.context = context
        reset()
    }

    deinit {
        EVP_MD_CTX_free(context)
    }

    /// Adds `bytes` to the data being hashed.
    public func update(_ bytes: UnsafeRawBufferPointer) {
        let ok = withNonNullBytes(bytes) { base, count in EVP_DigestUpdate(context, base, count) }
        precondition(ok == 1, "OpenSSL: SHA-256 update failed: \(drainOpenSSLErrors())")
    }

    /// Returns the digest of everything added since creation or the last `finalize()`, and starts over.
    public func finalize() -> BlobID {
        let id = withUnsafeTemporaryAllocation(byteCount: BlobID.byteCount, alignment: 8) { digest in
            var length: UInt32 = 0
            let ok = EVP_DigestFinal_ex(context, digest.baseAddress!.assumingMemoryBound(to: UInt8.self), &length)
            precondition(ok == 1 && length == UInt32(BlobID.byteCount),
                         "OpenSSL: SHA-256 finalization failed: \(drainOpenSSLErrors())")
            return BlobID(bytes: UnsafeRawBufferPointer(digest))
        }
        reset()
        return id
    }

    private func reset() {
        // Only fails if OpenSSL's provider is missing or out of memory: nothing sensible can follow.
        precondition(EVP_DigestInit_ex2(context, sha256Algorithm, nil) == 1,
                     "OpenSSL: SHA-256 initialization failed: \(drainOpenSSLErrors())")
    }
}

@available(*, unavailable, message: "SHA256Hasher owns an OpenSSL context; keep one per worker")
extension SHA256Hasher: Sendable {}
