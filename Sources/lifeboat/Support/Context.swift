import Glibc
import ObjectStore
import Repository
import Synchronization

/// Set by SIGINT/SIGTERM; long operations poll it and stop cleanly.
let interrupted = Atomic<Bool>(false)

func installSignalHandlers() {
    for signalNumber in [SIGINT, SIGTERM] {
        signal(signalNumber) { _ in
            if interrupted.load(ordering: .relaxed) {
                _exit(130)  // a second interrupt: stop at once
            }
            interrupted.store(true, ordering: .relaxed)
        }
    }
    signal(SIGPIPE, SIG_IGN)
}

/// What every command gets: its parsed arguments, the output, and the repository helpers.
struct Context {
    var arguments: Arguments
    var output: Output
    var command: String

    var isCancelled: @Sendable () -> Bool { { interrupted.load(ordering: .relaxed) } }

    /// The targets from `--repo` (repeatable: `NAME=LOCATION` or `LOCATION`), or the one
    /// location in `LIFEBOAT_REPOSITORY`.
    func targets() throws -> [Target] {
        let values = arguments.values("repo")
        if !values.isEmpty { return try Target.parse(values) }
        guard let location = environment("LIFEBOAT_REPOSITORY") else {
            throw UsageError(message: "no repository given; use --repo PATH or set LIFEBOAT_REPOSITORY")
        }
        return try Target.parse([location])
    }

    /// The store to read from: the `--region` one, or the first that answers.
    func store() throws -> any ObjectStore {
        try readTarget().store
    }

    /// The S3 store a per-region command works on (`retention`, `undelete`). Each region has
    /// its own objects and locks: acting on the first that answers would leave the others as
    /// they were, unnoticed, so with several targets `--region` is required.
    func regionS3Store(for command: String, otherwise: String) throws -> S3Store {
        if try targets().count > 1 && arguments.value("region") == nil {
            throw UsageError(message: "\(command) acts on one region: give --region NAME, and run it for each region")
        }
        guard let store = try store() as? S3Store else { throw UsageError(message: otherwise) }
        return store
    }

    /// The target read commands use: the one `--region` names; else, with several targets,
    /// the first that answers and holds a repository (a warning names the regions skipped).
    func readTarget() throws -> (target: Target, store: any ObjectStore) {
        let targets = try targets()
        let several = targets.count > 1
        if let name = arguments.value("region") {
            guard let target = targets.first(where: { $0.name == name }) else {
                throw UsageError(message: "--region '\(name)': no --repo target has that name; the targets are \(targets.map(\.name).joined(separator: ", "))")
            }
            return (target, try target.selectedStore(several: several))
        }
        guard several else { return (targets[0], try targets[0].store(creating: false, naming: false)) }
        var probes: [ProbedTarget] = []
        for target in targets {
            let probe = target.probe()
            probes.append(probe)
            if let reached = probe.reached, reached.config != nil {
                warnAboutSkipped(probes, using: target)
                return (target, reached.store)
            }
        }
        // Nothing holds a repository: use the first that answered, to say so about it.
        if let probe = probes.first(where: { $0.reached != nil }), let reached = probe.reached {
            return (probe.target, reached.store)
        }
        throw Target.noneReachable(probes)
    }

    private func warnAboutSkipped(_ probes: [ProbedTarget], using target: Target) {
        for probe in probes where probe.target != target {
            let reason = probe.error.map { "\($0)" } ?? "region \(probe.target.name): no repository there yet"
            output.warning("\(reason); reading from region \(target.name)")
        }
    }

    /// A usage error if `--region` was given to a command that works on every target.
    func refuseRegion(because reason: String) throws {
        if arguments.value("region") != nil {
            throw UsageError(message: "--region selects the region to read from, but \(reason)")
        }
    }

    /// Opens the repository, asking for the password.
    func openRepository(loadIndex: Bool = true) throws -> Repository {
        try openRepository(store: store(), loadIndex: loadIndex)
    }

    /// Opens the repository in `store`, asking for the password.
    func openRepository(store: any ObjectStore, loadIndex: Bool = true) throws -> Repository {
        do {
            _ = try Repository.readConfig(store: store)
        } catch let error as RepositoryError where error.code == .noRepository {
            throw deletedRepositoryError(store) ?? error
        }
        let repository = try Repository.open(store: store, password: Password.current(),
                                             warning: { output.warning($0) })
        if loadIndex { try repository.loadIndex() }
        return repository
    }
}
