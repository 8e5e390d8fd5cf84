import Testing
import Chunking

@Suite struct ChunkSplitterTests {
    let chunker = FastCDC(parameters: smallParameters, gear: GearTable(key: sequentialKey))
    let input = xorshiftBytes(count: 1 << 20, seed: 11)

    @Test(arguments: [1, 7, 4096, 32767, 32768, 100_000, 1 << 20])
    func piecesOfAnySizeGiveTheSameChunks(pieceSize: Int) {
        var splitter = ChunkSplitter(chunker: chunker)
        var chunks = [[UInt8]]()
        input.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let end = min(offset + pieceSize, bytes.count)
                splitter.append(UnsafeRawBufferPointer(rebasing: bytes[offset..<end])) { chunks.append(Array($0)) }
                offset = end
            }
            #expect(splitter.pendingByteCount < smallParameters.maximumSize)
            splitter.finish { chunks.append(Array($0)) }
        }
        #expect(chunks.map(\.count) == chunker.lengths(of: input))
        #expect(chunks.flatMap { $0 } == input)
        #expect(splitter.pendingByteCount == 0)
    }

    @Test(arguments: [1, 1000, 40_000, 1 << 20])
    func readingIntoTheSplitterGivesTheSameChunks(readSize: Int) {
        var splitter = ChunkSplitter(chunker: chunker)
        var chunks = [[UInt8]]()
        var offset = 0
        splitter.consume(reading: { target in
            let count = min(target.count, readSize, input.count - offset)
            input.withUnsafeBytes {
                target.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[offset..<offset + count]))
            }
            offset += count
            return count
        }) { chunks.append(Array($0)) }
        #expect(chunks.map(\.count) == chunker.lengths(of: input))
        #expect(chunks.flatMap { $0 } == input)
    }

    @Test func anEmptyStreamHasNoChunks() {
        var splitter = ChunkSplitter(chunker: chunker)
        var count = 0
        splitter.append(UnsafeRawBufferPointer(start: nil, count: 0)) { _ in count += 1 }
        splitter.finish { _ in count += 1 }
        splitter.consume(reading: { _ in 0 }) { _ in count += 1 }
        #expect(count == 0)
    }

    @Test func theSplitterIsReusableAfterFinish() {
        var splitter = ChunkSplitter(chunker: FixedSizeChunker(size: 8192))
        var lengths = [Int]()
        for _ in 0..<2 {
            input.withUnsafeBytes { splitter.append(UnsafeRawBufferPointer(rebasing: $0[..<20000])) { lengths.append($0.count) } }
            splitter.finish { lengths.append($0.count) }
        }
        #expect(lengths == [8192, 8192, 3616, 8192, 8192, 3616])
    }
}
