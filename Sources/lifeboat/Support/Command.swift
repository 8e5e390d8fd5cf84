/// One `lifeboat` subcommand; each lives in its own file under Commands/.
protocol Command {
    static var name: String { get }
    /// One line for the command list.
    static var summary: String { get }
    /// `lifeboat backup [options] PATH...`
    static var usage: String { get }
    /// More help: what it does, examples.
    static var details: String { get }
    static var options: [OptionSpec] { get }
    static func run(_ context: Context) throws -> ExitCode
}

extension Command {
    static var details: String { "" }

    static var help: String {
        var text = "\(summary)\n\nUsage: \(usage)\n"
        if !details.isEmpty { text += "\n\(details)\n" }
        text += "\nOptions:\n"
        for spec in options + Arguments.global {
            var left = spec.short.map { "-\($0), " } ?? "    "
            left += "--\(spec.name)"
            if let value = spec.value { left += " \(value)" }
            let padding = String(repeating: " ", count: max(1, 30 - left.count))
            text += "  \(left)\(padding)\(spec.help)\(spec.repeatable ? " (repeatable)" : "")\n"
        }
        return text
    }
}
