import Sealing
import Testing

@Suite("AES-256-GCM (McGrew–Viega GCM specification, test cases 13–16)")
struct AESGCMTests {
    struct Vector: Sendable, CustomTestStringConvertible {
        var name: String
        var key: [UInt8]
        var nonce: [UInt8]
        var plaintext: [UInt8]
        var additionalData: [UInt8]
        var ciphertext: [UInt8]
        var tag: [UInt8]
        var testDescription: String { name }
    }

    static let key15 = hexBytes("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308")
    static let plaintext15 = hexBytes("""
        d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72
        1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255
        """)
    static let ciphertext15 = hexBytes("""
        522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa
        8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad
        """)

    // Test cases 17 and 18 use 8-byte and 60-byte IVs; this API takes only 96-bit nonces, so they are skipped.
    static let vectors: [Vector] = [
        Vector(name: "test case 13 (empty)", key: [UInt8](repeating: 0, count: 32), nonce: [UInt8](repeating: 0, count: 12),
               plaintext: [], additionalData: [], ciphertext: [], tag: hexBytes("530f8afbc74536b9a963b4f1c4cb738b")),
        Vector(name: "test case 14 (one zero block)", key: [UInt8](repeating: 0, count: 32), nonce: [UInt8](repeating: 0, count: 12),
               plaintext: [UInt8](repeating: 0, count: 16), additionalData: [],
               ciphertext: hexBytes("cea7403d4d606b6e074ec5d3baf39d18"), tag: hexBytes("d0d1c8a799996bf0265b98b5d48ab919")),
        Vector(name: "test case 15 (four blocks)", key: key15, nonce: hexBytes("cafebabefacedbaddecaf888"),
               plaintext: plaintext15, additionalData: [], ciphertext: ciphertext15,
               tag: hexBytes("b094dac5d93471bdec1a502270e3cc6c")),
        Vector(name: "test case 16 (partial block, with AAD)", key: key15, nonce: hexBytes("cafebabefacedbaddecaf888"),
               plaintext: Array(plaintext15.prefix(60)), additionalData: hexBytes("feedfacedeadbeeffeedfacedeadbeefabaddad2"),
               ciphertext: Array(ciphertext15.prefix(60)), tag: hexBytes("76fc6ece0f4e1768cddf8853bb2d551b")),
    ]

    @Test("seal gives the published ciphertext and tag", arguments: vectors)
    func seal(_ vector: Vector) throws {
        let cipher = try AESGCM(key: vector.key)
        for _ in 0..<2 {  // the context is reused: the second call must not depend on the first
            var output: [UInt8] = [0xee]  // appending keeps what is already there
            try vector.plaintext.withUnsafeBytes { plaintext in
                try vector.additionalData.withUnsafeBytes { additionalData in
                    try cipher.seal(plaintext, nonce: vector.nonce, additionalData: additionalData, appendingTo: &output)
                }
            }
            #expect(output == [0xee] + vector.ciphertext + vector.tag)
        }
    }

    @Test("open recovers the published plaintext", arguments: vectors)
    func open(_ vector: Vector) throws {
        let cipher = try AESGCM(key: vector.key)
        for _ in 0..<2 {
            let opened = try Self.open(cipher, vector.ciphertext + vector.tag, nonce: vector.nonce, additionalData: vector.additionalData)
            #expect(opened == vector.plaintext)
        }
    }

    @Test("a flipped bit anywhere in ciphertext, tag, additional data or nonce fails authentication", arguments: vectors)
    func tamperDetected(_ vector: Vector) throws {
        let cipher = try AESGCM(key: vector.key)
        let sealed = vector.ciphertext + vector.tag
        for bit in 0..<(sealed.count * 8) {
            var altered = sealed
            altered[bit / 8] ^= 1 << (bit % 8)
            Self.expectAuthenticationFailure {
                try Self.open(cipher, altered, nonce: vector.nonce, additionalData: vector.additionalData)
            }
        }
        for bit in 0..<(vector.additionalData.count * 8) {
            var altered = vector.additionalData
            altered[bit / 8] ^= 1 << (bit % 8)
            Self.expectAuthenticationFailure {
                try Self.open(cipher, sealed, nonce: vector.nonce, additionalData: altered)
            }
        }
        for bit in 0..<(vector.nonce.count * 8) {
            var altered = vector.nonce
            altered[bit / 8] ^= 1 << (bit % 8)
            Self.expectAuthenticationFailure {
                try Self.open(cipher, sealed, nonce: altered, additionalData: vector.additionalData)
            }
        }
        // Extra additional data, and a wrong key.
        Self.expectAuthenticationFailure {
            try Self.open(cipher, sealed, nonce: vector.nonce, additionalData: vector.additionalData + [0])
        }
        var wrongKey = vector.key
        wrongKey[31] ^= 0x80
        let otherCipher = try AESGCM(key: wrongKey)
        Self.expectAuthenticationFailure {
            try Self.open(otherCipher, sealed, nonce: vector.nonce, additionalData: vector.additionalData)
        }
        // The original still opens after all those failures.
        #expect(try Self.open(cipher, sealed, nonce: vector.nonce, additionalData: vector.additionalData) == vector.plaintext)
    }

    @Test("a failed open leaves the output buffer as it was")
    func failedOpenLeavesOutputAlone() throws {
        let vector = Self.vectors[3]
        let cipher = try AESGCM(key: vector.key)
        var sealed = vector.ciphertext + vector.tag
        sealed[0] ^= 1
        var output: [UInt8] = [1, 2, 3]
        let error = #expect(throws: SealingError.self) {
            try sealed.withUnsafeBytes { sealed in
                try cipher.open(sealed, nonce: vector.nonce, additionalData: UnsafeRawBufferPointer(start: nil, count: 0),
                                appendingTo: &output)
            }
        }
        #expect(error?.code == .authenticationFailed)
        #expect(output == [1, 2, 3])
    }

    @Test("round trip of larger messages")
    func roundTrip() throws {
        let cipher = try AESGCM(key: pseudoRandomBytes(count: 32, seed: 5))
        let nonce = pseudoRandomBytes(count: 12, seed: 6)
        for count in [1, 15, 16, 17, 4096, 1_000_003] {
            let plaintext = pseudoRandomBytes(count: count, seed: UInt64(count))
            var sealed: [UInt8] = []
            try plaintext.withUnsafeBytes { plaintext in
                try cipher.seal(plaintext, nonce: nonce, additionalData: UnsafeRawBufferPointer(start: nil, count: 0), appendingTo: &sealed)
            }
            #expect(sealed.count == count + 16)
            #expect(try Self.open(cipher, sealed, nonce: nonce, additionalData: []) == plaintext)
        }
    }

    @Test("bad parameters are rejected")
    func badParameters() throws {
        #expect(throws: SealingError(.invalidParameters, "")) { try AESGCM(key: [UInt8](repeating: 0, count: 16)) }
        let cipher = try AESGCM(key: [UInt8](repeating: 0, count: 32))
        var output: [UInt8] = []
        #expect(throws: SealingError(.invalidParameters, "")) {
            try [UInt8]().withUnsafeBytes { empty in
                try cipher.seal(empty, nonce: [UInt8](repeating: 0, count: 8), additionalData: empty, appendingTo: &output)
            }
        }
        #expect(throws: SealingError(.corrupted, "")) {
            try Self.open(cipher, [UInt8](repeating: 0, count: 15), nonce: [UInt8](repeating: 0, count: 12), additionalData: [])
        }
    }

    // MARK: - Helpers

    static func open(_ cipher: AESGCM, _ sealed: [UInt8], nonce: [UInt8], additionalData: [UInt8]) throws -> [UInt8] {
        var output: [UInt8] = []
        try sealed.withUnsafeBytes { sealed in
            try additionalData.withUnsafeBytes { additionalData in
                try cipher.open(sealed, nonce: nonce, additionalData: additionalData, appendingTo: &output)
            }
        }
        return output
    }

    static func expectAuthenticationFailure(sourceLocation: SourceLocation = #_sourceLocation,
                                            _ body: () throws -> [UInt8]) {
        let error = #expect(throws: SealingError.self, sourceLocation: sourceLocation) { _ = try body() }
        #expect(error?.code == .authenticationFailed, sourceLocation: sourceLocation)
    }
}
