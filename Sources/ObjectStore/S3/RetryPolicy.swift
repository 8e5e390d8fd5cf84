import Glibc
import Synchronization

/// When and how long to wait before trying a failed request again (DESIGN §3).
///
/// Full-jitter exponential backoff: before attempt n+1 wait a random time in
/// [0, min(cap, base·2ⁿ)], but at least what a `Retry-After` header asked for. A shared retry
/// budget (a token bucket, as the AWS SDKs keep) stops a store that fails on every request from
/// multiplying its load: each retry spends tokens, each success returns one, and an empty bucket
/// means the next failure is final.
final class RetryPolicy: Sendable {
    let maximumAttempts: Int
    let baseDelay: Double
    let maximumDelay: Double
    /// The longest `Retry-After` honoured; a server asking for more gets this.
    let maximumRetryAfter: Double

    static let budgetCapacity = 500
    static let retryCost = 5
    static let timeoutCost = 10
    private let tokens = Mutex(RetryPolicy.budgetCapacity)

    init(maximumAttempts: Int, baseDelay: Double = 0.1, maximumDelay: Double = 20, maximumRetryAfter: Double = 60) {
        self.maximumAttempts = maximumAttempts
        self.baseDelay = baseDelay
        self.maximumDelay = maximumDelay
        self.maximumRetryAfter = maximumRetryAfter
    }

    /// Takes the tokens for one more attempt; false when the budget is spent.
    func spend(isTimeout: Bool) -> Bool {
        let cost = isTimeout ? RetryPolicy.timeoutCost : RetryPolicy.retryCost
        return tokens.withLock { tokens in
            guard tokens >= cost else { return false }
            tokens -= cost
            return true
        }
    }

    func recordSuccess() {
        tokens.withLock { $0 = min(RetryPolicy.budgetCapacity, $0 + 1) }
    }

    /// The wait before attempt `attempt + 1` (attempts count from 1).
    func delay(afterAttempt attempt: Int, retryAfter: Double?) -> Double {
        let ceiling = min(maximumDelay, baseDelay * Double(1 << min(attempt - 1, 20)))
        let jittered = Double.random(in: 0 ... ceiling)
        guard let retryAfter else { return jittered }
        return max(jittered, min(retryAfter, maximumRetryAfter))
    }

    static func sleep(seconds: Double) {
        guard seconds > 0 else { return }
        var request = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - seconds.rounded(.down)) * 1e9))
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0 && errno == EINTR {
            request = remaining
        }
    }
}
