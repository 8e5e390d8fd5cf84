import Sealing
import Testing

@Suite("scrypt (RFC 7914 §12) and its parameters")
struct ScryptTests {
    struct Vector: Sendable, CustomTestStringConvertible {
        var password: String
        var salt: String
        var parameters: ScryptParameters
        var key: String
        var testDescription: String { "\"\(password)\", \"\(salt)\", N=\(parameters.n)" }
    }

    // The fourth vector (N = 1048576, r = 8) is skipped for time: it needs 1 GiB of memory and
    // several seconds.
    static let vectors: [Vector] = [
        Vector(password: "", salt: "", parameters: ScryptParameters(n: 16, r: 1, p: 1), key: """
            77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442\
            fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906
            """),
        Vector(password: "password", salt: "NaCl", parameters: ScryptParameters(n: 1024, r: 8, p: 16), key: """
            fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162\
            2eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640
            """),
        Vector(password: "pleaseletmein", salt: "SodiumChloride", parameters: ScryptParameters(n: 16384, r: 8, p: 1), key: """
            7023bdcb3afd7348461c06cd81fd38ebfda8fbba904f8e3ea9b543f6545da1f2\
            d5432955613f0fcf62d49705242a9af9e61e85dc0d651e40dfcf017b45575887
            """),
    ]

    @Test("known answers", arguments: vectors)
    func knownAnswer(_ vector: Vector) throws {
        let key = try Scrypt.deriveKey(password: Array(vector.password.utf8), salt: Array(vector.salt.utf8),
                                       parameters: vector.parameters, length: 64)
        #expect(hexString(key) == vector.key)
    }

    @Test("validate rejects absurd or malformed parameters", arguments: [
        ScryptParameters(n: 0, r: 8, p: 1),
        ScryptParameters(n: 1, r: 8, p: 1),
        ScryptParameters(n: 3, r: 8, p: 1),
        ScryptParameters(n: 1 << 14 | 1, r: 8, p: 1),
        ScryptParameters(n: 1 << 14, r: 0, p: 1),
        ScryptParameters(n: 1 << 14, r: 8, p: 0),
        ScryptParameters(n: 1 << 14, r: 65, p: 1),
        ScryptParameters(n: 1 << 14, r: 8, p: 1000),
        ScryptParameters(n: 1 << 16, r: 1, p: 1),       // N must be below 2^(16·r)
        ScryptParameters(n: 1 << 21, r: 8, p: 1),       // 2 GiB of memory
        ScryptParameters(n: 1 << 63, r: 8, p: 1),
        ScryptParameters(n: 1 << 20, r: 8, p: 64),      // memory fits, total work does not
    ])
    func validateRejects(_ parameters: ScryptParameters) {
        #expect(throws: SealingError(.invalidParameters, "")) { try parameters.validate() }
        #expect(throws: SealingError(.invalidParameters, "")) {
            try Scrypt.deriveKey(password: [1], salt: [2], parameters: parameters, length: 32)
        }
    }

    @Test("validate accepts what calibration and the RFC use", arguments: [
        ScryptParameters(n: 16, r: 1, p: 1),
        ScryptParameters(n: 1 << 14, r: 8, p: 1),
        ScryptParameters(n: 1 << 18, r: 8, p: 1),
        ScryptParameters(n: 1 << 20, r: 8, p: 1),
    ])
    func validateAccepts(_ parameters: ScryptParameters) throws {
        try parameters.validate()
    }

    @Test("a zero or oversized key length is rejected")
    func badLength() {
        let parameters = ScryptParameters(n: 16, r: 1, p: 1)
        #expect(throws: SealingError(.invalidParameters, "")) {
            try Scrypt.deriveKey(password: [], salt: [], parameters: parameters, length: 0)
        }
    }

    @Test("calibration picks n a power of two from 2^14 up to the 32 MiB cap, r = 8, and raises p beyond it")
    func calibration() throws {
        let parameters = try ScryptParameters.calibrated(targetSeconds: 0.1)
        #expect(parameters.r == 8 && parameters.p >= 1)
        #expect(parameters.n >= 1 << 14)
        #expect(parameters.n & (parameters.n - 1) == 0)
        #expect(parameters.p == 1 || parameters.n == 1 << 15, "p grows only once n is at the cap")
        #expect(128 * UInt64(parameters.r) * parameters.n <= 32 << 20)
        try parameters.validate()

        // A tiny target gives the floor; a huge one the memory cap, and p up to the work cap.
        #expect(try ScryptParameters.calibrated(targetSeconds: 0.000_001).n == 1 << 14)
        let slowest = try ScryptParameters.calibrated(targetSeconds: 1_000_000)
        #expect(slowest.n == 1 << 15)
        #expect(slowest.memoryBytes == ScryptParameters.maximumCalibratedMemory)
        #expect(slowest.memoryBytes * UInt64(slowest.p) == ScryptParameters.maximumWork)
        #expect(throws: SealingError(.invalidParameters, "")) { try ScryptParameters.calibrated(targetSeconds: 0) }
        #expect(throws: SealingError(.invalidParameters, "")) { try ScryptParameters.calibrated(targetSeconds: .nan) }
    }
}
