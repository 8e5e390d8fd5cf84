/// An error from an object store: what failed, on which object, and what to do next.
///
/// Equality is by ``code`` only, so callers can match `error.code == .notFound`.
public struct ObjectStoreError: Error, Hashable, CustomStringConvertible, Sendable {
    /// A stable category; new codes may be added.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Value: Hashable, Sendable {
            case notFound, alreadyExists, shortRead, permissionDenied, noSpace, unavailable, invalidLocation, corrupted, io
        }
        fileprivate var value: Value

        /// The object does not exist.
        public static let notFound = Code(value: .notFound)
        /// A create-only write found the object already there.
        public static let alreadyExists = Code(value: .alreadyExists)
        /// The object is shorter than the requested range.
        public static let shortRead = Code(value: .shortRead)
        /// The store refused access (file permissions, credentials).
        public static let permissionDenied = Code(value: .permissionDenied)
        /// The store is out of space.
        public static let noSpace = Code(value: .noSpace)
        /// The store cannot be reached at all.
        public static let unavailable = Code(value: .unavailable)
        /// The repository location (a path or URL, or one of its options) is not usable as written.
        public static let invalidLocation = Code(value: .invalidLocation)
        /// The store returned bytes that fail their checksum, again and again.
        public static let corrupted = Code(value: .corrupted)
        /// Any other input/output failure.
        public static let io = Code(value: .io)

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

    public static func == (lhs: ObjectStoreError, rhs: ObjectStoreError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}
