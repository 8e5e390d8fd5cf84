import Chunking
import Glibc
import Sealing

/// One worker's view of the write path: reads a byte stream, cuts it into chunks, ids each
/// one, and seals the new ones for the shared data pack. Owned by one thread.
final class ContentWriter {
    private let storage: BlobStorage
    private let sealer: BlobSealer
    private let chunker: any Chunker
    /// Reused output of sealing one chunk.
    private var sealed: [UInt8] = []
    /// A reused read buffer of the largest chunk plus 1 MiB: a cut always sees a whole
    /// maximum chunk, and what is left over is moved to the front before the next refill.
    private let buffer: UnsafeMutableRawBufferPointer

    init(storage: BlobStorage) throws {
        self.storage = storage
        let repository = storage.repository
        sealer = try repository.makeSealer()
        chunker = try repository.makeChunker()
        buffer = .allocate(byteCount: chunker.maximumSize + (1 << 20), alignment: 4096)
    }

    deinit { buffer.deallocate() }

    /// What reading one stream gave.
    struct Stored {
        var content: [BlobID] = []
        var bytes: UInt64 = 0
    }

    /// Reads `descriptor` to its end and stores its content. Throws the read error
    /// (`SystemCallError`) or a storage error.
    ///
    /// For a regular file a short read means the end of the file, which saves a second read
    /// per small file; if the file grew meanwhile, the caller's size check reports it.
    func store(descriptor: Int32, path: [UInt8], isRegularFile: Bool) throws -> Stored {
        var result = Stored()
        var highWater = 0
        defer {
            if highWater > ContentWriter.retainedBytes {
                madvise(buffer.baseAddress!, buffer.count, MADV_DONTNEED)
            }
        }
        var start = 0
        var end = 0
        var endOfInput = false
        while true {
            // Refill until at least one maximum chunk is available or the input ends.
            if !endOfInput && end - start < chunker.maximumSize {
                if start > 0 {
                    if end > start { memmove(buffer.baseAddress!, buffer.baseAddress! + start, end - start) }
                    end -= start
                    start = 0
                }
                while end < buffer.count {
                    let requested = buffer.count - end
                    let count = read(descriptor, buffer.baseAddress! + end, requested)
                    if count < 0 {
                        if errno == EINTR { continue }
                        throw SystemCallError("read", path)
                    }
                    if count == 0 {
                        endOfInput = true
                        break
                    }
                    end += count
                    if isRegularFile && count < requested {
                        endOfInput = true
                        break
                    }
                    if end - start >= chunker.maximumSize { break }
                }
            }
            highWater = max(highWater, end)
            if start == end && endOfInput { break }
            if start == end { continue }
            let available = UnsafeRawBufferPointer(rebasing: buffer[start..<end])
            let cut = chunker.cutPoint(in: available, isEndOfInput: endOfInput)
            let chunk = UnsafeRawBufferPointer(rebasing: available[0..<cut])
            try add(chunk, to: &result)
            start += cut
        }
        return result
    }

    private func add(_ chunk: UnsafeRawBufferPointer, to result: inout Stored) throws {
        let id = sealer.id(of: chunk)
        result.content.append(id)
        result.bytes += UInt64(chunk.count)
        guard storage.claim(id) else { return }
        sealed.removeAll(keepingCapacity: true)
        try sealer.seal(chunk, id: id, type: BlobType.data.rawValue, appendingTo: &sealed)
        try sealed.withUnsafeBytes { try storage.addData(sealed: $0, id: id, plaintextLength: chunk.count, sealer: sealer) }
        if sealed.capacity > ContentWriter.retainedBytes { sealed = [] }
    }

    /// Buffers grown past this by a large chunk are given back afterwards: most files are
    /// small, and each worker keeping its largest-ever buffers would cost tens of megabytes.
    static let retainedBytes = 2 << 20
}

extension Repository {
    /// The chunker the config describes, keyed with the master key's chunker key.
    func makeChunker() throws -> any Chunker {
        let settings = config.chunker
        switch settings.algorithm {
        case "fixed":
            return FixedSizeChunker(size: settings.averageSize)
        default:
            return FastCDC(parameters: settings.parameters, gear: GearTable(key: masterKey.chunkerKey))
        }
    }
}
