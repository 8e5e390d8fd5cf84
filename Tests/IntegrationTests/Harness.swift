import FoundationEssentials
import Glibc
import Synchronization
import Testing

// The harness every integration test uses: it finds the `lifeboat` binary that `swift build`
// put next to this test bundle, gives each test its own temporary directory with a
// repository location in it, and runs the binary with posix_spawn, capturing what it prints.
// Tests run in parallel, so nothing here uses a fixed path or shared mutable state.

/// A failure of the harness itself (not of the product under test).
struct HarnessError: Error, CustomStringConvertible {
    var description: String

    init(_ description: String) { self.description = description }
}

// MARK: - The binary

enum Lifeboat {
    /// The `lifeboat` executable: the test bundle lives in `.build/<triple>/debug/`, and so
    /// does the binary that `swift build` made.
    static func executable() throws -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard count > 0 else { throw HarnessError("cannot read /proc/self/exe: \(String(cString: strerror(errno)))") }
        let exe = String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let directory = exe.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        let candidate = directory + "/lifeboat"
        guard access(candidate, X_OK) == 0 else {
            throw HarnessError("\(candidate) not found: run 'swift build' first (the integration tests run the real binary)")
        }
        return candidate
    }
}

// MARK: - Running processes

/// What a finished process did.
struct RunResult: CustomStringConvertible {
    /// The exit status, or 128 + the signal number if a signal ended it.
    var status: Int32
    /// The signal that ended the process, if one did.
    var signal: Int32?
    var stdout: [UInt8]
    var stderr: [UInt8]
    var arguments: [String]

    var out: String { String(decoding: stdout, as: UTF8.self) }
    var err: String { String(decoding: stderr, as: UTF8.self) }

    /// Whether the process ended by itself with status 0 or 1 (never by a signal).
    var endedCleanly: Bool { signal == nil && (status == 0 || status == 1) }

    var description: String {
        "\(arguments.joined(separator: " ")) → status \(status)\(signal.map { " (signal \($0))" } ?? "")\n--- stdout ---\n\(out)\n--- stderr ---\n\(err)"
    }

    /// The non-empty stdout lines, decoded as JSON values of type `T` whose `message_type`
    /// is `type` (lines of other types are skipped).
    func messages<T: Decodable>(_ type: String, as: T.Type) throws -> [T] {
        var result: [T] = []
        for line in stdout.split(separator: UInt8(ascii: "\n")) where !line.isEmpty {
            guard line.first == UInt8(ascii: "{") else { continue }
            let envelope = try JSONDecoder().decode(Envelope.self, from: Data(line))
            if envelope.messageType == type {
                result.append(try JSONDecoder().decode(T.self, from: Data(line)))
            }
        }
        return result
    }

    /// The single message of `type` on stdout; throws unless there is exactly one.
    func message<T: Decodable>(_ type: String, as: T.Type) throws -> T {
        let all = try messages(type, as: T.self)
        guard all.count == 1 else { throw HarnessError("expected one '\(type)' message, got \(all.count):\n\(self)") }
        return all[0]
    }

    /// The array `snapshots --json` prints (warnings about damaged snapshots are JSON error
    /// lines before it).
    func listedSnapshots() throws -> [ListedSnapshot] {
        guard let line = stdout.split(separator: UInt8(ascii: "\n")).first(where: { $0.first == UInt8(ascii: "[") }) else {
            throw HarnessError("no JSON array on stdout:\n\(self)")
        }
        return try JSONDecoder().decode([ListedSnapshot].self, from: Data(line))
    }

    /// The whole of stdout decoded as one JSON value.
    func json<T: Decodable>(_ type: T.Type) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(stdout))
        } catch {
            throw HarnessError("stdout is not the expected JSON (\(error)):\n\(self)")
        }
    }

    private struct Envelope: Decodable {
        var messageType: String?
        enum CodingKeys: String, CodingKey { case messageType = "message_type" }
    }
}

/// A started process whose output goes to files in the sandbox.
struct RunningProcess {
    let pid: pid_t
    let arguments: [String]
    let stdoutPath: String
    let stderrPath: String

    /// Waits for the process (killing it after `timeout` seconds) and collects its output.
    func wait(timeout: Double = 240) throws -> RunResult {
        var status: Int32 = 0
        let deadline = monotonicSeconds() + timeout
        while true {
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid { break }
            if result < 0 && errno != EINTR {
                throw HarnessError("waitpid \(pid): \(String(cString: strerror(errno)))")
            }
            if monotonicSeconds() > deadline {
                kill(pid, SIGKILL)
                _ = waitpid(pid, &status, 0)
                throw HarnessError("\(arguments.joined(separator: " ")) did not finish within \(Int(timeout)) s; killed it")
            }
            usleep(2_000)
        }
        let signalNumber = status & 0x7f
        return RunResult(status: signalNumber == 0 ? (status >> 8) & 0xff : 128 + signalNumber,
                         signal: signalNumber == 0 ? nil : signalNumber,
                         stdout: try readFile(stdoutPath), stderr: try readFile(stderrPath), arguments: arguments)
    }
}

func monotonicSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}

/// Starts `executable` with exactly `environment`, stdin from `stdinPath`, stdout and stderr
/// to the given files. Uses posix_spawn (no Foundation `Process`). The working directory is
/// inherited; tests pass absolute paths only.
func spawn(_ executable: String, _ arguments: [String], environment: [String: String],
           stdinPath: String, stdoutPath: String, stderrPath: String) throws -> RunningProcess {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, stdinPath, O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)

    // The child starts with default signal handling and an empty mask, whatever the test
    // runner set up for itself.
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var allSignals = sigset_t()
    sigfillset(&allSignals)
    sigdelset(&allSignals, SIGKILL)
    sigdelset(&allSignals, SIGSTOP)
    var noSignals = sigset_t()
    sigemptyset(&noSignals)
    posix_spawnattr_setsigdefault(&attributes, &allSignals)
    posix_spawnattr_setsigmask(&attributes, &noSignals)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

    var argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
    var envp: [UnsafeMutablePointer<CChar>?] = environment.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer {
        for pointer in argv { free(pointer) }
        for pointer in envp { free(pointer) }
    }
    var pid: pid_t = 0
    let result = posix_spawn(&pid, executable, &actions, &attributes, &argv, &envp)
    guard result == 0 else {
        throw HarnessError("cannot start \(executable): \(String(cString: strerror(result)))")
    }
    return RunningProcess(pid: pid, arguments: [executable] + arguments, stdoutPath: stdoutPath, stderrPath: stderrPath)
}

// MARK: - Sandbox

/// One test's private world: a temporary directory (removed afterwards), a repository path
/// inside it, and a password. `lifeboat` runs with a clean environment in which
/// `LIFEBOAT_REPOSITORY` and `LIFEBOAT_PASSWORD` point at them.
final class Sandbox: Sendable {
    let root: String
    /// Where the repository goes (`init` creates it).
    let repository: String
    let password = "correct horse battery staple"
    private let counter = Mutex(0)

    /// Runs `body` with a fresh sandbox and removes it afterwards, whatever happens.
    static func with<R>(_ body: (Sandbox) throws -> R) throws -> R {
        let sandbox = try Sandbox()
        defer { sandbox.remove() }
        return try body(sandbox)
    }

    private init() throws {
        var template = Array("/tmp/lifeboat-it-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else {
            throw HarnessError("mkdtemp: \(String(cString: strerror(errno)))")
        }
        root = String(cString: made)
        repository = root + "/repo"
        // Process input and output files live apart, so writing them never changes the
        // metadata of a directory a test backs up.
        try makeDirectory(root + "/.io", mode: 0o755)
    }

    private func remove() {
        removeTree(root)
    }

    /// `root/relative`.
    func path(_ relative: String) -> String { root + "/" + relative }

    /// The environment `lifeboat` runs with; `overrides` replace entries, and a nil value removes one.
    func environment(_ overrides: [String: String?]) -> [String: String] {
        var environment = [
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": root,
            "LANG": "C.UTF-8",
            "TERM": "dumb",
            "LIFEBOAT_REPOSITORY": repository,
            "LIFEBOAT_PASSWORD": password,
        ]
        for (name, value) in overrides {
            environment[name] = value
        }
        return environment
    }

    /// Starts any program (absolute path) without waiting for it.
    func start(program: String, _ arguments: [String], env: [String: String?] = [:], stdin: [UInt8] = []) throws -> RunningProcess {
        let number = counter.withLock { counter in
            counter += 1
            return counter
        }
        let base = root + "/.io/\(number)"
        try writeFile(base + ".in", stdin)
        return try spawn(program, arguments, environment: environment(env),
                         stdinPath: base + ".in", stdoutPath: base + ".out", stderrPath: base + ".err")
    }

    /// Starts `lifeboat` with `arguments` without waiting for it.
    func start(_ arguments: [String], env: [String: String?] = [:], stdin: [UInt8] = []) throws -> RunningProcess {
        try start(program: Lifeboat.executable(), arguments, env: env, stdin: stdin)
    }

    /// Runs `lifeboat` with `arguments` and returns what it did.
    func run(_ arguments: [String], env: [String: String?] = [:], stdin: [UInt8] = []) throws -> RunResult {
        try start(arguments, env: env, stdin: stdin).wait()
    }

    /// Runs any program (absolute path) and returns what it did.
    func runProgram(_ program: String, _ arguments: [String], env: [String: String?] = [:]) throws -> RunResult {
        try start(program: program, arguments, env: env).wait()
    }

    /// `lifeboat init` with cheap key derivation (scrypt 2^14), expecting success.
    func initRepository(_ extra: [String] = []) throws {
        let result = try run(["init", "--kdf-log-n", "14"] + extra)
        guard result.status == 0 else { throw HarnessError("init failed:\n\(result)") }
    }

    /// `lifeboat backup --json`, expecting `status`; returns the summary message.
    @discardableResult
    func backup(_ arguments: [String], expecting status: Int32 = 0, env: [String: String?] = [:]) throws -> BackupSummary {
        let result = try run(["backup", "--json"] + arguments, env: env)
        guard result.status == status else {
            throw HarnessError("backup exited with \(result.status), expected \(status):\n\(result)")
        }
        return try result.message("summary", as: BackupSummary.self)
    }

    /// `lifeboat snapshots --json`, oldest first.
    func snapshots(env: [String: String?] = [:]) throws -> [ListedSnapshot] {
        let result = try run(["snapshots", "--json"], env: env)
        guard result.status == 0 else { throw HarnessError("snapshots failed:\n\(result)") }
        return try result.listedSnapshots()
    }

    /// `lifeboat restore SPEC --target TARGET`, expecting `status`.
    @discardableResult
    func restore(_ spec: String, to target: String, _ extra: [String] = [], expecting status: Int32 = 0) throws -> RunResult {
        let result = try run(["restore", spec, "--target", target] + extra)
        guard result.status == status else {
            throw HarnessError("restore exited with \(result.status), expected \(status):\n\(result)")
        }
        return result
    }
}

// MARK: - JSON messages

/// The `message_type: summary` line of `backup --json`.
struct BackupSummary: Decodable {
    var filesNew: Int
    var filesChanged: Int
    var filesUnmodified: Int
    var dirsNew: Int
    var dirsChanged: Int
    var dirsUnmodified: Int
    var dataBlobs: Int
    var treeBlobs: Int
    var dataAdded: UInt64
    var totalFilesProcessed: Int
    var totalBytesProcessed: UInt64
    var snapshotID: String
    var parent: String?
    var errors: Int

    enum CodingKeys: String, CodingKey {
        case filesNew = "files_new", filesChanged = "files_changed", filesUnmodified = "files_unmodified"
        case dirsNew = "dirs_new", dirsChanged = "dirs_changed", dirsUnmodified = "dirs_unmodified"
        case dataBlobs = "data_blobs", treeBlobs = "tree_blobs", dataAdded = "data_added"
        case totalFilesProcessed = "total_files_processed", totalBytesProcessed = "total_bytes_processed"
        case snapshotID = "snapshot_id", parent, errors
    }
}

/// One element of `snapshots --json`.
struct ListedSnapshot: Decodable {
    var id: String
    var shortID: String
    var paths: [String]
    var tags: [String]
    var host: String
    var parent: String?
    var sourceKind: String
    var command: [String]?
    var excludes: [String]?
    var summary: Summary?

    struct Summary: Decodable {
        var filesNew: Int
        var errors: Int
        enum CodingKeys: String, CodingKey { case filesNew = "files_new", errors }
    }

    enum CodingKeys: String, CodingKey {
        case id, shortID = "short_id", paths, tags, host, parent, sourceKind = "source_kind", command, excludes, summary
    }
}

/// The `message_type: summary` line of `check --json`.
struct CheckSummary: Decodable {
    var errors: [String]
    var hints: [String]
    /// Snapshot id (full hex) → affected paths.
    var affectedSnapshots: [String: [String]]
    var snapshots: Int
    var packs: Int
    var packsRead: Int

    enum CodingKeys: String, CodingKey {
        case errors, hints, affectedSnapshots = "affected_snapshots", snapshots, packs, packsRead = "packs_read"
    }
}

/// One element of `key list --json`.
struct ListedKey: Decodable {
    var current: Bool
    var id: String
}
