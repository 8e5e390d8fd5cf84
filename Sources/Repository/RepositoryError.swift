/// An error from the repository layer: what failed, to which object, and what to do next.
///
/// Equality is by ``code``; codes map to the command line's exit codes (DESIGN §7).
public struct RepositoryError: Error, Hashable, CustomStringConvertible, Sendable {
    /// A stable category; new codes may be added.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Value: Hashable, Sendable {
            case noRepository, alreadyExists, wrongPassword, corrupted, notFound, invalidArgument
            case unsupportedVersion, sourceFailed, io, interrupted
        }
        fileprivate var value: Value

        /// There is no repository at the location (exit code 10).
        public static let noRepository = Code(value: .noRepository)
        /// `init` found something at the location already.
        public static let alreadyExists = Code(value: .alreadyExists)
        /// No key file opens with the password given (exit code 12).
        public static let wrongPassword = Code(value: .wrongPassword)
        /// An object failed verification (checksum, authentication, structure).
        public static let corrupted = Code(value: .corrupted)
        /// A snapshot, path or key that was asked for does not exist.
        public static let notFound = Code(value: .notFound)
        /// The caller asked for something impossible (bad pattern, bad option value).
        public static let invalidArgument = Code(value: .invalidArgument)
        /// The repository was written by a newer format version.
        public static let unsupportedVersion = Code(value: .unsupportedVersion)
        /// A backup source (a command, a file tree) failed; no snapshot was written.
        public static let sourceFailed = Code(value: .sourceFailed)
        /// Reading or writing failed.
        public static let io = Code(value: .io)
        /// The operation was interrupted by a signal.
        public static let interrupted = Code(value: .interrupted)

        public var description: String { "\(value)" }
    }

    public var code: Code
    /// What happened, to which object, and what to do next.
    public var message: String
    /// The underlying error, if any.
    public var cause: (any Error & Sendable)?
    public var file: String
    public var line: Int

    public init(_ code: Code, _ message: String, cause: (any Error & Sendable)? = nil,
                file: String = #fileID, line: Int = #line) {
        self.code = code
        self.message = message
        self.cause = cause
        self.file = file
        self.line = line
    }

    public var description: String { message }

    public static func == (lhs: RepositoryError, rhs: RepositoryError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}
