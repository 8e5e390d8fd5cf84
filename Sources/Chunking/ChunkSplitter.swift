/// Splits a stream that arrives in pieces of any size (file reads, network messages) into
/// chunks, keeping the contract of ``Chunker/cutPoint(in:isEndOfInput:)``.
///
/// The cut points are the same as if the whole stream were chunked at once. Bytes are copied
/// into an internal buffer of `2 × maximumSize` only while fewer than `maximumSize` bytes are
/// pending; larger pieces are chunked where they lie.
///
/// ```swift
/// var splitter = ChunkSplitter(chunker: fastCDC)
/// while let piece = try source.next() {
///     try piece.withUnsafeBytes { try splitter.append($0) { chunk in try store(chunk) } }
/// }
/// try splitter.finish { chunk in try store(chunk) }
/// ```
///
/// The buffers passed to `body` are valid only during the call. If `body` throws, the stream
/// is abandoned: call ``reset()`` before using the splitter for another stream.
public struct ChunkSplitter: Sendable {
    /// The chunker that decides the cut points.
    public let chunker: any Chunker
    private var storage: [UInt8]
    /// The pending bytes are `storage[start ..< end]`.
    private var start = 0
    private var end = 0

    /// Creates a splitter for one stream at a time.
    public init(chunker: any Chunker) {
        self.chunker = chunker
        self.storage = [UInt8](repeating: 0, count: 2 * chunker.maximumSize)
    }

    /// The number of bytes received but not yet passed to `body`.
    public var pendingByteCount: Int { end - start }

    /// Adds the next bytes of the stream and calls `body` with every chunk completed so far.
    public mutating func append(_ bytes: UnsafeRawBufferPointer,
                                _ body: (UnsafeRawBufferPointer) throws -> Void) rethrows {
        let chunker = self.chunker
        let maximum = chunker.maximumSize
        var input = bytes
        while !input.isEmpty {
            if start == end {
                start = 0
                end = 0
                while input.count >= maximum {
                    let length = chunker.cutPoint(in: input, isEndOfInput: false)
                    try body(UnsafeRawBufferPointer(rebasing: input[..<length]))
                    input = UnsafeRawBufferPointer(rebasing: input[length...])
                }
                if input.isEmpty {
                    return
                }
            }
            try storage.withUnsafeMutableBytes { storage in
                if end == storage.count {
                    // At most `maximum - 1` bytes are pending here, so moving them to the front
                    // frees at least `maximum + 1` bytes.
                    storage.baseAddress!.copyMemory(from: storage.baseAddress! + start, byteCount: end - start)
                    end -= start
                    start = 0
                }
                let copied = Swift.min(input.count, storage.count - end)
                UnsafeMutableRawBufferPointer(rebasing: storage[end ..< end + copied])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: input[..<copied]))
                end += copied
                input = UnsafeRawBufferPointer(rebasing: input[copied...])
                while end - start >= maximum {
                    let pending = UnsafeRawBufferPointer(rebasing: storage[start ..< end])
                    let length = chunker.cutPoint(in: pending, isEndOfInput: false)
                    try body(UnsafeRawBufferPointer(rebasing: pending[..<length]))
                    start += length
                }
            }
        }
    }

    /// Reads the rest of the stream straight into the internal buffer and calls `body` with
    /// each chunk, ending the stream (as ``finish(_:)`` does) when `read` returns 0.
    ///
    /// This saves the copy that ``append(_:_:)`` makes. `read` fills a prefix of the buffer it is
    /// given (never empty) and returns the number of bytes it wrote, or 0 at the end of the stream.
    public mutating func consume(reading read: (UnsafeMutableRawBufferPointer) throws -> Int,
                                 _ body: (UnsafeRawBufferPointer) throws -> Void) rethrows {
        let chunker = self.chunker
        let maximum = chunker.maximumSize
        try storage.withUnsafeMutableBytes { storage in
            while true {
                if end == storage.count {
                    storage.baseAddress!.copyMemory(from: storage.baseAddress! + start, byteCount: end - start)
                    end -= start
                    start = 0
                }
                let count = try read(UnsafeMutableRawBufferPointer(rebasing: storage[end...]))
                precondition((0...storage.count - end).contains(count),
                             "ChunkSplitter: read returned \(count) for a buffer of \(storage.count - end) bytes")
                if count == 0 {
                    break
                }
                end += count
                while end - start >= maximum {
                    let pending = UnsafeRawBufferPointer(rebasing: storage[start ..< end])
                    let length = chunker.cutPoint(in: pending, isEndOfInput: false)
                    try body(UnsafeRawBufferPointer(rebasing: pending[..<length]))
                    start += length
                }
                if start == end {
                    start = 0
                    end = 0
                }
            }
        }
        try finish(body)
    }

    /// Ends the stream: calls `body` with the remaining chunks, then makes the splitter ready
    /// for a new stream. A stream of no bytes at all has no chunks.
    public mutating func finish(_ body: (UnsafeRawBufferPointer) throws -> Void) rethrows {
        let chunker = self.chunker
        try storage.withUnsafeBytes { storage in
            while start < end {
                let pending = UnsafeRawBufferPointer(rebasing: storage[start ..< end])
                let length = chunker.cutPoint(in: pending, isEndOfInput: true)
                try body(UnsafeRawBufferPointer(rebasing: pending[..<length]))
                start += length
            }
        }
        reset()
    }

    /// Discards any pending bytes, ready for a new stream.
    public mutating func reset() {
        start = 0
        end = 0
    }
}
