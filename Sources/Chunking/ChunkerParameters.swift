/// The sizes that shape content-defined chunks, in bytes.
///
/// The defaults (512 KiB / 1 MiB / 8 MiB) suit database files and archives: about one index
/// entry per MiB stored, with edits confined to a chunk or two. The parameters are part of the
/// repository format (they are stored in the repository's `config`): changing them changes every
/// cut point, so data chunked with different parameters does not deduplicate.
public struct ChunkerParameters: Sendable, Hashable, Codable {
    /// No chunk ends before this many bytes, except the last chunk of a stream.
    public var minimumSize: Int
    /// The target size; must be a power of two. On random data the mean chunk is about
    /// 1.19 × `averageSize` when `minimumSize` is half of it (see ``FastCDC``).
    public var averageSize: Int
    /// Every chunk is cut at this many bytes at the latest.
    public var maximumSize: Int

    /// The largest `maximumSize` (and fixed chunk size) accepted: 64 MiB.
    public static let sizeLimit = 64 << 20
    /// The smallest `minimumSize` accepted: 64 bytes, the width of the gear hash window.
    public static let minimumSizeLimit = 64

    /// Creates parameters without checking them; call ``validate()`` before use.
    public init(minimumSize: Int, averageSize: Int, maximumSize: Int) {
        self.minimumSize = minimumSize
        self.averageSize = averageSize
        self.maximumSize = maximumSize
    }

    /// 512 KiB minimum, 1 MiB average, 8 MiB maximum.
    public static let `default` = ChunkerParameters(minimumSize: 512 << 10, averageSize: 1 << 20,
                                                    maximumSize: 8 << 20)

    /// Checks that `64 <= minimumSize < averageSize < maximumSize <= 64 MiB` and that
    /// `averageSize` is a power of two.
    ///
    /// Throws ``ChunkingError`` with code `.invalidParameters` and a message naming the field.
    public func validate() throws {
        func invalid(_ message: String) -> ChunkingError {
            ChunkingError(.invalidParameters, "invalid chunker parameters: \(message)")
        }
        if minimumSize < Self.minimumSizeLimit {
            throw invalid("minimumSize is \(minimumSize) bytes; it must be at least \(Self.minimumSizeLimit)")
        }
        if averageSize <= 0 || averageSize & (averageSize - 1) != 0 {
            throw invalid("averageSize is \(averageSize) bytes; it must be a power of two (e.g. \(Self.powerOfTwo(near: averageSize)))")
        }
        if minimumSize >= averageSize {
            throw invalid("minimumSize (\(minimumSize)) must be less than averageSize (\(averageSize)); half of averageSize is usual")
        }
        if averageSize >= maximumSize {
            throw invalid("maximumSize (\(maximumSize)) must be greater than averageSize (\(averageSize)); eight times averageSize is usual")
        }
        if maximumSize > Self.sizeLimit {
            throw invalid("maximumSize is \(maximumSize) bytes; it must be at most \(Self.sizeLimit) (64 MiB)")
        }
    }

    private static func powerOfTwo(near value: Int) -> Int {
        guard value > 1 else { return 1 << 20 }
        let below = 1 << (Int.bitWidth - 1 - value.leadingZeroBitCount)
        return value - below < below * 2 - value ? below : below * 2
    }

    private enum CodingKeys: String, CodingKey {
        case minimumSize, averageSize, maximumSize
    }

    /// Decodes and validates, so a damaged or hostile `config` is an error rather than a crash.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(minimumSize: try container.decode(Int.self, forKey: .minimumSize),
                  averageSize: try container.decode(Int.self, forKey: .averageSize),
                  maximumSize: try container.decode(Int.self, forKey: .maximumSize))
        try validate()
    }
}
