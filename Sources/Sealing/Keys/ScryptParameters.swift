/// The cost parameters of scrypt (RFC 7914): CPU/memory cost `n`, block size `r`, parallelism `p`.
///
/// Stored in every key file; calibrated once when the key file is created.
public struct ScryptParameters: Sendable, Hashable, Codable {
    /// CPU/memory cost: a power of two, at least 2.
    public var n: UInt64
    /// Block size (8 in practice).
    public var r: UInt32
    /// Parallelisation (1 in practice).
    public var p: UInt32

    public init(n: UInt64, r: UInt32, p: UInt32) {
        self.n = n
        self.r = r
        self.p = p
    }

    /// The smallest `n` that ``calibrated(targetSeconds:)`` picks (2^14, RFC 7914's interactive-login figure).
    public static let minimumCalibratedN: UInt64 = 1 << 14
    /// The most memory ``calibrated(targetSeconds:)`` lets one derivation use: 32 MiB (n = 2^15
    /// with r = 8). Every command derives a key when it opens the repository, so this memory
    /// counts towards its peak; past it, calibration raises `p` instead, which costs time
    /// but no memory.
    public static let maximumCalibratedMemory: UInt64 = 32 << 20

    /// The most memory (128·r·n bytes) a key file may ask for: 1 GiB, four times what calibration ever picks.
    public static let maximumMemory: UInt64 = 1 << 30
    /// The most total work (128·r·n·p bytes processed) a key file may ask for; calibration stays within it.
    public static let maximumWork: UInt64 = 1 << 32

    /// The bytes of memory one derivation needs: 128·r·n (the V array), valid after ``validate()``.
    public var memoryBytes: UInt64 { 128 &* UInt64(r) &* n }

    /// Checks that these parameters are well formed and affordable.
    ///
    /// Parameters come from key files, which anyone with write access to the repository could
    /// alter; an absurd `n` or `p` would otherwise exhaust memory or run for days before the
    /// wrong result was noticed. Weak but valid values (such as RFC 7914's `n = 16` test vector)
    /// are accepted: a tampered key file cannot gain anything from them, because the master key
    /// it wraps is authenticated with the derived key.
    /// - Throws: ``SealingError/Code/invalidParameters`` naming the offending value.
    public func validate() throws {
        guard n >= 2, n & (n &- 1) == 0 else {
            throw SealingError(.invalidParameters, "scrypt parameter N=\(n) is invalid: it must be a power of two, at least 2 (the key file may be damaged)")
        }
        guard r >= 1, r <= 64 else {
            throw SealingError(.invalidParameters, "scrypt parameter r=\(r) is invalid: it must be between 1 and 64 (the key file may be damaged)")
        }
        guard p >= 1, p <= 64 else {
            throw SealingError(.invalidParameters, "scrypt parameter p=\(p) is invalid: it must be between 1 and 64 (the key file may be damaged)")
        }
        // RFC 7914 §2: N must be less than 2^(128·r/8).
        if 16 &* UInt64(r) < 64 {
            guard n < UInt64(1) << (16 &* UInt64(r)) else {
                throw SealingError(.invalidParameters, "scrypt parameter N=\(n) is invalid with r=\(r): N must be below 2^(16·r)")
            }
        }
        // n ≤ 2^63 and r ≤ 64, so compare without overflowing: 128·r·n ≤ limit ⇔ n ≤ limit / (128·r).
        let memoryLimitN = ScryptParameters.maximumMemory / (128 &* UInt64(r))
        guard n <= memoryLimitN else {
            throw SealingError(.invalidParameters, "scrypt parameters N=\(n), r=\(r) would need more than \(ScryptParameters.maximumMemory >> 20) MiB of memory; refusing (the key file may be damaged or tampered with)")
        }
        guard memoryBytes &* UInt64(p) <= ScryptParameters.maximumWork else {
            throw SealingError(.invalidParameters, "scrypt parameters N=\(n), r=\(r), p=\(p) would take far longer than any key file this tool creates; refusing (the key file may be damaged or tampered with)")
        }
    }

    /// Chooses `n` (a power of two, with r = 8 and p = 1) so that one derivation takes about
    /// `targetSeconds` on this machine, between 2^14 and the 256 MiB memory cap.
    ///
    /// Measures a derivation at the minimum `n` and doubles from there (scrypt's cost is linear
    /// in `n`), stopping at the power of two nearest the target on a logarithmic scale.
    /// - Throws: ``SealingError/Code/invalidParameters`` for a non-positive or non-finite target,
    ///   ``SealingError/Code/library`` if scrypt fails.
    public static func calibrated(targetSeconds: Double = 0.5) throws -> ScryptParameters {
        guard targetSeconds.isFinite, targetSeconds > 0 else {
            throw SealingError(.invalidParameters, "scrypt calibration needs a positive target time, got \(targetSeconds) s")
        }
        var parameters = ScryptParameters(n: minimumCalibratedN, r: 8, p: 1)
        let password = SecureRandom.bytes(count: 16)
        let salt = SecureRandom.bytes(count: 16)
        // The faster of two runs: the first also pays for page faults and a cold cache.
        var fastest = Double.infinity
        for _ in 0..<2 {
            let clock = ContinuousClock()
            let start = clock.now
            _ = try Scrypt.deriveKey(password: password, salt: salt, parameters: parameters, length: 32)
            fastest = min(fastest, (clock.now - start).seconds)
        }
        var estimate = fastest
        let maximumN = maximumCalibratedMemory / (128 * UInt64(parameters.r))
        // Doubling brings the estimate closer to the target (in ratio) while estimate·√2 < target.
        let squareRootOfTwo = 1.414_213_562_373_095  // a literal: squareRoot() would need libm at link time
        while estimate * squareRootOfTwo < targetSeconds {
            if parameters.n < maximumN {
                parameters.n <<= 1
            } else if parameters.memoryBytes * UInt64(parameters.p) * 2 <= maximumWork {
                parameters.p <<= 1
            } else {
                break
            }
            estimate *= 2
        }
        return parameters
    }
}

extension Duration {
    /// This duration in seconds, as a floating-point number.
    fileprivate var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) * 1e-18
    }
}
