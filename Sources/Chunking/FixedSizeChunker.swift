/// Cuts a stream into chunks of one fixed size, a multiple of an alignment ("page-aligned").
///
/// Made for PostgreSQL relation files, whose changes land on 8 KiB pages in place: fixed cuts on
/// page boundaries keep every unchanged run of pages in an unchanged chunk, without hashing.
public struct FixedSizeChunker: Chunker {
    /// The chunk size in bytes: the requested size rounded up to a multiple of ``alignment``.
    public let size: Int
    /// The unit `size` is a multiple of, in bytes.
    public let alignment: Int

    /// Creates a chunker cutting every `size` bytes, `size` rounded up to a multiple of
    /// `alignment` (default 8192, a PostgreSQL page).
    ///
    /// - Precondition: `size ≥ 1`, `alignment ≥ 1`, and the rounded size is at most 64 MiB
    ///   (``ChunkerParameters/sizeLimit``).
    public init(size: Int, alignment: Int = 8192) {
        precondition(size >= 1, "FixedSizeChunker: size must be at least 1 byte, got \(size)")
        precondition(alignment >= 1, "FixedSizeChunker: alignment must be at least 1 byte, got \(alignment)")
        let (units, remainder) = size.quotientAndRemainder(dividingBy: alignment)
        let rounded = (units + (remainder == 0 ? 0 : 1)) * alignment
        precondition(rounded <= ChunkerParameters.sizeLimit,
                     "FixedSizeChunker: size \(rounded) exceeds the limit of \(ChunkerParameters.sizeLimit) bytes")
        self.size = rounded
        self.alignment = alignment
    }

    public var maximumSize: Int { size }

    public func cutPoint(in buffer: UnsafeRawBufferPointer, isEndOfInput: Bool) -> Int {
        precondition(!buffer.isEmpty, "cutPoint(in:isEndOfInput:) called with an empty buffer")
        precondition(isEndOfInput || buffer.count >= size,
                     "cutPoint(in:isEndOfInput:) needs at least maximumSize (\(size)) bytes before the end of input, got \(buffer.count)")
        return Swift.min(buffer.count, size)
    }
}
