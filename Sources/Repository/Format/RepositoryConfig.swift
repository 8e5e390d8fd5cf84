import Chunking

/// The repository's `config` object: plain JSON, readable without the password, so a tool can
/// tell what a repository is before asking for a key (docs/FORMAT.md "config").
public struct RepositoryConfig: Codable, Sendable, Equatable {
    /// The format version this code writes and reads.
    public static let currentVersion = 1

    public var version: Int
    /// 32 random bytes, hex.
    public var id: String
    public var chunker: ChunkerSettings
    /// zstd level; 0 stores blobs uncompressed.
    public var compressionLevel: Int32
    /// Target size of a pack in bytes.
    public var packSize: Int

    public struct ChunkerSettings: Codable, Sendable, Equatable {
        /// `fastcdc` or `fixed`.
        public var algorithm: String
        public var minimumSize: Int
        public var averageSize: Int
        public var maximumSize: Int

        public init(algorithm: String, minimumSize: Int, averageSize: Int, maximumSize: Int) {
            self.algorithm = algorithm
            self.minimumSize = minimumSize
            self.averageSize = averageSize
            self.maximumSize = maximumSize
        }

        var parameters: ChunkerParameters {
            ChunkerParameters(minimumSize: minimumSize, averageSize: averageSize, maximumSize: maximumSize)
        }

        enum CodingKeys: String, CodingKey {
            case algorithm, minimumSize = "minimum_size", averageSize = "average_size", maximumSize = "maximum_size"
        }
    }

    enum CodingKeys: String, CodingKey {
        case version, id, chunker, compressionLevel = "compression_level", packSize = "pack_size"
    }

    public init(version: Int, id: String, chunker: ChunkerSettings, compressionLevel: Int32, packSize: Int) {
        self.version = version
        self.id = id
        self.chunker = chunker
        self.compressionLevel = compressionLevel
        self.packSize = packSize
    }

    /// Rejects values that this version cannot work with, naming the field and the fix.
    public func validate() throws {
        guard version <= RepositoryConfig.currentVersion, version >= 1 else {
            throw RepositoryError(.unsupportedVersion, "repository format version \(version) is not supported by this lifeboat (supports 1...\(RepositoryConfig.currentVersion)); upgrade lifeboat")
        }
        guard chunker.algorithm == "fastcdc" || chunker.algorithm == "fixed" else {
            throw RepositoryError(.corrupted, "config: unknown chunker algorithm '\(chunker.algorithm)' (expected fastcdc or fixed)")
        }
        do {
            try chunker.parameters.validate()
        } catch {
            throw RepositoryError(.invalidArgument, "config: chunker sizes: \(error)", cause: error)
        }
        guard (-7...22).contains(compressionLevel) else {
            throw RepositoryError(.invalidArgument, "config: compression level \(compressionLevel) is outside -7...22")
        }
        guard (4 << 20...128 << 20).contains(packSize) else {
            throw RepositoryError(.invalidArgument, "config: pack size \(packSize) bytes is outside 4 MiB...128 MiB")
        }
    }
}
