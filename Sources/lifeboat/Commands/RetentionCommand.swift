import ObjectStore
import Repository
import Synchronization

/// `lifeboat retention`: shows, and with `--extend` renews, the Object Lock retention of every
/// object of an S3 repository.
///
/// Objects are locked for `lock-days` when written, but a snapshot may need its packs far
/// longer (an unchanged file's data is written once and referenced for years). Renewing the
/// retention of what is still in use keeps all of it out of reach of a delete.
enum RetentionCommand: Command {
    static let name = "retention"
    static let summary = "show or extend the Object Lock retention of the repository's objects (S3)"
    static let usage = "lifeboat retention [--extend] [--within DAYS]"
    static let details = """
    For a repository whose URL has lock-mode and lock-days. Without --extend it reports how many
    objects are locked and the earliest retain-until date. With --extend, every object whose
    retention ends within DAYS (default: half of lock-days), or that has none, is locked until
    now + lock-days, keeping its mode. Retention is never shortened. Needs no password. Run it
    from a timer (daily) so that nothing a snapshot uses ever falls out of its lock. Every
    object is renewed, since each one is still in use until prune removes it.
    """
    static let options: [OptionSpec] = [
        .flag("extend", "renew the retention of the objects whose lock ends soon"),
        .value("within", "DAYS", "renew what ends within DAYS days (default: half of lock-days)"),
    ]

    struct Summary: Encodable {
        var messageType = "summary"
        var objects: Int
        var locked: Int
        var unlocked: Int
        var extended: Int
        var earliestRetainUntil: String?
        var failures: [String]

        enum CodingKeys: String, CodingKey {
            case messageType = "message_type", objects, locked, unlocked, extended
            case earliestRetainUntil = "earliest_retain_until", failures
        }
    }

    private struct Tally {
        var locked = 0
        var unlocked = 0
        var extended = 0
        var earliest: SigningDate?
        var failures: [String] = []
    }

    static func run(_ context: Context) throws -> ExitCode {
        let arguments = context.arguments
        guard arguments.positionals.isEmpty else {
            throw UsageError(message: "retention takes no arguments, got '\(arguments.positionals[0])'")
        }
        let withoutLock = "retention is for S3 repositories with Object Lock: add lock-mode and lock-days to the s3:// URL"
        let store = try context.regionS3Store(for: "retention", otherwise: withoutLock)
        guard let lock = store.objectLock else { throw UsageError(message: withoutLock) }
        let within = try arguments.integer("within", in: 0...36500) ?? lock.days / 2
        let extend = arguments.has("extend")
        let objects = try store.list(prefix: "")
        let now = SigningDate.now().secondsSince1970
        let renewTo = SigningDate(secondsSince1970: now + lock.days * 86_400)
        // Never ask for an earlier date than an object has: the store would refuse it.
        let renewBefore = min(now + within * 86_400, renewTo.secondsSince1970)
        let next = Atomic(0)
        let tally = Mutex(Tally())
        let isCancelled = context.isCancelled
        runThreads(count: min(max(1, objects.count), store.transferConcurrency), name: "retention") { _ in
            while !isCancelled() {
                let number = next.add(1, ordering: .relaxed).oldValue
                guard number < objects.count else { return }
                let key = objects[number].key
                do {
                    let current = try store.retention(of: key)
                    var until = current?.retainUntil
                    if extend, until.map({ $0.secondsSince1970 < renewBefore }) ?? true {
                        try store.extendRetention(of: key, until: renewTo, mode: current?.mode ?? lock.mode)
                        until = renewTo
                        tally.withLock { $0.extended += 1 }
                    }
                    tally.withLock { tally in
                        // A retention date in the past protects nothing any more.
                        guard let until, until.secondsSince1970 > now else { tally.unlocked += 1; return }
                        tally.locked += 1
                        if tally.earliest.map({ until < $0 }) ?? true { tally.earliest = until }
                    }
                } catch {
                    tally.withLock { $0.failures.append("\(key): \(error)") }
                }
            }
        }
        if isCancelled() { throw RepositoryError(.interrupted, "interrupted") }
        let result = tally.withLock { $0 }
        for failure in result.failures { context.output.warning(failure) }
        context.output.line("\(objects.count) objects: \(result.locked) locked, \(result.unlocked) without retention (none, or expired)"
            + (extend ? ", \(result.extended) renewed until \(renewTo.iso8601)" : "")
            + (result.earliest.map { "; the earliest lock ends \($0.iso8601)" } ?? ""))
        context.output.message(Summary(objects: objects.count, locked: result.locked, unlocked: result.unlocked,
                                       extended: result.extended, earliestRetainUntil: result.earliest?.iso8601,
                                       failures: result.failures))
        return result.failures.isEmpty ? .success : .failure
    }
}
