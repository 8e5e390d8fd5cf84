import CShims
import Glibc
import Testing

// File system helpers for building source trees and checking restored ones. Paths are raw
// bytes underneath, because Linux names need not be UTF-8 and the tests use such names.

/// Anything usable as a path: a `String`, or raw bytes.
protocol RawPath {
    var pathBytes: [UInt8] { get }
}

extension String: RawPath {
    var pathBytes: [UInt8] { Array(utf8) }
}

extension Array: RawPath where Element == UInt8 {
    var pathBytes: [UInt8] { self }
}

func withRawPath<R>(_ path: some RawPath, _ body: (UnsafePointer<CChar>) throws -> R) rethrows -> R {
    var terminated = path.pathBytes
    terminated.append(0)
    return try terminated.withUnsafeBufferPointer { buffer in
        try buffer.withMemoryRebound(to: CChar.self) { try body($0.baseAddress!) }
    }
}

/// `directory/name` as raw bytes.
func join(_ directory: some RawPath, _ name: some RawPath) -> [UInt8] {
    directory.pathBytes + [UInt8(ascii: "/")] + name.pathBytes
}

/// A path for messages (invalid UTF-8 shown as replacement characters).
func display(_ path: some RawPath) -> String { String(decoding: path.pathBytes, as: UTF8.self) }

private func check(_ result: Int32, _ what: String, _ path: some RawPath) throws {
    if result != 0 {
        throw HarnessError("\(what) \(display(path)): \(String(cString: strerror(errno)))")
    }
}

// MARK: - Making things

func makeDirectory(_ path: some RawPath, mode: mode_t = 0o755) throws {
    try check(withRawPath(path) { mkdir($0, mode) }, "mkdir", path)
    try check(withRawPath(path) { chmod($0, mode) }, "chmod", path)
}

/// Creates directories along `path` as needed (like `mkdir -p`).
func makeDirectories(_ path: String) throws {
    var current = ""
    for component in path.split(separator: "/") {
        current += "/" + component
        if mkdir(current, 0o755) != 0 && errno != EEXIST {
            throw HarnessError("mkdir \(current): \(String(cString: strerror(errno)))")
        }
    }
}

/// Creates or replaces a regular file with `bytes`.
func writeFile(_ path: some RawPath, _ bytes: [UInt8], mode: mode_t = 0o644) throws {
    let descriptor = withRawPath(path) { open($0, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode) }
    guard descriptor >= 0 else { throw HarnessError("create \(display(path)): \(String(cString: strerror(errno)))") }
    defer { close(descriptor) }
    try writeAll(descriptor, bytes, at: 0, path: path)
    try check(fchmod(descriptor, mode), "chmod", path)
}

func writeFile(_ path: some RawPath, _ text: String, mode: mode_t = 0o644) throws {
    try writeFile(path, Array(text.utf8), mode: mode)
}

/// Writes `bytes` at `offset` into an existing file without truncating it.
func overwrite(_ path: some RawPath, at offset: Int, with bytes: [UInt8]) throws {
    let descriptor = withRawPath(path) { open($0, O_WRONLY | O_NOFOLLOW | O_CLOEXEC) }
    guard descriptor >= 0 else { throw HarnessError("open \(display(path)): \(String(cString: strerror(errno)))") }
    defer { close(descriptor) }
    try writeAll(descriptor, bytes, at: offset, path: path)
}

private func writeAll(_ descriptor: Int32, _ bytes: [UInt8], at offset: Int, path: some RawPath) throws {
    var written = 0
    try bytes.withUnsafeBytes { raw in
        while written < raw.count {
            let count = pwrite(descriptor, raw.baseAddress! + written, raw.count - written, off_t(offset + written))
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { throw HarnessError("write \(display(path)): \(String(cString: strerror(errno)))") }
            written += count
        }
    }
}

/// Creates a file of `size` bytes that is a hole except for `pieces` written at their offsets.
func makeSparseFile(_ path: some RawPath, size: Int, pieces: [(offset: Int, bytes: [UInt8])]) throws {
    let descriptor = withRawPath(path) { open($0, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644) }
    guard descriptor >= 0 else { throw HarnessError("create \(display(path)): \(String(cString: strerror(errno)))") }
    defer { close(descriptor) }
    try check(ftruncate(descriptor, off_t(size)), "ftruncate", path)
    for piece in pieces { try writeAll(descriptor, piece.bytes, at: piece.offset, path: path) }
}

func makeSymlink(_ path: some RawPath, to target: some RawPath) throws {
    try check(withRawPath(target) { target in withRawPath(path) { symlink(target, $0) } }, "symlink", path)
}

func makeHardlink(_ path: some RawPath, to existing: some RawPath) throws {
    try check(withRawPath(existing) { existing in withRawPath(path) { link(existing, $0) } }, "link", path)
}

func makeFIFO(_ path: some RawPath, mode: mode_t = 0o640) throws {
    try check(withRawPath(path) { mkfifo($0, mode) }, "mkfifo", path)
    try check(withRawPath(path) { chmod($0, mode) }, "chmod", path)
}

/// Linux's `makedev` for the small major and minor numbers the tests use.
func deviceNumber(major: UInt64, minor: UInt64) -> UInt64 {
    ((major & 0xfffff000) << 32) | ((major & 0xfff) << 8) | ((minor & 0xffffff00) << 12) | (minor & 0xff)
}

/// `mknod`; returns the errno on failure (EPERM without CAP_MKNOD), 0 on success.
func makeDevice(_ path: some RawPath, character: Bool, major: UInt64, minor: UInt64, mode: mode_t = 0o640) -> Int32 {
    let type: mode_t = character ? Glibc.S_IFCHR : Glibc.S_IFBLK
    guard withRawPath(path, { mknod($0, type | mode, dev_t(deviceNumber(major: major, minor: minor))) }) == 0 else {
        return errno
    }
    _ = withRawPath(path) { chmod($0, mode) }
    return 0
}

func setOwner(_ path: some RawPath, uid: uid_t, gid: gid_t) throws {
    try check(withRawPath(path) { lchown($0, uid, gid) }, "lchown", path)
}

func setMode(_ path: some RawPath, _ mode: mode_t) throws {
    try check(withRawPath(path) { chmod($0, mode) }, "chmod", path)
}

/// Sets access and modification time (not following symlinks).
func setTimes(_ path: some RawPath, seconds: Int, nanoseconds: Int) throws {
    var times = [timespec(tv_sec: seconds - 86_400, tv_nsec: nanoseconds / 2),
                 timespec(tv_sec: seconds, tv_nsec: nanoseconds)]
    try check(withRawPath(path) { utimensat(AT_FDCWD, $0, &times, AT_SYMLINK_NOFOLLOW) }, "utimensat", path)
}

/// Sets an extended attribute; returns the errno on failure (ENOTSUP where unsupported).
func setExtendedAttribute(_ path: some RawPath, name: String, value: [UInt8]) -> Int32 {
    let result = withRawPath(path) { cPath in
        value.withUnsafeBytes { lsetxattr(cPath, name, $0.baseAddress, $0.count, 0) }
    }
    return result == 0 ? 0 : errno
}

/// Gives every entry below `root` (deepest first, then `root` itself) a distinct past
/// modification time with nanoseconds, starting at `base` seconds.
func setPastTimes(below root: some RawPath, base: Int) throws {
    var counter = 0
    func visit(_ path: [UInt8]) throws {
        if try status(path).st_mode & S_IFMT == S_IFDIR {
            for name in try directoryNames(path) { try visit(join(path, name)) }
        }
        counter += 1
        try setTimes(path, seconds: base + counter * 1_000, nanoseconds: (counter * 7_919_357 + 123_456_789) % 1_000_000_000)
    }
    try visit(root.pathBytes)
}

/// Changes the owner of everything below and including `root`.
func setOwnerRecursively(_ root: some RawPath, uid: uid_t, gid: gid_t) throws {
    try setOwner(root, uid: uid, gid: gid)
    if try status(root).st_mode & S_IFMT == S_IFDIR {
        for name in try directoryNames(root) { try setOwnerRecursively(join(root, name), uid: uid, gid: gid) }
    }
}

// MARK: - Reading things

/// `lstat`.
func status(_ path: some RawPath) throws -> stat {
    var info = stat()
    try check(withRawPath(path) { lstat($0, &info) }, "lstat", path)
    return info
}

func exists(_ path: some RawPath) -> Bool {
    var info = stat()
    return withRawPath(path) { lstat($0, &info) } == 0
}

func readFile(_ path: some RawPath) throws -> [UInt8] {
    let descriptor = withRawPath(path) { open($0, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) }
    guard descriptor >= 0 else { throw HarnessError("open \(display(path)): \(String(cString: strerror(errno)))") }
    defer { close(descriptor) }
    var info = stat()
    fstat(descriptor, &info)
    var bytes = [UInt8](repeating: 0, count: max(Int(info.st_size), 0))
    var filled = 0
    while true {
        if filled == bytes.count { bytes.append(contentsOf: [UInt8](repeating: 0, count: max(4096, bytes.count))) }
        let count = bytes.withUnsafeMutableBytes { read(descriptor, $0.baseAddress! + filled, $0.count - filled) }
        if count < 0 && errno == EINTR { continue }
        guard count >= 0 else { throw HarnessError("read \(display(path)): \(String(cString: strerror(errno)))") }
        if count == 0 { break }
        filled += count
    }
    bytes.removeSubrange(filled...)
    return bytes
}

func readText(_ path: some RawPath) throws -> String { String(decoding: try readFile(path), as: UTF8.self) }

func readLink(_ path: some RawPath) throws -> [UInt8] {
    var buffer = [UInt8](repeating: 0, count: 8192)
    let count = withRawPath(path) { cPath in
        buffer.withUnsafeMutableBytes { readlink(cPath, $0.baseAddress!.assumingMemoryBound(to: CChar.self), $0.count) }
    }
    guard count >= 0 else { throw HarnessError("readlink \(display(path)): \(String(cString: strerror(errno)))") }
    return Array(buffer[0..<count])
}

/// The names in a directory except `.` and `..`, sorted bytewise.
func directoryNames(_ path: some RawPath) throws -> [[UInt8]] {
    guard let directory = withRawPath(path, { opendir($0) }) else {
        throw HarnessError("opendir \(display(path)): \(String(cString: strerror(errno)))")
    }
    defer { closedir(directory) }
    var names: [[UInt8]] = []
    while let entry = readdir(directory) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { Array($0.prefix { $0 != 0 }) }
        if name == [46] || name == [46, 46] { continue }
        names.append(name)
    }
    return names.sorted { $0.lexicographicallyPrecedes($1) }
}

/// Every path below `root`, relative to it (`a`, `a/b`, …), as display strings.
func relativePaths(below root: some RawPath) throws -> Set<String> {
    var result = Set<String>()
    func visit(_ path: [UInt8], relative: [UInt8]) throws {
        for name in try directoryNames(path) {
            let childRelative = relative.isEmpty ? name : join(relative, name)
            result.insert(display(childRelative))
            let child = join(path, name)
            if try status(child).st_mode & S_IFMT == S_IFDIR { try visit(child, relative: childRelative) }
        }
    }
    try visit(root.pathBytes, relative: [])
    return result
}

/// Extended attributes of `path` (not following symlinks), sorted by name.
func extendedAttributes(_ path: some RawPath) throws -> [(name: [UInt8], value: [UInt8])] {
    var names = [UInt8](repeating: 0, count: 65536)
    let length = withRawPath(path) { cPath in
        names.withUnsafeMutableBytes { llistxattr(cPath, $0.baseAddress!.assumingMemoryBound(to: CChar.self), $0.count) }
    }
    if length < 0 && (errno == ENOTSUP || errno == ENODATA) { return [] }
    guard length >= 0 else { throw HarnessError("llistxattr \(display(path)): \(String(cString: strerror(errno)))") }
    var result: [(name: [UInt8], value: [UInt8])] = []
    for name in names[0..<length].split(separator: 0) {
        var value = [UInt8](repeating: 0, count: 65536)
        let count = withRawPath(Array(name)) { cName in
            withRawPath(path) { cPath in value.withUnsafeMutableBytes { lgetxattr(cPath, cName, $0.baseAddress, $0.count) } }
        }
        guard count >= 0 else { throw HarnessError("lgetxattr \(display(path)): \(String(cString: strerror(errno)))") }
        result.append((Array(name), Array(value[0..<count])))
    }
    return result.sorted { $0.name.lexicographicallyPrecedes($1.name) }
}

// MARK: - Removing things

/// Removes `path` and everything below it, never following symlinks and never crossing into
/// another mounted file system.
func removeTree(_ path: some RawPath) {
    var info = stat()
    guard withRawPath(path, { lstat($0, &info) }) == 0 else { return }
    if info.st_mode & S_IFMT == S_IFDIR {
        _ = withRawPath(path) { chmod($0, 0o700) }
        let device = info.st_dev
        for name in (try? directoryNames(path)) ?? [] {
            let child = join(path, name)
            var childInfo = stat()
            if withRawPath(child, { lstat($0, &childInfo) }) == 0,
               childInfo.st_mode & S_IFMT == S_IFDIR, childInfo.st_dev != device {
                _ = withRawPath(child) { umount2($0, Int32(MNT_DETACH)) }
            }
            removeTree(child)
        }
        _ = withRawPath(path) { rmdir($0) }
    } else {
        _ = withRawPath(path) { unlink($0) }
    }
}

// MARK: - Test data

/// A fast deterministic generator (SplitMix64), so failures reproduce.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var value = state
        value = (value ^ (value &>> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value &>> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value &>> 31)
    }
}

/// `count` pseudo-random bytes from `seed`.
func randomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var generator = SplitMix64(seed: seed)
    var bytes = [UInt8](repeating: 0, count: count)
    bytes.withUnsafeMutableBytes { raw in
        var offset = 0
        while offset + 8 <= raw.count {
            raw.storeBytes(of: generator.next(), toByteOffset: offset, as: UInt64.self)
            offset += 8
        }
        while offset < raw.count {
            raw[offset] = UInt8(truncatingIfNeeded: generator.next())
            offset += 1
        }
    }
    return bytes
}

// MARK: - Comparing trees

/// What to compare besides names, types and content.
struct ComparisonOptions {
    /// Compare the metadata (mode, owner, mtime) of the two roots themselves.
    var rootMetadata = true
    var owners = true
    var extendedAttributes = true
}

/// Every difference between the tree at `original` and the one at `restored`: entry types,
/// file bytes, permission bits (with setuid, setgid, sticky), owners, modification times to
/// the nanosecond, symlink targets, device numbers, extended attributes, and hard-link
/// structure (names that share an inode in one tree share one in the other). Empty when
/// the trees match.
func treeDifferences(_ original: some RawPath, _ restored: some RawPath,
                     options: ComparisonOptions = ComparisonOptions()) throws -> [String] {
    var differences: [String] = []
    var inodes: [UInt64: UInt64] = [:]
    var reverseInodes: [UInt64: UInt64] = [:]

    func compare(_ a: [UInt8], _ b: [UInt8], relative: String, isRoot: Bool) throws {
        let left = try status(a)
        var right = stat()
        guard withRawPath(b, { lstat($0, &right) }) == 0 else {
            differences.append("\(relative): missing from the restore")
            return
        }
        let type = left.st_mode & S_IFMT
        guard type == right.st_mode & S_IFMT else {
            differences.append("\(relative): type \(String(type, radix: 8)) restored as \(String(right.st_mode & S_IFMT, radix: 8))")
            return
        }
        if !isRoot || options.rootMetadata {
            if type != S_IFLNK && left.st_mode & 0o7777 != right.st_mode & 0o7777 {
                differences.append("\(relative): mode \(String(left.st_mode & 0o7777, radix: 8)) restored as \(String(right.st_mode & 0o7777, radix: 8))")
            }
            if options.owners && (left.st_uid != right.st_uid || left.st_gid != right.st_gid) {
                differences.append("\(relative): owner \(left.st_uid):\(left.st_gid) restored as \(right.st_uid):\(right.st_gid)")
            }
            if left.st_mtim.tv_sec != right.st_mtim.tv_sec || left.st_mtim.tv_nsec != right.st_mtim.tv_nsec {
                differences.append("\(relative): mtime \(left.st_mtim.tv_sec).\(left.st_mtim.tv_nsec) restored as \(right.st_mtim.tv_sec).\(right.st_mtim.tv_nsec)")
            }
            if options.extendedAttributes {
                let leftAttributes = try extendedAttributes(a), rightAttributes = try extendedAttributes(b)
                if leftAttributes.map(\.name) != rightAttributes.map(\.name) || leftAttributes.map(\.value) != rightAttributes.map(\.value) {
                    differences.append("\(relative): extended attributes \(leftAttributes.map { display($0.name) }) restored as \(rightAttributes.map { display($0.name) })")
                }
            }
        }
        switch type {
        case S_IFREG:
            if left.st_size != right.st_size {
                differences.append("\(relative): size \(left.st_size) restored as \(right.st_size)")
            } else if try !sameBytes(a, b) {
                differences.append("\(relative): content differs")
            }
            if left.st_nlink > 1 || right.st_nlink > 1 {
                let (l, r) = (UInt64(left.st_ino), UInt64(right.st_ino))
                if let mapped = inodes[l], mapped != r {
                    differences.append("\(relative): hard link broken (restored as a separate file)")
                }
                if let mapped = reverseInodes[r], mapped != l {
                    differences.append("\(relative): restored as a hard link to an unrelated file")
                }
                inodes[l] = r
                reverseInodes[r] = l
            }
        case S_IFLNK:
            let (leftTarget, rightTarget) = (try readLink(a), try readLink(b))
            if leftTarget != rightTarget {
                differences.append("\(relative): symlink target '\(display(leftTarget))' restored as '\(display(rightTarget))'")
            }
        case S_IFCHR, S_IFBLK:
            if left.st_rdev != right.st_rdev {
                differences.append("\(relative): device \(left.st_rdev) restored as \(right.st_rdev)")
            }
        case S_IFDIR:
            let leftNames = try directoryNames(a), rightNames = try directoryNames(b)
            for name in rightNames where !leftNames.contains(name) {
                differences.append("\(relative)/\(display(name)): not in the original")
            }
            for name in leftNames {
                try compare(join(a, name), join(b, name), relative: relative + "/" + display(name), isRoot: false)
            }
        default:
            break
        }
    }
    try compare(original.pathBytes, restored.pathBytes, relative: ".", isRoot: true)
    return differences
}

/// Whether two regular files hold the same bytes (read in blocks, compared with memcmp).
func sameBytes(_ a: some RawPath, _ b: some RawPath) throws -> Bool {
    let first = withRawPath(a) { open($0, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) }
    guard first >= 0 else { throw HarnessError("open \(display(a)): \(String(cString: strerror(errno)))") }
    defer { close(first) }
    let second = withRawPath(b) { open($0, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) }
    guard second >= 0 else { throw HarnessError("open \(display(b)): \(String(cString: strerror(errno)))") }
    defer { close(second) }
    let size = 1 << 20
    let left = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 16)
    let right = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 16)
    defer {
        left.deallocate()
        right.deallocate()
    }
    func fill(_ descriptor: Int32, _ buffer: UnsafeMutableRawBufferPointer) -> Int {
        var filled = 0
        while filled < buffer.count {
            let count = read(descriptor, buffer.baseAddress! + filled, buffer.count - filled)
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            filled += count
        }
        return filled
    }
    while true {
        let (leftCount, rightCount) = (fill(first, left), fill(second, right))
        if leftCount != rightCount { return false }
        if leftCount == 0 { return true }
        if memcmp(left.baseAddress!, right.baseAddress!, leftCount) != 0 { return false }
    }
}

/// Mounts a tmpfs at `path` (unmount with `umount2(path, MNT_DETACH)`). Where this process
/// may not mount (no root or CAP_SYS_ADMIN), the calling test is cancelled, which reports it
/// as skipped rather than passed.
func mountTemporaryFileSystem(at path: String, options: String) throws {
    guard mount("tmpfs", path, "tmpfs", 0, options) == 0 else {
        let reason = String(cString: strerror(errno))
        try #require(errno == EPERM || errno == EACCES, "mount tmpfs: \(reason)")
        try Test.cancel("cannot mount a tmpfs here (\(reason)); this test needs root or CAP_SYS_ADMIN")
    }
}
