import ObjectStore
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
            do {
                try repository.removeKey(id)
            } catch let error as ObjectStoreError {
                guard let lock = lockHolding(id, after: error, in: repository.store) else { throw error }
                throw ObjectStoreError(error.code, "key \(id.prefix(8)) was not removed: \(lock); run 'lifeboat key remove \(id.prefix(8))' again once it ends (\(error))", cause: error)
            }
            output.line("removed key \(id.prefix(8))")
            output.message(KeyChange(action: "removed", id: id))
        case "passwd":
            let repository = try context.openRepository(loadIndex: false)
            // The new key file is stored before the old one is removed, so a failure never
            // leaves the repository without a key; but it may leave both.
            let id = try repository.addKey(password: Password.new(file: arguments.value("new-password-file")))
            do {
                try repository.store.delete("keys/\(repository.keyID)")
            } catch {
                output.message(KeyChange(action: "added", id: id))
                throw oldKeyKept(old: repository.keyID, new: id, error: error, store: repository.store)
            }
            output.line("changed password: new key \(id.prefix(8)) replaces \(repository.keyID.prefix(8))")
            output.message(KeyChange(action: "changed", id: id))
        default:
            throw UsageError(message: "unknown key action '\(action)'; use list, add, remove or passwd")
        }
        return .success
    }

    /// The error of a `passwd` whose new key was stored but whose old key could not be
    /// removed: both passwords open the repository now, and the message says so.
    static func oldKeyKept(old: String, new: String, error: any Error, store: any ObjectStore) -> ObjectStoreError {
        let lock = lockHolding(old, after: error, in: store)
        let when = lock == nil ? "once the cause is fixed" : "once its Object Lock retention ends"
        let reason = lock.map { "\($0) (\(error))" } ?? "\(error)"
        let message = "the new password works (key \(new.prefix(8)) saved); the old key \(old.prefix(8)) could not be removed: \(reason); it keeps working until it is removed ('lifeboat key remove \(old.prefix(8))' with the new password \(when))"
        return ObjectStoreError((error as? ObjectStoreError)?.code ?? .io, message, cause: error)
    }

    /// Why a key file's deletion was refused, when Object Lock is the reason: the retention
    /// of `keys/<id>` and its end, or nil when the store is not a locked S3 bucket.
    static func lockHolding(_ id: String, after error: any Error, in store: any ObjectStore) -> String? {
        guard let store = store as? S3Store, (error as? ObjectStoreError)?.code == .permissionDenied else { return nil }
        // The retention is readable with the permissions a backup identity usually has; when
        // it is not, the URL's lock settings are the best guess.
        if let retention = try? store.retention(of: "keys/\(id)"), retention.retainUntil > .now() {
            return "its key file is under Object Lock retention (\(retention.mode.rawValue.lowercased()) mode) until \(retention.retainUntil.iso8601)"
        }
        return store.objectLock == nil ? nil : "its key file may be under Object Lock retention"
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
