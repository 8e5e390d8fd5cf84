import ObjectStore
import Repository
import Sealing

/// The stable exit codes of DESIGN §7 (docs/COMMANDS.md lists them).
enum ExitCode: Int32 {
    case success = 0
    case failure = 1
    case usage = 2
    case partial = 3
    case regionUnreachable = 4
    case noRepository = 10
    case wrongPassword = 12
    case interrupted = 130

    /// The exit code and error code name for an error that ended a command.
    static func of(_ error: any Error) -> (ExitCode, String) {
        switch error {
        case is UsageError:
            return (.usage, "usage")
        case let error as RepositoryError:
            switch error.code {
            case .noRepository: return (.noRepository, "no_repository")
            case .wrongPassword: return (.wrongPassword, "wrong_password")
            case .interrupted: return (.interrupted, "interrupted")
            case .invalidArgument: return (.usage, "invalid_argument")
            default: return (.failure, snakeCase("\(error.code)"))
            }
        case let error as ObjectStoreError:
            if error.code == .invalidLocation { return (.usage, "store_invalid_location") }
            return (.failure, "store_" + snakeCase("\(error.code)"))
        case let error as SealingError:
            return (.failure, "sealing_" + snakeCase("\(error.code)"))
        default:
            return (.failure, "error")
        }
    }
}

/// `notFound` → `not_found`, for the stable `code` of JSON errors.
private func snakeCase(_ name: String) -> String {
    var result = ""
    for character in name {
        if character.isUppercase {
            result += "_" + character.lowercased()
        } else {
            result.append(character)
        }
    }
    return result
}
