import Testing
import Chunking

@Suite struct FixedSizeChunkerTests {
    @Test(arguments: [
        (1, 8192, 8192), (8192, 8192, 8192), (8193, 8192, 16384), (1 << 20, 8192, 1 << 20),
        (1_000_000, 8192, 1_007_616), (100, 1, 100), (5000, 4096, 8192),
    ])
    func sizeIsRoundedUpToTheAlignment(requested: Int, alignment: Int, expected: Int) {
        let chunker = FixedSizeChunker(size: requested, alignment: alignment)
        #expect(chunker.size == expected)
        #expect(chunker.maximumSize == expected)
        #expect(chunker.size % alignment == 0)
    }

    @Test func defaultAlignmentIsAPostgreSQLPage() {
        #expect(FixedSizeChunker(size: 100_000).alignment == 8192)
        #expect(FixedSizeChunker(size: 100_000).size == 106_496)
    }

    @Test func cutsEverySizeBytesAndTheRemainderLast() {
        let chunker = FixedSizeChunker(size: 16384)
        let input = xorshiftBytes(count: 3 * 16384 + 8192 + 1)
        #expect(chunker.lengths(of: input) == [16384, 16384, 16384, 8193])
        #expect(chunker.lengths(of: Array(input[..<16384])) == [16384])
        #expect(chunker.lengths(of: Array(input[..<1])) == [1])
        #expect(chunker.lengths(of: []) == [])
        input.withUnsafeBytes { bytes in
            #expect(chunker.cutPoint(in: bytes, isEndOfInput: false) == 16384)
        }
    }
}
