import FoundationEssentials
import Glibc
import Synchronization

/// Everything the command line prints goes through here, so `--json` and `--quiet` hold
/// everywhere: text for people on stdout, JSON lines for programs, progress only on a
/// terminal, warnings and errors on stderr.
final class Output: Sendable {
    let json: Bool
    let quiet: Bool
    /// Whether stderr is a terminal (progress bars are drawn only there).
    let isTerminal: Bool
    private let progressShown = Mutex(false)

    init(json: Bool, quiet: Bool) {
        self.json = json
        self.quiet = quiet
        isTerminal = isatty(2) == 1 && !json && !quiet && getenv("TERM").map { String(cString: $0) != "dumb" } ?? false
    }

    /// A line of text for people (suppressed by `--json` and `--quiet`).
    func line(_ text: String) {
        guard !json && !quiet else { return }
        clearProgress()
        writeOut(text + "\n")
    }

    /// A line of text that is the command's result (e.g. `ls`), printed even with `--quiet`.
    func result(_ text: String) {
        guard !json else { return }
        writeOut(text + "\n")
    }

    /// One JSON line on stdout (only with `--json`).
    func message(_ value: some Encodable) {
        guard json else { return }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(value) else { return }
        writeOut(String(decoding: data, as: UTF8.self) + "\n")
    }

    /// A warning on stderr (as a JSON error line with `--json`).
    func warning(_ text: String) {
        clearProgress()
        if json {
            message(ErrorMessage(messageType: "error", message: text, code: nil, exitCode: nil))
        } else {
            writeError("warning: \(text)\n")
        }
    }

    /// A line for people on stderr about what the command is doing, not a problem (e.g. what
    /// an interrupt still waits for); printed even with `--quiet`, never with `--json`.
    func notice(_ text: String) {
        guard !json else { return }
        clearProgress()
        writeError(text + "\n")
    }

    /// The final error of a failed command.
    func error(_ text: String, code: String?, exitCode: Int32) {
        clearProgress()
        if json {
            message(ErrorMessage(messageType: "error", message: text, code: code, exitCode: exitCode))
        } else {
            writeError("lifeboat: \(text)\n")
        }
    }

    /// Redraws the one-line progress display on a terminal.
    func progress(_ text: String) {
        guard isTerminal else { return }
        var columns = 100
        var size = winsize()
        if ioctl(2, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 10 { columns = Int(size.ws_col) }
        let clipped = text.count >= columns ? String(text.prefix(columns - 2)) + "…" : text
        progressShown.withLock { $0 = true }
        writeError("\r\u{1B}[K" + clipped)
    }

    func clearProgress() {
        let shown = progressShown.withLock { shown in
            defer { shown = false }
            return shown
        }
        if shown { writeError("\r\u{1B}[K") }
    }

    private func writeOut(_ text: String) { write(text, to: 1) }
    private func writeError(_ text: String) { write(text, to: 2) }

    private func write(_ text: String, to descriptor: Int32) {
        var bytes = Array(text.utf8)
        var offset = 0
        bytes.withUnsafeMutableBytes { raw in
            while offset < raw.count {
                let count = Glibc.write(descriptor, raw.baseAddress! + offset, raw.count - offset)
                if count < 0 && errno == EINTR { continue }
                if count <= 0 { return }
                offset += count
            }
        }
    }
}

struct ErrorMessage: Encodable {
    var messageType: String
    var message: String
    var code: String?
    var exitCode: Int32?

    enum CodingKeys: String, CodingKey {
        case messageType = "message_type", message, code, exitCode = "exit_code"
    }
}

/// Human sizes: 1.5 GiB.
func formatBytes(_ bytes: UInt64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
    var value = Double(bytes)
    var unit = 0
    while value >= 1024 && unit < units.count - 1 {
        value /= 1024
        unit += 1
    }
    return unit == 0 ? "\(bytes) B" : "\(formatDecimal(value, places: value < 10 ? 2 : 1)) \(units[unit])"
}

func formatDecimal(_ value: Double, places: Int) -> String {
    var scale = 1.0
    for _ in 0..<places { scale *= 10 }
    let rounded = (value * scale).rounded() / scale
    var text = "\(rounded)"
    if let dot = text.firstIndex(of: ".") {
        let decimals = text.distance(from: dot, to: text.endIndex) - 1
        if decimals < places { text += String(repeating: "0", count: places - decimals) }
        if places == 0 { text = String(text[..<dot]) }
    }
    return text
}

/// 1:02:03 or 2:03.
func formatDuration(_ seconds: Double) -> String {
    let total = Int(seconds.rounded(.down))
    let hours = total / 3600, minutes = (total % 3600) / 60, secs = total % 60
    let twoDigits = { (value: Int) in value < 10 ? "0\(value)" : "\(value)" }
    return hours > 0 ? "\(hours):\(twoDigits(minutes)):\(twoDigits(secs))" : "\(minutes):\(twoDigits(secs))"
}
