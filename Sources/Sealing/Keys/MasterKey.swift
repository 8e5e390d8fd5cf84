/// The master key material of a repository (DESIGN §2), 32 random bytes each:
/// an encryption key (AES-256-GCM), a MAC key (blob ids) and a chunker key (the keyed gear table).
///
/// Key files wrap this with a password-derived key. Encodes as three lowercase hex strings
/// (`encryptionKey`, `macKey`, `chunkerKey`) and rejects keys of any other length when decoding.
/// Its `description` never shows the key bytes.
public struct MasterKey: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The length of each key in bytes.
    public static let keyByteCount = 32

    /// The AES-256-GCM key that seals blobs and objects.
    public var encryptionKey: [UInt8]
    /// The HMAC-SHA256 key that turns plaintext into blob ids.
    public var macKey: [UInt8]
    /// The key that seeds the content-defined chunker, so chunk boundaries reveal nothing.
    public var chunkerKey: [UInt8]

    public init(encryptionKey: [UInt8], macKey: [UInt8], chunkerKey: [UInt8]) {
        self.encryptionKey = encryptionKey
        self.macKey = macKey
        self.chunkerKey = chunkerKey
    }

    /// Fresh random key material for a new repository.
    public static func generate() -> MasterKey {
        MasterKey(encryptionKey: SecureRandom.bytes(count: keyByteCount),
                  macKey: SecureRandom.bytes(count: keyByteCount),
                  chunkerKey: SecureRandom.bytes(count: keyByteCount))
    }

    /// Checks that each key is exactly 32 bytes.
    /// - Throws: ``SealingError/Code/invalidParameters`` naming the key at fault.
    public func validate() throws {
        for (name, key) in [("encryption", encryptionKey), ("MAC", macKey), ("chunker", chunkerKey)]
        where key.count != MasterKey.keyByteCount {
            throw SealingError(.invalidParameters, "the master key's \(name) key is \(key.count) bytes; it must be \(MasterKey.keyByteCount)")
        }
    }

    public var description: String { "MasterKey(<redacted>)" }

    // MARK: - Codable

    private enum CodingKeys: String, CodingKey {
        case encryptionKey, macKey, chunkerKey
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        func key(_ codingKey: CodingKeys) throws -> [UInt8] {
            let text = try container.decode(String.self, forKey: codingKey)
            guard let bytes = decodeHex(text), bytes.count == MasterKey.keyByteCount else {
                // The message deliberately leaves the (secret) value out.
                throw DecodingError.dataCorruptedError(
                    forKey: codingKey, in: container,
                    debugDescription: "expected \(2 * MasterKey.keyByteCount) hexadecimal characters")
            }
            return bytes
        }
        self.init(encryptionKey: try key(.encryptionKey), macKey: try key(.macKey), chunkerKey: try key(.chunkerKey))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(encodeHex(encryptionKey), forKey: .encryptionKey)
        try container.encode(encodeHex(macKey), forKey: .macKey)
        try container.encode(encodeHex(chunkerKey), forKey: .chunkerKey)
    }
}
