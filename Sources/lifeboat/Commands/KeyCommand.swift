import Repository

enum KeyCommand: Command {
    static let name = "key"
    static let summary = "manage passwords: key list | add | remove ID | passwd"
    static let usage = "lifeboat key list | add [--new-password-file FILE] | remove ID | passwd [--new-password-file FILE]"
    static let details = """
    Each key file wraps the same master key under one password, so passwords can be added,
    removed and changed without re-encrypting any data. The current password (from the usual
    sources) opens the repository; the new one comes from --new-password-file or a prompt.
    """
    static let options: [OptionSpec] = [
        .value("new-password-file", "FILE", "read the new password from FILE"),
    ]

    static func run(_ context: Context) throws -> ExitCode {
        let arguments = context.arguments
        let output = context.output
        guard let action = arguments.positionals.first else {
            throw UsageError(message: "key needs an action: list, add, remove ID or passwd")
        }
        let expected = action == "remove" ? 2 : 1
        guard arguments.positionals.count == expected else {
            throw UsageError(message: action == "remove" ? "key remove needs exactly one key id (see 'lifeboat key list')" : "key \(action) takes no further arguments")
        }
        switch action {
        case "list":
            let repository = try context.openRepository(loadIndex: false)
            let keys = try repository.keys()
            if output.json {
                output.message(keys.map { ListedKey(current: $0.id == repository.keyID, id: $0.id, file: $0.file) })
                return .success
            }
            output.result(" ID        User      Host            Created")
            output.result("-------------------------------------------------------------")
            for (id, file) in keys {
                output.result("\(id == repository.keyID ? "*" : " ")\(id.prefix(8))  \(file.username.padding(8))  \(file.host.padding(14))  \(file.created)")
            }
        case "add":
            let repository = try context.openRepository(loadIndex: false)
            let id = try repository.addKey(password: Password.new(file: arguments.value("new-password-file")))
            output.line("saved new key \(id.prefix(8))")
            output.message(KeyChange(action: "added", id: id))
        case "remove":
            let repository = try context.openRepository(loadIndex: false)
            let id = try repository.resolveKey(arguments.positionals[1])
            try repository.removeKey(id)
            output.line("removed key \(id.prefix(8))")
            output.message(KeyChange(action: "removed", id: id))
        case "passwd":
            let repository = try context.openRepository(loadIndex: false)
            let id = try repository.changePassword(to: Password.new(file: arguments.value("new-password-file")))
            output.line("changed password: new key \(id.prefix(8)) replaces \(repository.keyID.prefix(8))")
            output.message(KeyChange(action: "changed", id: id))
        default:
            throw UsageError(message: "unknown key action '\(action)'; use list, add, remove or passwd")
        }
        return .success
    }

    struct ListedKey: Encodable {
        var current: Bool
        var id: String
        var file: KeyFile

        enum CodingKeys: String, CodingKey { case current, id, username, host, created }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(current, forKey: .current)
            try container.encode(id, forKey: .id)
            try container.encode(file.username, forKey: .username)
            try container.encode(file.host, forKey: .host)
            try container.encode(file.created, forKey: .created)
        }
    }

    struct KeyChange: Encodable {
        var messageType = "key"
        var action: String
        var id: String

        enum CodingKeys: String, CodingKey { case messageType = "message_type", action, id }
    }
}

extension String {
    func padding(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
