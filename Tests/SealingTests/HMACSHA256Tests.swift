import Sealing
import Testing

@Suite("HMAC-SHA256 (RFC 4231)")
struct HMACSHA256Tests {
    struct Vector: Sendable, CustomTestStringConvertible {
        var name: String
        var key: [UInt8]
        var data: [UInt8]
        var mac: String
        var testDescription: String { name }
    }

    static let vectors: [Vector] = [
        Vector(name: "test case 1", key: [UInt8](repeating: 0x0b, count: 20), data: Array("Hi There".utf8),
               mac: "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
        Vector(name: "test case 2", key: Array("Jefe".utf8), data: Array("what do ya want for nothing?".utf8),
               mac: "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
        Vector(name: "test case 3", key: [UInt8](repeating: 0xaa, count: 20), data: [UInt8](repeating: 0xdd, count: 50),
               mac: "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
        Vector(name: "test case 4", key: hexBytes("0102030405060708090a0b0c0d0e0f10111213141516171819"),
               data: [UInt8](repeating: 0xcd, count: 50),
               mac: "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"),
        // Test case 5 specifies only the first 128 bits of the output.
        Vector(name: "test case 5 (truncated)", key: [UInt8](repeating: 0x0c, count: 20),
               data: Array("Test With Truncation".utf8), mac: "a3b6167473100ee06e0c796c2955552b"),
        Vector(name: "test case 6", key: [UInt8](repeating: 0xaa, count: 131),
               data: Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8),
               mac: "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
        Vector(name: "test case 7", key: [UInt8](repeating: 0xaa, count: 131),
               data: Array("This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.".utf8),
               mac: "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"),
    ]

    @Test("known answers, reusable instance", arguments: vectors)
    func knownAnswer(_ vector: Vector) {
        let expectedLength = vector.mac.count / 2
        let mac = HMACSHA256(key: vector.key)
        // Twice through one instance: the second call must start again from the keyed state.
        for _ in 0..<2 {
            let code = vector.data.withUnsafeBytes { mac.authenticationCode(for: $0) }
            #expect(hexString(code.bytes.prefix(expectedLength)) == vector.mac)
        }
    }

    @Test("known answers, one-shot", arguments: vectors)
    func oneShot(_ vector: Vector) {
        let code = HMACSHA256.authenticationCode(key: vector.key, message: vector.data)
        #expect(code.count == 32)
        #expect(hexString(code.prefix(vector.mac.count / 2)) == vector.mac)
    }

    @Test("interleaved messages on one instance give independent results")
    func interleaved() {
        let key = [UInt8](repeating: 7, count: 32)
        let mac = HMACSHA256(key: key)
        let messages: [[UInt8]] = [[], Array("a".utf8), compressibleBytes(count: 100_000), pseudoRandomBytes(count: 4096, seed: 3)]
        for message in messages + messages.reversed() {
            let reused = message.withUnsafeBytes { mac.authenticationCode(for: $0) }
            #expect(reused.bytes == HMACSHA256.authenticationCode(key: key, message: message))
        }
    }

    @Test("an empty key is a valid HMAC key")
    func emptyKey() {
        // HMAC-SHA256("", "") from the definition: SHA-256 over the padded blocks.
        let code = HMACSHA256.authenticationCode(key: [], message: [])
        #expect(hexString(code) == "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad")
    }
}
