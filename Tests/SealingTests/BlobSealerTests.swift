import Sealing
import Testing

@Suite("BlobSealer envelope")
struct BlobSealerTests {
    static let masterKey = MasterKey(encryptionKey: pseudoRandomBytes(count: 32, seed: 1),
                                     macKey: pseudoRandomBytes(count: 32, seed: 2),
                                     chunkerKey: pseudoRandomBytes(count: 32, seed: 3))
    static let dataType: UInt8 = 1

    @Test("blob ids are HMAC-SHA256 under the MAC key")
    func ids() throws {
        let sealer = try BlobSealer(masterKey: Self.masterKey, compressionLevel: 3)
        let plaintext = compressibleBytes(count: 1000)
        let id = plaintext.withUnsafeBytes { sealer.id(of: $0) }
        #expect(id.bytes == HMACSHA256.authenticationCode(key: Self.masterKey.macKey, message: plaintext))
    }

    @Test("compressible data is stored as a zstd frame (flags 0x01)")
    func compressible() throws {
        let sealer = try BlobSealer(masterKey: Self.masterKey, compressionLevel: 3)
        let plaintext = compressibleBytes(count: 64 * 1024)
        let (sealed, id) = try Self.seal(sealer, plaintext)
        #expect(sealed[0] == 0x01)
        #expect(sealed.count < plaintext.count / 10)
        #expect(try Self.open(sealer, sealed, id: id, length: plaintext.count) == plaintext)
        #expect(try Self.open(sealer, sealed, id: id, length: nil) == plaintext)
    }

    @Test("incompressible data is stored raw (flags 0x00) at exactly plaintext + 29 bytes",
          arguments: [0, 1, 100, 4096, 1 << 20])
    func incompressible(count: Int) throws {
        let sealer = try BlobSealer(masterKey: Self.masterKey, compressionLevel: 3)
        let plaintext = SecureRandom.bytes(count: count)
        let (sealed, id) = try Self.seal(sealer, plaintext)
        #expect(sealed[0] == 0x00)
        #expect(sealed.count == plaintext.count + BlobSealer.overhead)
        #expect(BlobSealer.overhead == 29)
        #expect(try Self.open(sealer, sealed, id: id, length: count) == plaintext)
    }

    @Test("level 0 stores everything raw; a sealer at any level opens it", arguments: [Int32(0), -7, 1, 19])
    func levels(level: Int32) throws {
        let sealer = try BlobSealer(masterKey: Self.masterKey, compressionLevel: level)
        let plaintext = compressibleBytes(count: 10_000)
        let (sealed, id) = try Self.seal(sealer, plaintext)
        #expect(sealed[0] == (level == 0 ? 0x00 : 0x01))
        let other = try BlobSealer(masterKey: Self.masterKey, compressionLevel: level == 0 ? 3 : 0)
        #expect(try Self.open(other, sealed, id: id, length: plaintext.count) == plaintext)
    }

    @Test("the envelope is flags || nonce || AES-256-GCM(payload) || tag with AAD type || flags || id")
    func layout() throws {
        let sealer = try BlobSealer(masterKey: Self.masterKey, compressionLevel: 0)
        let plaintext = Array("hello, envelope".utf8)
        let (sealed, id) = try Self.seal(sealer, plaintext)
        let nonce = Array(sealed[1..<13])
        let cipher = try AESGCM(key: Self.masterKey.encryptionKey)
        var opened: [UInt8] = []
        let additionalData = [Self.dataType, 0x00] + id.bytes
        try Array(sealed[13...]).withUnsafeBytes { body in
            try additionalData.withUnsafeBytes { additionalData in
                try cipher.open(body, nonce: nonce, additionalData: additionalData, appendingTo: &opened)
            }
        }
        #expect(opened == plaintext)
    }

    @Test("nonces are fresh for every seal")
    func freshNonces() throws {
        let sealer = try BlobSealer(masterKey: Self.masterKey, compressionLevel: 3)
        let plaintext = compressibleBytes(count: 100)
        let first = try Self.seal(sealer, plaintext).sealed
        let second = try Self.seal(sealer, plaintext).sealed
        #expect(first[1..<13] != second[1..<13])
        #expect(first != second)
    }

    @Test("seal appends to the output and reports the count")
    func appends() throws {
        let sealer = try BlobSealer(masterKey: Self.masterKey, compressionLevel: 3)
        let plaintext = compressibleBytes(count: 5000)
        let id = plaintext.withUnsafeBytes { sealer.id(of: $0) }
        var output: [UInt8] = [9, 9]
        let appended = try plaintext.withUnsafeBytes { try sealer.seal($0, id: id, type: 1, appendingTo: &output) }
        #expect(output.count == 2 + appended)
        #expect(output.prefix(2) == [9, 9])
        #expect(try Self.open(sealer, Array(output.dropFirst(2)), id: id, length: nil) == plaintext)
    }

    @Test("a wrong type, id or key fails authentication")
    func wrongContext() throws {
        let sealer = try BlobSealer(masterKey: Self.masterKey, compressionLevel: 3)
        for plaintext in [compressibleBytes(count: 3000), pseudoRandomBytes(count: 3000, seed: 8)] {
            let (sealed, id) = try Self.seal(sealer, plaintext)
            var otherID = id.bytes
            otherID[31] ^= 1
            Self.expectFailure(.authenticationFailed) { try Self.open(sealer, sealed, id: BlobID(otherID), length: nil) }
            Self.expectFailure(.authenticationFailed) { try Self.open(sealer, sealed, id: id, type: 2, length: nil) }
            var otherKey = Self.masterKey
            otherKey.encryptionKey[0] ^= 1
            let otherSealer = try BlobSealer(masterKey: otherKey, compressionLevel: 3)
            Self.expectFailure(.authenticationFailed) { try Self.open(otherSealer, sealed, id: id, length: nil) }
        }
    }

    @Test("every single-bit flip of a small sealed blob is detected", arguments: [false, true])
    func everyBitFlip(compressible: Bool) throws {
        let sealer = try BlobSealer(masterKey: Self.masterKey, compressionLevel: 3)
        let plaintext = compressible ? compressibleBytes(count: 200) : pseudoRandomBytes(count: 40, seed: 4)
        let (sealed, id) = try Self.seal(sealer, plaintext)
        #expect(sealed[0] == (compressible ? 0x01 : 0x00))
        for bit in 0..<(sealed.count * 8) {
            var altered = sealed
            altered[bit / 8] ^= 1 << (bit % 8)
            let error = #expect(throws: SealingError.self, "bit \(bit)") {
                try Self.open(sealer, altered, id: id, length: plaintext.count)
            }
            // Flipping flags 0 <-> 1 keeps a well-formed envelope, which the AAD then rejects;
            // other flag values are refused before decryption.
            #expect(error?.code == .authenticationFailed || (bit / 8 == 0 && error?.code == .corrupted), "bit \(bit)")
        }
        #expect(try Self.open(sealer, sealed, id: id, length: plaintext.count) == plaintext)
    }

    @Test("truncated or extended envelopes fail cleanly")
    func truncated() throws {
        let sealer = try BlobSealer(masterKey: Self.masterKey, compressionLevel: 3)
        let plaintext = compressibleBytes(count: 1000)
        let (sealed, id) = try Self.seal(sealer, plaintext)
        for length in 0..<sealed.count {
            let error = #expect(throws: SealingError.self) {
                try Self.open(sealer, Array(sealed.prefix(length)), id: id, length: nil)
            }
            #expect(error?.code == (length < BlobSealer.overhead ? .corrupted : .authenticationFailed), "length \(length)")
        }
        Self.expectFailure(.authenticationFailed) { try Self.open(sealer, sealed + [0], id: id, length: nil) }
    }

    @Test("a plaintext length that differs from the index is .corrupted", arguments: [false, true])
    func wrongLength(compressible: Bool) throws {
        let sealer = try BlobSealer(masterKey: Self.masterKey, compressionLevel: 3)
        let plaintext = compressible ? compressibleBytes(count: 1000) : pseudoRandomBytes(count: 1000, seed: 11)
        let (sealed, id) = try Self.seal(sealer, plaintext)
        Self.expectFailure(.corrupted) { try Self.open(sealer, sealed, id: id, length: 999) }
        Self.expectFailure(.corrupted) { try Self.open(sealer, sealed, id: id, length: 1001) }
    }

    @Test("unknown flags are .corrupted")
    func unknownFlags() throws {
        let sealer = try BlobSealer(masterKey: Self.masterKey, compressionLevel: 3)
        var (sealed, id) = try Self.seal(sealer, compressibleBytes(count: 100))
        sealed[0] = 0x02
        Self.expectFailure(.corrupted) { try Self.open(sealer, sealed, id: id, length: nil) }
    }

    @Test("whole-file objects round-trip under the zero id and are bound to their type")
    func objects() throws {
        let sealer = try BlobSealer(masterKey: Self.masterKey, compressionLevel: 3)
        for plaintext in [[], Array("{\"snapshot\": true}".utf8), compressibleBytes(count: 100_000)] {
            let sealed = try sealer.sealObject(plaintext, type: 7)
            #expect(try sealer.openObject(sealed, type: 7) == plaintext)
            Self.expectFailure(.authenticationFailed) { try sealer.openObject(sealed, type: 8) }
            #expect(try Self.open(sealer, sealed, id: .zero, type: 7, length: plaintext.count) == plaintext)
        }
    }

    @Test("large blobs round-trip, and the scratch buffer survives a very large object")
    func large() throws {
        let sealer = try BlobSealer(masterKey: Self.masterKey, compressionLevel: 1)
        let big = SecureRandom.bytes(count: 33 << 20)
        let sealedBig = try sealer.sealObject(big, type: 3)
        #expect(sealedBig.count == big.count + BlobSealer.overhead)
        #expect(try sealer.openObject(sealedBig, type: 3) == big)
        let small = compressibleBytes(count: 8 << 20)
        let (sealed, id) = try Self.seal(sealer, small)
        #expect(try Self.open(sealer, sealed, id: id, length: small.count) == small)
    }

    @Test("bad keys and levels are rejected")
    func badParameters() {
        var shortKey = Self.masterKey
        shortKey.macKey = [1, 2, 3]
        #expect(throws: SealingError(.invalidParameters, "")) { try BlobSealer(masterKey: shortKey, compressionLevel: 3) }
        #expect(throws: SealingError(.invalidParameters, "")) { try BlobSealer(masterKey: Self.masterKey, compressionLevel: 20) }
        #expect(throws: SealingError(.invalidParameters, "")) { try BlobSealer(masterKey: Self.masterKey, compressionLevel: -8) }
    }

    // MARK: - Helpers

    static func seal(_ sealer: BlobSealer, _ plaintext: [UInt8], type: UInt8 = dataType) throws -> (sealed: [UInt8], id: BlobID) {
        try plaintext.withUnsafeBytes { plaintext in
            let id = sealer.id(of: plaintext)
            var sealed: [UInt8] = []
            let count = try sealer.seal(plaintext, id: id, type: type, appendingTo: &sealed)
            #expect(count == sealed.count)
            return (sealed, id)
        }
    }

    static func open(_ sealer: BlobSealer, _ sealed: [UInt8], id: BlobID, type: UInt8 = dataType, length: Int?) throws -> [UInt8] {
        try sealed.withUnsafeBytes { try sealer.open($0, id: id, type: type, plaintextLength: length) }
    }

    static func expectFailure(_ code: SealingError.Code, sourceLocation: SourceLocation = #_sourceLocation,
                              _ body: () throws -> [UInt8]) {
        let error = #expect(throws: SealingError.self, sourceLocation: sourceLocation) { _ = try body() }
        #expect(error?.code == code, sourceLocation: sourceLocation)
    }
}
