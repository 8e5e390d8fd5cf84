import Glibc
import Testing

/// Runs `body` with a new empty directory under `/tmp`, removed (with everything in it)
/// afterwards, whatever `body` did to the modes inside.
func withTemporaryDirectory<R>(_ body: (String) throws -> R) throws -> R {
    var template = Array("/tmp/lifeboat-store-test-XXXXXX".utf8CString)
    let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
    guard made != nil else {
        throw FixtureError("mkdtemp failed: \(String(cString: strerror(errno)))")
    }
    let path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    defer { removeTree(path) }
    return try body(path)
}

/// Removes `path` and everything below it, making directories writable first.
func removeTree(_ path: String) {
    var status = stat()
    guard lstat(path, &status) == 0 else { return }
    if status.st_mode & S_IFMT == S_IFDIR {
        _ = chmod(path, 0o700)
        if let directory = opendir(path) {
            var names: [String] = []
            while let entry = readdir(directory) {
                let name = withUnsafePointer(to: &entry.pointee.d_name) {
                    String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))
                }
                if name != "." && name != ".." { names.append(name) }
            }
            closedir(directory)
            for name in names { removeTree(path + "/" + name) }
        }
        _ = rmdir(path)
    } else {
        _ = unlink(path)
    }
}

/// Names in a directory (without `.` and `..`), or `nil` if it cannot be opened.
func directoryEntries(_ path: String) -> [String]? {
    guard let directory = opendir(path) else { return nil }
    defer { closedir(directory) }
    var names: [String] = []
    while let entry = readdir(directory) {
        let name = withUnsafePointer(to: &entry.pointee.d_name) {
            String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))
        }
        if name != "." && name != ".." { names.append(name) }
    }
    return names
}

/// Writes a plain file (for fixtures that are not objects).
func writeFile(_ path: String, _ bytes: [UInt8]) throws {
    let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
    guard descriptor >= 0 else { throw FixtureError("cannot create \(path): \(String(cString: strerror(errno)))") }
    defer { close(descriptor) }
    let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
    guard written == bytes.count else { throw FixtureError("short write to \(path)") }
}

/// The permission bits of `path`, or `nil` if it does not exist.
func permissions(of path: String) -> mode_t? {
    var status = stat()
    guard stat(path, &status) == 0 else { return nil }
    return status.st_mode & 0o7777
}

/// Deterministic pseudo-random bytes (xorshift64*), so expected contents need not be stored.
func pattern(seed: UInt64, count: Int) -> [UInt8] {
    var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
    return [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
        for index in 0..<count {
            state ^= state >> 12
            state ^= state << 25
            state ^= state >> 27
            buffer[index] = UInt8(truncatingIfNeeded: (state &* 0x2545_F491_4F6C_DD1D) >> 56)
        }
        initialized = count
    }
}

struct FixtureError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

// MARK: - tmpfs

/// Runs `body` with a fresh tmpfs of `size` (a mount(8) size such as `1m`) mounted on a new
/// directory, unmounted afterwards.
///
/// Cancels the running test (reported as skipped, not passed) when this process may not mount
/// file systems: that needs root, or CAP_SYS_ADMIN in a container.
func withTmpfs<R>(size: String, _ body: (String) throws -> R) throws -> R {
    try withTemporaryDirectory { parent in
        let mountPoint = parent + "/mnt"
        guard mkdir(mountPoint, 0o700) == 0 else {
            throw FixtureError("cannot make \(mountPoint): \(String(cString: strerror(errno)))")
        }
        let result = "size=\(size),mode=0700".withCString { options in
            mount("tmpfs", mountPoint, "tmpfs", 0, options)
        }
        if result != 0 {
            let reason = String(cString: strerror(errno))
            try Test.cancel("cannot mount a tmpfs here (\(reason)); this test needs root or CAP_SYS_ADMIN")
        }
        defer { _ = umount2(mountPoint, CInt(MNT_DETACH)) }
        return try body(mountPoint)
    }
}

/// Remounts the tmpfs at `mountPoint` read-only.
func remountReadOnly(_ mountPoint: String) throws {
    let flags = UInt(MS_REMOUNT | MS_RDONLY)
    guard mount("tmpfs", mountPoint, "tmpfs", flags, nil) == 0 else {
        throw FixtureError("cannot remount \(mountPoint) read-only: \(String(cString: strerror(errno)))")
    }
}
