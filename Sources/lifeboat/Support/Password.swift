import Glibc
import Repository

/// Where passwords come from (DESIGN §7), in order: `LIFEBOAT_PASSWORD_FILE`,
/// `LIFEBOAT_PASSWORD_COMMAND` (e.g. a Vault CLI call), `LIFEBOAT_PASSWORD`, then a prompt
/// on the terminal. One trailing newline is removed from files and command output.
enum Password {
    static func current(forNewRepository: Bool = false) throws -> [UInt8] {
        if let path = environment("LIFEBOAT_PASSWORD_FILE") {
            return try fromFile(path, what: "LIFEBOAT_PASSWORD_FILE")
        }
        if let command = environment("LIFEBOAT_PASSWORD_COMMAND") {
            return try fromCommand(command)
        }
        if let password = environment("LIFEBOAT_PASSWORD") {
            return try nonEmpty(Array(password.utf8), what: "LIFEBOAT_PASSWORD")
        }
        return try prompt(forNewRepository ? "enter password for the new repository: " : "enter repository password: ",
                          confirm: forNewRepository)
    }

    /// A new password for `key add` / `key passwd`: from `--new-password-file`, else a prompt.
    static func new(file: String?) throws -> [UInt8] {
        if let file { return try fromFile(file, what: "--new-password-file") }
        return try prompt("enter new password: ", confirm: true)
    }

    static func fromFile(_ path: String, what: String) throws -> [UInt8] {
        guard let file = fopen(path, "r") else {
            throw RepositoryError(.io, "\(what) \(path): \(String(cString: strerror(errno))); check the path")
        }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = fread(&buffer, 1, buffer.count, file)
            if count == 0 { break }
            bytes.append(contentsOf: buffer[0..<count])
        }
        return try nonEmpty(trimNewline(bytes), what: "\(what) \(path)")
    }

    static func fromCommand(_ command: String) throws -> [UInt8] {
        let process = try ChildProcess(arguments: ["/bin/sh", "-c", command])
        let output = try process.readAll()
        let status = process.wait()
        guard status == 0 else {
            throw RepositoryError(.io, "LIFEBOAT_PASSWORD_COMMAND \(ChildProcess.describe(status)); fix the command (its output is not shown, it may hold the password)")
        }
        return try nonEmpty(trimNewline(output), what: "LIFEBOAT_PASSWORD_COMMAND output")
    }

    static func prompt(_ text: String, confirm: Bool) throws -> [UInt8] {
        let terminal = open("/dev/tty", O_RDWR | O_CLOEXEC)
        guard terminal >= 0, isatty(0) == 1 || isatty(terminal) == 1 else {
            if terminal >= 0 { close(terminal) }
            throw RepositoryError(.io, "no password given and no terminal to ask on; set LIFEBOAT_PASSWORD_FILE, LIFEBOAT_PASSWORD_COMMAND or LIFEBOAT_PASSWORD")
        }
        defer { close(terminal) }
        let first = try readHidden(text, terminal: terminal)
        if confirm {
            let second = try readHidden("enter the password again: ", terminal: terminal)
            guard first == second else {
                throw RepositoryError(.io, "the passwords do not match; try again")
            }
        }
        return try nonEmpty(first, what: "the password")
    }

    private static func readHidden(_ text: String, terminal: Int32) throws -> [UInt8] {
        _ = text.utf8CString.withUnsafeBufferPointer { write(terminal, $0.baseAddress, $0.count - 1) }
        var saved = termios()
        let hasTerminal = tcgetattr(terminal, &saved) == 0
        if hasTerminal {
            var hidden = saved
            hidden.c_lflag &= ~tcflag_t(ECHO)
            tcsetattr(terminal, TCSAFLUSH, &hidden)
        }
        defer {
            if hasTerminal { tcsetattr(terminal, TCSAFLUSH, &saved) }
            _ = write(terminal, "\n", 1)
        }
        var bytes: [UInt8] = []
        var byte: UInt8 = 0
        while read(terminal, &byte, 1) == 1 && byte != 10 { bytes.append(byte) }
        return bytes
    }

    private static func trimNewline(_ bytes: [UInt8]) -> [UInt8] {
        var bytes = bytes
        if bytes.last == 10 { bytes.removeLast() }
        if bytes.last == 13 { bytes.removeLast() }
        return bytes
    }

    private static func nonEmpty(_ bytes: [UInt8], what: String) throws -> [UInt8] {
        guard !bytes.isEmpty else { throw RepositoryError(.io, "\(what) is empty; a repository password cannot be empty") }
        return bytes
    }
}

func environment(_ name: String) -> String? {
    guard let value = getenv(name) else { return nil }
    let text = String(cString: value)
    return text.isEmpty ? nil : text
}
