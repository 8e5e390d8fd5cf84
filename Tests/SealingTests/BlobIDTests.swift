import FoundationEssentials
import Sealing
import Testing

@Suite("BlobID")
struct BlobIDTests {
    @Test("bytes, hex and description round-trip")
    func roundTrip() throws {
        let bytes = (0..<32).map { UInt8($0 * 7 + 3) }
        let id = BlobID(bytes)
        #expect(id.bytes == bytes)
        #expect(id.hex == hexString(bytes))
        #expect(id.description == id.hex)
        #expect(id.shortHex == String(id.hex.prefix(8)))
        #expect(BlobID(hex: id.hex) == id)
        #expect(BlobID(hex: id.hex.uppercased()) == id)
        #expect(id.withUnsafeBytes { Array($0) } == bytes)
        #expect(bytes.withUnsafeBytes { BlobID(bytes: $0) } == id)
    }

    @Test("invalid hex is rejected", arguments: ["", "00", String(repeating: "0", count: 63), String(repeating: "0", count: 65),
                                                String(repeating: "g", count: 64), String(repeating: "0", count: 62) + "é"])
    func invalidHex(_ text: String) {
        #expect(BlobID(hex: text) == nil)
    }

    @Test("zero is 32 zero bytes")
    func zero() {
        #expect(BlobID.zero.bytes == [UInt8](repeating: 0, count: 32))
        #expect(BlobID.zero.hex == String(repeating: "0", count: 64))
    }

    @Test("ordering is lexicographic by bytes, the same as by hex")
    func ordering() {
        var ids = (0..<500).map { BlobID(pseudoRandomBytes(count: 32, seed: UInt64($0))) }
        // Ids that differ only late, to exercise every word.
        for position in [0, 7, 8, 15, 16, 31] {
            var bytes = [UInt8](repeating: 0x80, count: 32)
            bytes[position] = 0x7f
            ids.append(BlobID(bytes))
            bytes[position] = 0x81
            ids.append(BlobID(bytes))
        }
        let byID = ids.sorted()
        let byHex = ids.sorted { $0.hex < $1.hex }
        #expect(byID == byHex)
        let byBytes = ids.sorted { $0.bytes.lexicographicallyPrecedes($1.bytes) }
        #expect(byID == byBytes)
    }

    @Test("hashing distinguishes ids in a set")
    func hashing() {
        let ids = (0..<10_000).map { BlobID(pseudoRandomBytes(count: 32, seed: UInt64($0))) }
        #expect(Set(ids).count == ids.count)
        #expect(Set(ids + ids).count == ids.count)
    }

    @Test("Codable as a hex string")
    func codable() throws {
        let id = BlobID(pseudoRandomBytes(count: 32, seed: 99))
        let data = try JSONEncoder().encode([id])
        #expect(String(decoding: data, as: UTF8.self) == "[\"\(id.hex)\"]")
        #expect(try JSONDecoder().decode([BlobID].self, from: data) == [id])
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([BlobID].self, from: Data("[\"abc\"]".utf8)) }
    }
}
