import CShims
import Glibc

/// A command started with its standard output connected to a pipe we read
/// (`--stdin-from-command`, `LIFEBOAT_PASSWORD_COMMAND`). Standard error is inherited so the
/// operator sees the command's own messages.
public final class ChildProcess {
    public let pid: pid_t
    /// The read end of the command's standard output.
    public let output: Int32
    private var reaped = false

    public init(arguments: [String]) throws {
        var pipeEnds: [Int32] = [0, 0]
        guard CShims_pipe_cloexec(&pipeEnds) == 0 else {
            throw RepositoryError(.io, "cannot create a pipe: \(String(cString: strerror(errno)))")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, pipeEnds[1], 1)
        var cArguments: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) }
        cArguments.append(nil)
        defer { for argument in cArguments { free(argument) } }
        // The child gets our environment minus the repository password: a dump command has
        // no business with it, and it would show in the child's /proc/PID/environ.
        var environment: [UnsafeMutablePointer<CChar>?] = []
        var entry = Glibc.environ
        while let variable = entry.pointee {
            if strncmp(variable, "LIFEBOAT_PASSWORD", 17) != 0 { environment.append(strdup(variable)) }
            entry += 1
        }
        environment.append(nil)
        defer { for variable in environment { free(variable) } }
        var child: pid_t = 0
        let result = posix_spawnp(&child, arguments[0], &actions, nil, cArguments, environment)
        close(pipeEnds[1])
        guard result == 0 else {
            close(pipeEnds[0])
            throw RepositoryError(.sourceFailed, "cannot start '\(arguments[0])': \(String(cString: strerror(result))); check the command and PATH")
        }
        pid = child
        output = pipeEnds[0]
    }

    deinit {
        close(output)
        if !reaped {
            kill(pid, SIGTERM)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
    }

    public func terminate() { kill(pid, SIGTERM) }

    /// Waits for the command to end; returns the raw wait status.
    public func wait() -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        reaped = true
        return status
    }

    /// "exited with status 2" / "was killed by signal 9".
    public static func describe(_ status: Int32) -> String {
        let signal = status & 0x7f
        if signal == 0 { return "exited with status \((status >> 8) & 0xff)" }
        return "was killed by signal \(signal)"
    }

    /// Reads the command's whole output (for small outputs such as a password).
    public func readAll(limit: Int = 1 << 20) throws -> [UInt8] {
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while result.count < limit {
            let count = buffer.withUnsafeMutableBytes { read(output, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            result.append(contentsOf: buffer[0..<count])
        }
        return result
    }
}
