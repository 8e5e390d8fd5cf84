import FoundationEssentials
import Sealing

/// A `keys/<id>` object: the master key wrapped with a key derived from one password
/// (docs/FORMAT.md "Key files"). Any number may exist; each opens the same master key, so
/// passwords can be added, removed and changed without re-encrypting data.
public struct KeyFile: Codable, Sendable {
    public var created: String
    public var host: String
    public var username: String
    public var kdf: String
    public var n: UInt64
    public var r: UInt32
    public var p: UInt32
    /// Base64 of the 32-byte scrypt salt.
    public var salt: String
    /// Base64 of nonce (12) || AES-256-GCM(master key JSON) || tag (16).
    public var data: String

    static let additionalData = Array("lifeboat key v1".utf8)

    var scryptParameters: ScryptParameters { ScryptParameters(n: n, r: r, p: p) }

    /// Wraps `masterKey` under `password` with freshly calibrated or given scrypt parameters.
    public static func wrap(_ masterKey: MasterKey, password: [UInt8], parameters: ScryptParameters,
                            host: String, username: String) throws -> KeyFile {
        let salt = SecureRandom.bytes(count: 32)
        let wrappingKey = try Scrypt.deriveKey(password: password, salt: salt, parameters: parameters, length: 32)
        let plaintext = try JSONEncoder().encode(masterKey)
        let nonce = SecureRandom.bytes(count: 12)
        var sealed = nonce
        let cipher = try AESGCM(key: wrappingKey)
        try Array(plaintext).withUnsafeBytes { plain in
            try additionalData.withUnsafeBytes { aad in
                try cipher.seal(plain, nonce: nonce, additionalData: aad, appendingTo: &sealed)
            }
        }
        return KeyFile(created: Node.Timestamp.now().rfc3339, host: host, username: username, kdf: "scrypt",
                       n: parameters.n, r: parameters.r, p: parameters.p,
                       salt: Data(salt).base64EncodedString(), data: Data(sealed).base64EncodedString())
    }

    /// The master key, or `nil` when the password does not open this key file.
    /// Throws when the key file itself is malformed.
    public func unwrap(password: [UInt8], what: String) throws -> MasterKey? {
        guard kdf == "scrypt" else {
            throw RepositoryError(.unsupportedVersion, "\(what): unknown key derivation '\(kdf)'")
        }
        do {
            try scryptParameters.validate()
        } catch {
            throw RepositoryError(.corrupted, "\(what): \(error)", cause: error)
        }
        guard let salt = Data(base64Encoded: salt), let sealed = Data(base64Encoded: data), sealed.count > 28 else {
            throw RepositoryError(.corrupted, "\(what): salt or data is not valid base64")
        }
        let wrappingKey = try Scrypt.deriveKey(password: password, salt: Array(salt), parameters: scryptParameters, length: 32)
        let bytes = Array(sealed)
        var plaintext: [UInt8] = []
        do {
            let cipher = try AESGCM(key: wrappingKey)
            try bytes[12...].withUnsafeBytes { body in
                try KeyFile.additionalData.withUnsafeBytes { aad in
                    try cipher.open(body, nonce: Array(bytes[0..<12]), additionalData: aad, appendingTo: &plaintext)
                }
            }
        } catch let error as SealingError where error.code == .authenticationFailed {
            return nil
        }
        do {
            return try JSONDecoder().decode(MasterKey.self, from: Data(plaintext))
        } catch {
            throw RepositoryError(.corrupted, "\(what): the master key inside is malformed", cause: error)
        }
    }
}
