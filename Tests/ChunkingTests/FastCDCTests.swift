import Testing
import Chunking

/// Small parameters with the default's shape (min = avg / 2, max = 8 × avg), for tests that need
/// many chunks quickly. FastCDC's behaviour scales with the sizes, so the statistics carry over.
let smallParameters = ChunkerParameters(minimumSize: 2048, averageSize: 4096, maximumSize: 32768)

@Suite struct FastCDCTests {
    let chunker = FastCDC(parameters: .default, gear: GearTable(key: sequentialKey))

    // MARK: - Format stability

    @Test func knownAnswerForTheDefaultParameters() {
        // Key 0…31, input `xorshiftBytes(count:seed: 0x0123456789ABCDEF)`. Cross-checked with an
        // independent Python implementation of the documented rule over OpenSSL's ChaCha20
        // keystream. If this fails, the repository format changed.
        let input = xorshiftBytes(count: 12 << 20)
        #expect(Array(chunker.cutOffsets(of: input).prefix(5))
                == [1_510_238, 2_581_571, 3_772_092, 5_123_236, 6_236_986])
    }

    @Test func knownAnswerForSmallParameters() {
        let small = FastCDC(parameters: smallParameters, gear: GearTable(key: sequentialKey))
        let input = xorshiftBytes(count: 64 << 10)
        #expect(Array(small.cutOffsets(of: input).prefix(8))
                == [4344, 9154, 15495, 20134, 30446, 37967, 42324, 48185])
    }

    @Test(arguments: [
        smallParameters,
        ChunkerParameters(minimumSize: 64, averageSize: 128, maximumSize: 1024),
        ChunkerParameters(minimumSize: 100, averageSize: 256, maximumSize: 777),
        ChunkerParameters(minimumSize: 1001, averageSize: 2048, maximumSize: 2049),
    ])
    func matchesTheByteAtATimeReference(parameters: ChunkerParameters) {
        // Odd minimum and maximum sizes exercise the tails of the two-bytes-per-step loop.
        let gear = GearTable(key: (0..<32).map { UInt8(255 - $0) })
        let fast = FastCDC(parameters: parameters, gear: gear)
        let input = xorshiftBytes(count: 1 << 20, seed: 42)
        var offset = 0
        var expected = [Int]()
        while offset < input.count {
            let length = referenceCutPoint(input[offset...], parameters: parameters, gear: gear)
            expected.append(length)
            offset += length
        }
        #expect(fast.lengths(of: input) == expected)
    }

    // MARK: - Keys

    @Test func cutPointsDependOnlyOnTheKeyAndTheBytes() {
        let input = SharedInput.random64MiB
        var otherKey = sequentialKey
        otherKey[0] ^= 0x80
        let first = chunker.cutOffsets(of: input)
        let again = FastCDC(parameters: .default, gear: GearTable(key: sequentialKey)).cutOffsets(of: input)
        let other = FastCDC(parameters: .default, gear: GearTable(key: otherKey)).cutOffsets(of: input)

        #expect(first == again)
        #expect(first != other)
        // With unrelated keys the cut points are unrelated: only the final offset (the end of
        // the input) and rare coincidences are shared.
        let shared = Set(first).intersection(other).count
        #expect(shared <= 3, "\(shared) of \(first.count) cut points shared between keys")
    }

    // MARK: - Deduplication after edits

    @Test func overwritingAFewBytesChangesOnlyNearbyChunks() {
        let original = SharedInput.random100MB
        var edited = original
        for i in 50_000_000 ..< 50_000_016 {
            edited[i] ^= 0x5A
        }
        expectFewChanged(original: original, edited: edited)
    }

    @Test func insertingBytesChangesOnlyNearbyChunks() {
        let original = SharedInput.random100MB
        var edited = original
        edited.insert(contentsOf: xorshiftBytes(count: 1000, seed: 7), at: 50_000_000)
        expectFewChanged(original: original, edited: edited)
    }

    private func expectFewChanged(original: [UInt8], edited: [UInt8]) {
        let before = chunker.chunkDigests(of: original)
        let after = chunker.chunkDigests(of: edited)
        let known = Set(before)
        let new = after.filter { !known.contains($0) }.count
        #expect(before.count > 50)
        #expect(new >= 1 && new <= 3, "\(new) of \(after.count) chunks are new after the edit")
        #expect(after.count - new >= before.count - 3)
    }

    // MARK: - Size distribution

    @Test func chunkSizesOnRandomData() {
        let small = FastCDC(parameters: smallParameters, gear: GearTable(key: sequentialKey))
        let lengths = small.lengths(of: xorshiftBytes(count: 16 << 20, seed: 99))
        #expect(lengths.dropLast().allSatisfy {
            $0 > smallParameters.minimumSize && $0 <= smallParameters.maximumSize
        })
        // Expected mean with min = avg/2 (see FastCDC's documentation): a byte ends a chunk with
        // probability 2^-(k+2) before avg and 2^-(k-2) after. P(cut in [min, avg)) =
        // 1 - e^(-1/8) ≈ 0.1175, those chunks average ≈ min + 0.245 avg; the others average
        // avg + avg/4. Mean ≈ 0.1175 × 0.745 avg + 0.8825 × 1.25 avg ≈ 1.19 avg. With ≈3,400
        // chunks of standard deviation ≈ 0.3 avg, the sample mean's standard error is ≈ 0.005
        // avg, so [1.12, 1.26] × avg is more than ten standard errors either side.
        let mean = Double(lengths.reduce(0, +)) / Double(lengths.count)
        let average = Double(smallParameters.averageSize)
        #expect(mean > 1.12 * average && mean < 1.26 * average, "mean \(mean)")
        // Normalisation keeps sizes close to the average: few chunks below avg (≈ 11.8 %) and
        // almost none beyond 3 × avg (e^(-8) ≈ 0.03 % for the geometric tail after avg).
        let short = Double(lengths.filter { $0 <= smallParameters.averageSize }.count) / Double(lengths.count)
        #expect(short > 0.09 && short < 0.15, "fraction below average \(short)")
        #expect(lengths.filter { $0 > 3 * smallParameters.averageSize }.count <= 5)
    }

    // MARK: - Boundaries

    @Test func inputNoLongerThanTheMinimumIsOneChunk() {
        let input = xorshiftBytes(count: ChunkerParameters.default.minimumSize)
        for count in [1, 2, 63, 4096, input.count] {
            let length = input.withUnsafeBytes {
                chunker.cutPoint(in: UnsafeRawBufferPointer(rebasing: $0[..<count]), isEndOfInput: true)
            }
            #expect(length == count)
        }
        #expect(chunker.lengths(of: []) == [])
    }

    @Test func zerosAreCutAtTheMaximum() {
        let maximum = ChunkerParameters.default.maximumSize
        let zeros = [UInt8](repeating: 0, count: 2 * maximum + 5)
        #expect(chunker.lengths(of: zeros) == [maximum, maximum, 5])
        #expect(chunker.lengths(of: Array(zeros[..<maximum])) == [maximum])
        #expect(chunker.lengths(of: Array(zeros[...maximum])) == [maximum, 1])
    }

    @Test func aBufferOfExactlyTheMaximumGivesTheSameCutMidStreamAndAtTheEnd() {
        let input = xorshiftBytes(count: ChunkerParameters.default.maximumSize, seed: 3)
        input.withUnsafeBytes { bytes in
            let atEnd = chunker.cutPoint(in: bytes, isEndOfInput: true)
            let midStream = chunker.cutPoint(in: bytes, isEndOfInput: false)
            #expect(atEnd == midStream)
            #expect(atEnd > ChunkerParameters.default.minimumSize && atEnd <= bytes.count)
        }
    }

    @Test func theEndOfInputOnlyTruncates() {
        // A stream ending before the maximum is cut where the content says, or at its end.
        let small = FastCDC(parameters: smallParameters, gear: GearTable(key: sequentialKey))
        let input = xorshiftBytes(count: 64 << 10)
        let full = small.lengths(of: input)
        input.withUnsafeBytes { bytes in
            let first = full[0]
            #expect(small.cutPoint(in: UnsafeRawBufferPointer(rebasing: bytes[..<(first + 1)]), isEndOfInput: true) == first)
            #expect(small.cutPoint(in: UnsafeRawBufferPointer(rebasing: bytes[..<(first - 1)]), isEndOfInput: true) == first - 1)
        }
    }
}

@Suite struct ChunkerContractTests {
    @Test func anEmptyBufferIsAProgrammingError() async {
        await #expect(processExitsWith: .failure) {
            let chunker = FastCDC(parameters: .default, gear: GearTable(key: sequentialKey))
            _ = chunker.cutPoint(in: UnsafeRawBufferPointer(start: nil, count: 0), isEndOfInput: true)
        }
        await #expect(processExitsWith: .failure) {
            _ = FixedSizeChunker(size: 8192).cutPoint(in: UnsafeRawBufferPointer(start: nil, count: 0), isEndOfInput: true)
        }
    }

    @Test func lessThanTheMaximumBeforeTheEndOfInputIsAProgrammingError() async {
        await #expect(processExitsWith: .failure) {
            let chunker = FastCDC(parameters: smallParameters, gear: GearTable(key: sequentialKey))
            let bytes = [UInt8](repeating: 1, count: smallParameters.maximumSize - 1)
            _ = bytes.withUnsafeBytes { chunker.cutPoint(in: $0, isEndOfInput: false) }
        }
    }

    @Test func invalidParametersAreAProgrammingErrorInFastCDC() async {
        await #expect(processExitsWith: .failure) {
            _ = FastCDC(parameters: ChunkerParameters(minimumSize: 64, averageSize: 100, maximumSize: 1000),
                        gear: GearTable(key: sequentialKey))
        }
    }
}
