import Testing
import Chunking

@Suite struct GearTableTests {
    @Test func allZeroKeyIsTheRFC8439KeystreamTestVector() {
        // RFC 8439 appendix A.1, test vector #1: key 0, nonce 0, block counter 0. Keystream
        // 76 b8 e0 ad a0 f1 3d 90 | 40 5d 6a e5 53 86 bd 28 | … | c3 87 b6 69 b2 ee 65 86.
        let gear = GearTable(key: [UInt8](repeating: 0, count: 32))
        #expect(gear[0] == 0x903D_F1A0_ADE0_B876)
        #expect(gear[1] == 0x28BD_8653_E56A_5D40)
        #expect(gear[7] == 0x8665_EEB2_69B6_87C3)
    }

    @Test func sequentialKeyMatchesOpenSSL() {
        // From: head -c 2048 /dev/zero | openssl enc -chacha20
        //   -K 000102…1f -iv 00000000000000000000000000000000
        let gear = GearTable(key: sequentialKey)
        #expect(gear[0] == 0x6A19_C5D9_7D2B_FD39)
        #expect(gear[1] == 0x494A_DCB8_7703_BD8D)
        #expect(gear[2] == 0xCC6A_DEBC_6FD8_358A)
        #expect(gear[127] == 0x74AF_8F13_BDE6_9B27)
        #expect(gear[128] == 0x8BD5_4256_D13B_1A36)
        #expect(gear[255] == 0x7343_D61F_B3C4_43B8)  // block 31: the counter runs 0…31
    }

    @Test func differentKeysGiveDifferentTables() {
        var otherKey = sequentialKey
        otherKey[31] ^= 1
        let a = GearTable(key: sequentialKey), b = GearTable(key: otherKey)
        let differing = (0...255).filter { a[UInt8($0)] != b[UInt8($0)] }.count
        #expect(differing == 256)
    }
}
