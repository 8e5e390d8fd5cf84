/// A command-line option a command accepts.
struct OptionSpec {
    var name: String
    var short: Character?
    /// Name of the value in help (`DIR`); nil for a flag without a value.
    var value: String?
    var help: String
    var repeatable = false

    static func flag(_ name: String, short: Character? = nil, _ help: String) -> OptionSpec {
        OptionSpec(name: name, short: short, value: nil, help: help)
    }

    static func value(_ name: String, short: Character? = nil, _ value: String, _ help: String, repeatable: Bool = false) -> OptionSpec {
        OptionSpec(name: name, short: short, value: value, help: help, repeatable: repeatable)
    }
}

/// A usage mistake: exit code 2, with the command's help pointer.
struct UsageError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// Parsed arguments of one command.
struct Arguments {
    private var values: [String: [String]] = [:]
    private var flags: Set<String> = []
    var positionals: [String] = []
    /// Everything after `--`, if it was given.
    var trailing: [String]?

    /// The options every command accepts.
    static let global: [OptionSpec] = [
        .value("repo", short: "r", "REPO", "repository location (or LIFEBOAT_REPOSITORY); NAME=LOCATION names a region", repeatable: true),
        .value("region", "NAME", "with several --repo: the region to read from (default: the first that answers)"),
        .flag("json", "print JSON lines (message_type: status, summary, error) instead of text"),
        .flag("quiet", short: "q", "print only errors"),
        .flag("help", short: "h", "show this help"),
    ]

    init(_ arguments: [String], specs: [OptionSpec], command: String) throws {
        let all = Arguments.global + specs
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            if argument == "--" {
                trailing = Array(arguments[index...])
                break
            }
            guard argument.hasPrefix("-"), argument != "-" else {
                positionals.append(argument)
                continue
            }
            var name: String
            var inline: String?
            if argument.hasPrefix("--") {
                name = String(argument.dropFirst(2))
                if let equals = name.firstIndex(of: "=") {
                    inline = String(name[name.index(after: equals)...])
                    name = String(name[..<equals])
                }
            } else {
                guard argument.count == 2, let spec = all.first(where: { $0.short == argument.last }) else {
                    throw UsageError(message: "unknown option '\(argument)' for '\(command)'; see 'lifeboat \(command) --help'")
                }
                name = spec.name
            }
            guard let spec = all.first(where: { $0.name == name }) else {
                let suggestion = all.min { editDistance($0.name, name) < editDistance($1.name, name) }
                    .flatMap { editDistance($0.name, name) <= 3 ? " (did you mean '--\($0.name)'?)" : nil } ?? ""
                throw UsageError(message: "unknown option '--\(name)' for '\(command)'\(suggestion); see 'lifeboat \(command) --help'")
            }
            if spec.value == nil {
                guard inline == nil else { throw UsageError(message: "option '--\(name)' takes no value") }
                flags.insert(name)
                continue
            }
            let value: String
            if let inline {
                value = inline
            } else {
                guard index < arguments.count else {
                    throw UsageError(message: "option '--\(name)' needs a value (\(spec.value!))")
                }
                value = arguments[index]
                index += 1
            }
            if !spec.repeatable, values[name] != nil {
                throw UsageError(message: "option '--\(name)' was given twice")
            }
            values[name, default: []].append(value)
        }
    }

    func has(_ flag: String) -> Bool { flags.contains(flag) }

    func value(_ name: String) -> String? { values[name]?.last }

    func values(_ name: String) -> [String] { values[name] ?? [] }

    /// A value that must be a whole number in `range`.
    func integer(_ name: String, in range: ClosedRange<Int>) throws -> Int? {
        guard let text = value(name) else { return nil }
        guard let number = Int(text), range.contains(number) else {
            throw UsageError(message: "--\(name) '\(text)': expected a whole number in \(range.lowerBound)...\(range.upperBound)")
        }
        return number
    }
}

private func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    var row = Array(0...b.count)
    for i in 1...max(1, a.count) where !a.isEmpty {
        var previous = row[0]
        row[0] = i
        for j in 1...max(1, b.count) where !b.isEmpty {
            let current = row[j]
            row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
            previous = current
        }
    }
    return row[b.count]
}
