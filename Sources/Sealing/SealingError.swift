/// An error from sealing or opening data: what failed, on which object, and what to do next.
///
/// Equality is by ``code`` only, so callers can match `error.code == .authenticationFailed`.
public struct SealingError: Error, Hashable, CustomStringConvertible, Sendable {
    /// A stable category; new codes may be added.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Value: Hashable, Sendable {
            case authenticationFailed, corrupted, invalidParameters, library
        }
        fileprivate var value: Value

        /// The authentication tag did not match: the data was tampered with, or the key is wrong.
        public static let authenticationFailed = Code(value: .authenticationFailed)
        /// The data is malformed: a bad envelope, a failed decompression, or the wrong length.
        public static let corrupted = Code(value: .corrupted)
        /// A caller passed an unusable parameter (a key of the wrong length, absurd scrypt settings).
        public static let invalidParameters = Code(value: .invalidParameters)
        /// An OpenSSL or zstd call failed; the message carries the library's own error string.
        public static let library = Code(value: .library)

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

    public static func == (lhs: SealingError, rhs: SealingError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}
