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

    /// The repository location from `--repo` or `LIFEBOAT_REPOSITORY`.
    func repositoryLocation() throws -> String {
        guard let location = arguments.value("repo") ?? environment("LIFEBOAT_REPOSITORY") else {
            throw UsageError(message: "no repository given; use --repo PATH or set LIFEBOAT_REPOSITORY")
        }
        return location
    }

    /// The store for the repository location.
    func store(creating: Bool = false) throws -> any ObjectStore {
        try makeStore(at: repositoryLocation(), creating: creating)
    }

    /// Opens the repository, asking for the password.
    func openRepository(loadIndex: Bool = true) throws -> Repository {
        let store = try store()
        _ = try Repository.readConfig(store: store)
        let repository = try Repository.open(store: store, password: Password.current(),
                                             warning: { output.warning($0) })
        if loadIndex { try repository.loadIndex() }
        return repository
    }
}
