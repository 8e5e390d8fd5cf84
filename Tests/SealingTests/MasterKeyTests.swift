import FoundationEssentials
import Sealing
import Testing

@Suite("MasterKey and SecureRandom")
struct MasterKeyTests {
    @Test("generate gives three distinct 32-byte keys")
    func generate() throws {
        let key = MasterKey.generate()
        #expect(key.encryptionKey.count == 32 && key.macKey.count == 32 && key.chunkerKey.count == 32)
        #expect(Set([key.encryptionKey, key.macKey, key.chunkerKey]).count == 3)
        #expect(MasterKey.generate() != key)
        try key.validate()
    }

    @Test("JSON round trip uses hex strings; the description hides the keys")
    func codable() throws {
        let key = MasterKey.generate()
        let data = try JSONEncoder().encode(key)
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains(hexString(key.macKey)))
        #expect(try JSONDecoder().decode(MasterKey.self, from: data) == key)
        #expect(!"\(key)".contains(hexString(key.encryptionKey)))
        #expect("\(key)" == "MasterKey(<redacted>)")
    }

    @Test("decoding rejects keys of the wrong length or non-hex")
    func decodingRejects() {
        let good = String(repeating: "ab", count: 32)
        for bad in [String(repeating: "ab", count: 31), String(repeating: "zz", count: 32), ""] {
            let json = "{\"encryptionKey\":\"\(good)\",\"macKey\":\"\(bad)\",\"chunkerKey\":\"\(good)\"}"
            #expect(throws: DecodingError.self) { try JSONDecoder().decode(MasterKey.self, from: Data(json.utf8)) }
        }
    }

    @Test("random bytes have the requested length and differ between calls")
    func random() {
        #expect(SecureRandom.bytes(count: 0).isEmpty)
        let first = SecureRandom.bytes(count: 64)
        let second = SecureRandom.bytes(count: 64)
        #expect(first.count == 64 && first != second)
        // A crude sanity check: 64 KiB of output uses (nearly) every byte value.
        #expect(Set(SecureRandom.bytes(count: 65536)).count == 256)
    }
}
