import Glibc

/// A failed system call on a path, with the C error number.
struct SystemCallError: Error, CustomStringConvertible {
    var operation: String
    var path: [UInt8]
    var errorNumber: Int32

    init(_ operation: String, _ path: [UInt8], errorNumber: Int32 = errno) {
        self.operation = operation
        self.path = path
        self.errorNumber = errorNumber
    }

    var description: String {
        "\(String(decoding: path, as: UTF8.self)): \(operation): \(String(cString: strerror(errorNumber)))"
    }
}

/// Calls `body` with `path` as a NUL-terminated C string.
@inline(__always)
func withCPath<R>(_ path: [UInt8], _ body: (UnsafePointer<CChar>) throws -> R) rethrows -> R {
    var terminated = path
    terminated.append(0)
    return try terminated.withUnsafeBufferPointer { buffer in
        try buffer.withMemoryRebound(to: CChar.self) { try body($0.baseAddress!) }
    }
}

/// `a/b` from raw byte paths, without doubling a slash.
func joinPath(_ directory: [UInt8], _ name: [UInt8]) -> [UInt8] {
    var result = directory
    if result.last != UInt8(ascii: "/") { result.append(UInt8(ascii: "/")) }
    result.append(contentsOf: name)
    return result
}

/// The working directory, for making given paths absolute (`/` if it cannot be read).
func currentDirectory() -> String {
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    return getcwd(&buffer, buffer.count).map { String(cString: $0) } ?? "/"
}
