import Sealing
import Testing

@Suite("zstd compressor and decompressor")
struct ZstdTests {
    @Test("round trip at several levels, reusing both contexts", arguments: [Int32(-7), 1, 3, 19])
    func roundTrip(level: Int32) throws {
        let compressor = ZstdCompressor(level: level)
        let decompressor = ZstdDecompressor()
        for input in [[], compressibleBytes(count: 1), compressibleBytes(count: 200_000), pseudoRandomBytes(count: 70_000, seed: 9)] {
            var frame: [UInt8] = [0xab]
            let length = try input.withUnsafeBytes { try compressor.compress($0, appendingTo: &frame) }
            #expect(frame.count == 1 + length)
            #expect(frame[0] == 0xab)
            var output: [UInt8] = [0xcd]
            try frame.dropFirst().withUnsafeBytes {
                try decompressor.decompress($0, decompressedSize: input.count, appendingTo: &output)
            }
            #expect(output == [0xcd] + input)
        }
    }

    @Test("compressible input shrinks")
    func shrinks() throws {
        let input = compressibleBytes(count: 100_000)
        var frame: [UInt8] = []
        let length = try input.withUnsafeBytes { try ZstdCompressor(level: 3).compress($0, appendingTo: &frame) }
        #expect(length < input.count / 10)
    }

    @Test("a wrong decompressed size or damaged frame is .corrupted, and the output is left alone")
    func corrupted() throws {
        let input = compressibleBytes(count: 10_000)
        var frame: [UInt8] = []
        try input.withUnsafeBytes { _ = try ZstdCompressor(level: 3).compress($0, appendingTo: &frame) }
        let decompressor = ZstdDecompressor()
        var damaged = frame
        damaged[0] ^= 0xff  // the magic number
        let cases: [(frame: [UInt8], size: Int)] = [
            (frame, input.count - 1), (frame, input.count + 1), (damaged, input.count),
            (Array(frame.prefix(frame.count / 2)), input.count), ([], input.count), ([1, 2, 3], 0),
        ]
        for (frame, size) in cases {
            var output: [UInt8] = [7]
            #expect(throws: SealingError(.corrupted, "")) {
                try frame.withUnsafeBytes { try decompressor.decompress($0, decompressedSize: size, appendingTo: &output) }
            }
            #expect(output == [7])
        }
    }
}
