import Sealing
import Testing

@Suite("SHA-256 (FIPS 180-2 examples)")
struct SHA256Tests {
    static let vectors: [(message: String, digest: String)] = [
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    ]

    @Test("known answers", arguments: vectors)
    func knownAnswer(_ vector: (message: String, digest: String)) {
        #expect(SHA256.hash(Array(vector.message.utf8)).hex == vector.digest)
        let hasher = SHA256Hasher()
        Array(vector.message.utf8).withUnsafeBytes { hasher.update($0) }
        #expect(hasher.finalize().hex == vector.digest)
    }

    @Test("one million 'a' (FIPS 180-2 long message)")
    func millionA() {
        let message = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
        #expect(SHA256.hash(message).hex == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test("incremental hashing in uneven pieces equals one-shot, and the hasher restarts after finalize")
    func incremental() {
        let data = pseudoRandomBytes(count: 300_001, seed: 42)
        let expected = SHA256.hash(data)
        let hasher = SHA256Hasher()
        for _ in 0..<2 {
            data.withUnsafeBytes { all in
                var offset = 0
                var piece = 1
                while offset < all.count {
                    let end = min(all.count, offset + piece)
                    hasher.update(UnsafeRawBufferPointer(rebasing: all[offset..<end]))
                    offset = end
                    piece = piece * 3 + 1
                }
            }
            #expect(hasher.finalize() == expected)
        }
        #expect(hasher.finalize() == SHA256.hash([]))
    }
}
