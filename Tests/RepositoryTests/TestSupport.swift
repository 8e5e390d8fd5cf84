import Glibc
import ObjectStore
@testable import Repository
import Sealing

/// A temporary directory removed when the closure returns.
func withTemporaryDirectory<R>(_ body: (String) throws -> R) throws -> R {
    var template = Array("/tmp/lifeboat-test-XXXXXX".utf8CString)
    guard let made = mkdtemp(&template) else { fatalError("mkdtemp failed") }
    let path = String(cString: made)
    defer { removeTree(path) }
    return try body(path)
}

func removeTree(_ path: String) {
    let process = try? ChildProcess(arguments: ["rm", "-rf", path])
    _ = process?.wait()
}

func writeFile(_ path: String, _ bytes: [UInt8]) {
    let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    precondition(descriptor >= 0, "cannot create \(path)")
    bytes.withUnsafeBytes { raw in
        var offset = 0
        while offset < raw.count {
            let count = write(descriptor, raw.baseAddress! + offset, raw.count - offset)
            precondition(count > 0)
            offset += count
        }
    }
    close(descriptor)
}

func readFile(_ path: String) -> [UInt8]? {
    let descriptor = open(path, O_RDONLY)
    guard descriptor >= 0 else { return nil }
    defer { close(descriptor) }
    var result: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let count = read(descriptor, &buffer, buffer.count)
        if count <= 0 { break }
        result.append(contentsOf: buffer[0..<count])
    }
    return result
}

/// Deterministic pseudo-random bytes (xorshift64*), so failures reproduce.
func pseudoRandomBytes(count: Int, seed: UInt64) -> [UInt8] {
    var state = seed | 1
    var bytes = [UInt8](repeating: 0, count: count)
    bytes.withUnsafeMutableBytes { raw in
        var index = 0
        while index < count {
            state ^= state >> 12
            state ^= state << 25
            state ^= state >> 27
            let value = state &* 0x2545F4914F6CDD1D
            withUnsafeBytes(of: value) { word in
                for byte in word where index < count {
                    raw[index] = byte
                    index += 1
                }
            }
        }
    }
    return bytes
}

/// A fresh repository with fast key derivation.
func makeRepository(at path: String, password: String = "test password",
                    configure: (inout Repository.Settings) -> Void = { _ in }) throws -> Repository {
    var settings = Repository.Settings()
    settings.scrypt = ScryptParameters(n: 1 << 14, r: 8, p: 1)
    configure(&settings)
    let store = try LocalDirectoryStore.create(at: path)
    return try Repository.initialize(store: store, password: Array(password.utf8), settings: settings)
}

func randomID() -> BlobID { BlobID(SecureRandom.bytes(count: 32)) }
