/// An error from the chunking layer: which parameter is wrong, and what to use instead.
///
/// Equality is by ``code`` only, so callers can match `error.code == .invalidParameters`.
public struct ChunkingError: Error, Hashable, CustomStringConvertible, Sendable {
    /// A stable category; new codes may be added.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Value: Hashable, Sendable {
            case invalidParameters
        }
        fileprivate var value: Value

        /// Chunker parameters (sizes, alignment) are out of range or inconsistent.
        public static let invalidParameters = Code(value: .invalidParameters)

        public var description: String { "\(value)" }
    }

    public var code: Code
    /// What happened, to which parameter, and what to do next.
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

    public static func == (lhs: ChunkingError, rhs: ChunkingError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}
