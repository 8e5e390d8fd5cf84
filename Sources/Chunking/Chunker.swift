/// Finds where the next chunk of a byte stream ends.
///
/// A chunker is a pure function of the bytes: the same bytes give the same cut points however
/// the stream was split into buffers, provided callers keep the contract of
/// ``cutPoint(in:isEndOfInput:)``. ``ChunkSplitter`` and ``forEachChunk(in:_:)`` keep it for you.
public protocol Chunker: Sendable {
    /// Returns the length, in `1...buffer.count`, of the chunk that starts at `buffer[0]`.
    ///
    /// - Parameters:
    ///   - buffer: the next bytes of the stream; never empty.
    ///   - isEndOfInput: `true` if the stream ends with the last byte of `buffer`.
    /// - Precondition: `buffer` is not empty, and holds at least ``maximumSize`` bytes unless
    ///   `isEndOfInput` is `true`. (A chunker that may not see up to ``maximumSize`` bytes cannot
    ///   know where the chunk ends, so a shorter buffer mid-stream is a programming error.)
    func cutPoint(in buffer: UnsafeRawBufferPointer, isEndOfInput: Bool) -> Int

    /// The longest chunk this chunker returns, in bytes.
    var maximumSize: Int { get }
}

extension Chunker {
    /// Calls `body` with each chunk of `bytes`, a complete stream held in memory, in order.
    ///
    /// An empty `bytes` has no chunks. The buffers passed to `body` point into `bytes`.
    public func forEachChunk(in bytes: UnsafeRawBufferPointer,
                             _ body: (UnsafeRawBufferPointer) throws -> Void) rethrows {
        var offset = 0
        while offset < bytes.count {
            let rest = UnsafeRawBufferPointer(rebasing: bytes[offset...])
            let length = cutPoint(in: rest, isEndOfInput: true)
            try body(UnsafeRawBufferPointer(rebasing: rest[..<length]))
            offset += length
        }
    }

    /// The lengths of the chunks of `bytes`, a complete stream held in memory, in order.
    public func chunkLengths(of bytes: UnsafeRawBufferPointer) -> [Int] {
        var lengths = [Int]()
        forEachChunk(in: bytes) { lengths.append($0.count) }
        return lengths
    }
}
