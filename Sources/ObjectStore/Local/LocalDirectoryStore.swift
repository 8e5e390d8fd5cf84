import Glibc
import Synchronization

/// An object store in a local directory: the embedded default of DESIGN §3.
///
/// Key `data/ab/abcd…` is the file `<root>/data/ab/abcd…`; intermediate directories are made
/// on demand. A `put` writes to a uniquely named file in `<root>/tmp/`, flushes it with
/// `fsync`, then hard-links it to its final name. `link(2)` refuses to replace an existing
/// name, so of two writers racing for one key exactly one wins and the object already there
/// is never touched. The final name's directory is flushed last, so an object that `put`
/// reported as stored survives a crash. Object files are mode 0400 (objects are immutable;
/// deletes need only write access to the directory) and directories are mode 0700.
///
/// ``init(path:)`` does not touch the disk. If the root does not exist (or is not a
/// directory), every operation throws ``ObjectStoreError`` with code `.notFound` and a message
/// that says so; the repository layer reads `config` first and reports "no repository".
/// Keys are validated: `..` and `.` components, a leading `/`, empty components, NUL bytes
/// and the reserved top-level name `tmp` are refused with code `.io`.
public final class LocalDirectoryStore: ObjectStore {
    /// The repository root as given (trailing slashes removed).
    public let location: String

    /// The name of the directory under the root that holds files being written.
    static let temporaryDirectoryName = "tmp"

    /// Makes temporary names unique within this process; the pid and a random part make them
    /// unique across processes and hosts sharing the directory.
    private let temporaryCounter = Atomic<UInt64>(0)

    /// Opens the store rooted at `path` without touching the disk.
    ///
    /// Throws `.io` only if `path` is empty or contains a NUL byte.
    public init(path: String) throws {
        guard !path.isEmpty, !path.utf8.contains(0) else {
            throw ObjectStoreError(.io, "repository path '\(path)' is not a usable directory path")
        }
        var root = Substring(path)
        while root.count > 1, root.hasSuffix("/") { root.removeLast() }
        location = String(root)
    }

    /// Creates the directory `path` (mode 0700, with any missing parents, also 0700) and opens a
    /// store there.
    ///
    /// Throws `.alreadyExists` if `path` exists and is not an empty directory, and
    /// `.permissionDenied`, `.noSpace` or `.io` if a directory cannot be made.
    public static func create(at path: String) throws -> LocalDirectoryStore {
        let store = try LocalDirectoryStore(path: path)
        let root = store.location
        try store.makeRootAndParents()
        guard let directory = opendir(root) else {
            let error = errno
            if error == ENOTDIR {
                throw ObjectStoreError(.alreadyExists,
                    "cannot create repository \(root): it exists and is not a directory; choose another path")
            }
            throw store.failure(error, "open the new repository directory", root, objectIsRepository: true)
        }
        defer { closedir(directory) }
        while let entry = readdir(directory) {
            if !isDotOrDotDot(entry) {
                throw ObjectStoreError(.alreadyExists,
                    "cannot create repository \(root): the directory exists and is not empty; choose a new or empty directory")
            }
        }
        try store.syncDirectory(parentPath(of: root), for: root)
        return store
    }

    // MARK: - ObjectStore

    /// Creates `key` atomically (temporary file, `fsync`, `link`, directory `fsync`).
    ///
    /// Throws `.alreadyExists` if the object exists (left untouched), `.noSpace` if the file
    /// system is full, `.permissionDenied` if the directory refuses writes, `.notFound` if the
    /// root does not exist. On every failure the temporary file is removed.
    public func put(_ bytes: [UInt8], as key: String) throws {
        try Self.validate(key: key)
        let finalPath = path(of: key)
        let (temporaryPath, descriptor) = try createTemporaryFile(for: key)
        let file = OpenFile(descriptor)
        defer { _ = unlink(temporaryPath) }

        var error = bytes.withUnsafeBytes { Self.writeAll(file.descriptor, $0) }
        if error == 0, fsync(file.descriptor) != 0 { error = errno }
        if error != 0 { throw failure(error, "store", key) }
        file.close()

        try linkCreatingDirectories(from: temporaryPath, to: finalPath, key: key)
        try syncDirectory(Self.parentPath(of: finalPath), for: key)
    }

    /// Reads the whole object. Throws `.notFound` if it does not exist.
    public func get(_ key: String) throws -> [UInt8] {
        try Self.validate(key: key)
        let file = try openObject(key)
        let size = try regularFileSize(file.descriptor, key: key)
        return try read(file.descriptor, offset: 0, count: size, key: key)
    }

    /// Reads `range` of the object. Throws `.notFound`, or `.shortRead` if the object ends
    /// before `range.upperBound`.
    public func get(_ key: String, range: Range<Int>) throws -> [UInt8] {
        try Self.validate(key: key)
        guard range.lowerBound >= 0 else {
            throw ObjectStoreError(.io, "cannot read \(key) in repository \(location): negative offset \(range.lowerBound)")
        }
        let file = try openObject(key)
        let size = try regularFileSize(file.descriptor, key: key)
        guard range.upperBound <= size else {
            throw shortRead(key: key, size: size, range: range)
        }
        return try read(file.descriptor, offset: range.lowerBound, count: range.count, key: key, range: range)
    }

    /// The object's size in bytes, or `nil` if it does not exist.
    ///
    /// Throws `.notFound` if the repository root itself is missing.
    public func size(of key: String) throws -> Int? {
        try Self.validate(key: key)
        var status = stat()
        if stat(path(of: key), &status) != 0 {
            let error = errno
            if error == ENOENT || error == ENOTDIR {
                try requireRoot()
                return nil
            }
            throw failure(error, "look up", key)
        }
        guard status.st_mode & S_IFMT == S_IFREG else { return nil }
        return Int(status.st_size)
    }

    /// Every object whose key starts with `prefix`; `prefix` may end in part of a name
    /// (`data/ab` matches `data/ab/…` and `data/abc…`). Only the matching subtree is walked.
    ///
    /// Throws `.notFound` if the repository root is missing, `.io` for an invalid prefix.
    public func list(prefix: String) throws -> [ObjectInfo] {
        let (directoryKey, namePrefix) = try Self.splitPrefix(prefix)
        if directoryKey.utf8.starts(with: "\(Self.temporaryDirectoryName)/".utf8) { return [] }
        let directoryPath = directoryKey.isEmpty ? location : location + "/" + directoryKey.dropLast()
        let descriptor = open(directoryPath, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if descriptor < 0 {
            let error = errno
            if error == ENOENT || error == ENOTDIR {
                try requireRoot()
                return []
            }
            throw failure(error, "list", prefix)
        }
        var found: [ObjectInfo] = []
        try collect(directory: descriptor, keyPrefix: directoryKey, namePrefix: namePrefix,
                    atRoot: directoryKey.isEmpty, depth: 0, into: &found)
        return found
    }

    /// Deletes the object and flushes its directory; deleting an absent object is not an error.
    public func delete(_ key: String) throws {
        try Self.validate(key: key)
        let objectPath = path(of: key)
        if unlink(objectPath) != 0 {
            let error = errno
            if error == ENOENT || error == ENOTDIR {
                try requireRoot()
                return
            }
            throw failure(error, "delete", key)
        }
        try syncDirectory(Self.parentPath(of: objectPath), for: key)
    }
}

// MARK: - Writing

extension LocalDirectoryStore {
    /// How many names to try for a temporary file; each carries 64 random bits, so running out
    /// means something other than chance (another process recreating our names) is at work.
    private static let temporaryNameAttempts = 4

    /// Creates and opens a new file in `<root>/tmp/`, making that directory if it is missing.
    private func createTemporaryFile(for key: String) throws -> (path: String, descriptor: CInt) {
        var madeDirectory = false
        var attempt = 0
        while true {
            let serial = temporaryCounter.wrappingAdd(1, ordering: .relaxed).newValue
            let random = UInt64.random(in: .min ... .max)
            let name = "\(getpid())-\(serial)-\(String(random, radix: 16)).tmp"
            let temporaryPath = location + "/" + Self.temporaryDirectoryName + "/" + name
            let descriptor = Self.retryingInterrupts {
                open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o400)
            }
            if descriptor >= 0 { return (temporaryPath, descriptor) }
            let error = errno
            attempt += 1
            if error == EEXIST, attempt < Self.temporaryNameAttempts { continue }
            if error == ENOENT || error == ENOTDIR, !madeDirectory {
                try makeDirectory(location + "/" + Self.temporaryDirectoryName, for: key)
                madeDirectory = true
                continue
            }
            throw failure(error, "store", key)
        }
    }

    /// Links the flushed temporary file to its final name, making missing directories.
    private func linkCreatingDirectories(from temporaryPath: String, to finalPath: String, key: String) throws {
        if link(temporaryPath, finalPath) == 0 { return }
        var error = errno
        if error == ENOENT {
            try makeParentDirectories(of: key)
            if link(temporaryPath, finalPath) == 0 { return }
            error = errno
        }
        if error == EEXIST {
            throw ObjectStoreError(.alreadyExists,
                "object \(key) already exists in repository \(location); objects are never overwritten")
        }
        if error == EPERM || error == EOPNOTSUPP {
            // The temporary file is ours, so this is the file system (vfat, exFAT, some SMB
            // mounts) or an immutable directory refusing the hard link, not file modes.
            throw ObjectStoreError(error == EPERM ? .permissionDenied : .io,
                "cannot store \(key) in repository \(location): the file system refused a hard link (\(String(cString: strerror(error)))); a local repository needs a POSIX file system with hard links (ext4, XFS, Btrfs, ZFS, NFS) and writable directories")
        }
        throw failure(error, "store", key)
    }

    /// Makes each missing directory between the root and the object `key` (mode 0700).
    private func makeParentDirectories(of key: String) throws {
        var end = key.utf8.startIndex
        while let slash = key.utf8[end...].firstIndex(of: UInt8(ascii: "/")) {
            try makeDirectory(location + "/" + key[..<slash], for: key)
            end = key.utf8.index(after: slash)
        }
    }

    /// Makes one directory below the root; an existing directory is fine (another writer may
    /// have won the race). A new directory's parent is flushed so the entry survives a crash.
    private func makeDirectory(_ directoryPath: String, for key: String) throws {
        if mkdir(directoryPath, 0o700) == 0 {
            try syncDirectory(Self.parentPath(of: directoryPath), for: key)
            return
        }
        let error = errno
        if error == EEXIST { return }
        if error == ENOENT || error == ENOTDIR { try requireRoot() }
        throw failure(error, "store", key)
    }

    /// `mkdir -p` for a new repository root: every missing component is made with mode 0700.
    private func makeRootAndParents() throws {
        let utf8 = location.utf8
        var index = utf8.startIndex
        while index != utf8.endIndex {
            let end = utf8[utf8.index(after: index)...].firstIndex(of: UInt8(ascii: "/")) ?? utf8.endIndex
            index = end
            let directory = String(location[..<end])
            if mkdir(directory, 0o700) != 0 {
                let error = errno
                if error == EEXIST { continue }
                throw failure(error, "create directory \(directory) for repository", location,
                              objectIsRepository: true)
            }
        }
    }

    /// Flushes a directory so that entries just made or removed in it are durable.
    func syncDirectory(_ directoryPath: String, for key: String) throws {
        let descriptor = Self.retryingInterrupts { open(directoryPath, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        if descriptor < 0 { throw failure(errno, "flush the directory of", key) }
        let directory = OpenFile(descriptor)
        if fsync(directory.descriptor) != 0 {
            let error = errno
            // Some file systems cannot fsync a directory and say so; there is nothing to flush.
            if error != EINVAL { throw failure(error, "flush the directory of", key) }
        }
    }

    /// Writes all of `bytes`, resuming after short writes and interrupts; returns 0 or `errno`.
    private static func writeAll(_ descriptor: CInt, _ bytes: UnsafeRawBufferPointer) -> CInt {
        guard var cursor = bytes.baseAddress else { return 0 }
        var remaining = bytes.count
        while remaining > 0 {
            let written = write(descriptor, cursor, remaining)
            if written < 0 {
                if errno == EINTR { continue }
                return errno
            }
            // A zero-byte write of a non-empty buffer only happens when the device is full.
            if written == 0 { return ENOSPC }
            cursor += written
            remaining -= written
        }
        return 0
    }
}

// MARK: - Reading

extension LocalDirectoryStore {
    /// Opens an object for reading; a missing object (or root) is `.notFound`.
    private func openObject(_ key: String) throws -> OpenFile {
        let descriptor = Self.retryingInterrupts { open(path(of: key), O_RDONLY | O_CLOEXEC) }
        if descriptor >= 0 { return OpenFile(descriptor) }
        let error = errno
        if error == ENOENT || error == ENOTDIR {
            try requireRoot()
            throw ObjectStoreError(.notFound, "object \(key) not found in repository \(location)")
        }
        throw failure(error, "read", key)
    }

    /// The size of an open object; a directory at the key's path is not an object.
    private func regularFileSize(_ descriptor: CInt, key: String) throws -> Int {
        var status = stat()
        if fstat(descriptor, &status) != 0 { throw failure(errno, "read", key) }
        guard status.st_mode & S_IFMT == S_IFREG else {
            throw ObjectStoreError(.notFound,
                "object \(key) not found in repository \(location) (that path is a directory)")
        }
        return Int(status.st_size)
    }

    /// Reads exactly `count` bytes at `offset` with `pread`, resuming after short reads.
    private func read(_ descriptor: CInt, offset: Int, count: Int, key: String,
                      range: Range<Int>? = nil) throws -> [UInt8] {
        try [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            while initialized < count {
                let got = pread(descriptor, buffer.baseAddress! + initialized, count - initialized,
                                off_t(offset + initialized))
                if got < 0 {
                    if errno == EINTR { continue }
                    throw failure(errno, "read", key)
                }
                if got == 0 {
                    throw shortRead(key: key, size: offset + initialized,
                                    range: range ?? offset ..< offset + count)
                }
                initialized += got
            }
        }
    }

    private func shortRead(key: String, size: Int, range: Range<Int>) -> ObjectStoreError {
        ObjectStoreError(.shortRead,
            "object \(key) in repository \(location) has \(size) bytes, but bytes \(range.lowerBound)..<\(range.upperBound) were requested; the object may be truncated: run 'lifeboat check --read-data'")
    }
}

// MARK: - Listing

extension LocalDirectoryStore {
    /// Directory nesting deeper than this is refused; the repository layout is at most a few
    /// levels deep, so only a symbolic-link loop gets here.
    private static let maximumDepth = 32

    /// Adds the objects in the open directory `descriptor` (consumed) whose names start with
    /// `namePrefix`, recursing into subdirectories.
    private func collect(directory descriptor: CInt, keyPrefix: String, namePrefix: Substring,
                         atRoot: Bool, depth: Int, into found: inout [ObjectInfo]) throws {
        guard depth < Self.maximumDepth else {
            close(descriptor)
            throw ObjectStoreError(.io,
                "cannot list \(keyPrefix) in repository \(location): directories nest deeper than \(Self.maximumDepth) levels (a symbolic-link loop?)")
        }
        guard let directory = fdopendir(descriptor) else {
            let error = errno
            close(descriptor)
            throw failure(error, "list", keyPrefix)
        }
        defer { closedir(directory) }
        let directoryDescriptor = dirfd(directory)
        while true {
            errno = 0
            guard let entry = readdir(directory) else {
                if errno != 0 { throw failure(errno, "list", keyPrefix) }
                return
            }
            if Self.isDotOrDotDot(entry) { continue }
            let name = Self.name(of: entry)
            if atRoot, name == Self.temporaryDirectoryName { continue }
            if !name.utf8.starts(with: namePrefix.utf8) { continue }

            var status = stat()
            if fstatat(directoryDescriptor, name, &status, 0) != 0 {
                let error = errno
                if error == ENOENT { continue }  // deleted while we listed
                throw failure(error, "list", keyPrefix + name)
            }
            switch status.st_mode & S_IFMT {
            case S_IFREG:
                found.append(ObjectInfo(key: keyPrefix + name, size: Int(status.st_size)))
            case S_IFDIR:
                let child = Self.retryingInterrupts {
                    openat(directoryDescriptor, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                }
                if child < 0 {
                    let error = errno
                    if error == ENOENT { continue }
                    throw failure(error, "list", keyPrefix + name)
                }
                try collect(directory: child, keyPrefix: keyPrefix + name + "/", namePrefix: "",
                            atRoot: false, depth: depth + 1, into: &found)
            default:
                continue  // sockets, devices, dangling links: not objects
            }
        }
    }

    private static func name(of entry: UnsafeMutablePointer<dirent>) -> String {
        withUnsafePointer(to: &entry.pointee.d_name) {
            String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))
        }
    }

    static func isDotOrDotDot(_ entry: UnsafeMutablePointer<dirent>) -> Bool {
        withUnsafePointer(to: &entry.pointee.d_name) {
            let name = UnsafeRawPointer($0).assumingMemoryBound(to: UInt8.self)
            let dot = UInt8(ascii: ".")
            return name[0] == dot && (name[1] == 0 || (name[1] == dot && name[2] == 0))
        }
    }
}

// MARK: - Keys, paths and errors

extension LocalDirectoryStore {
    /// The file that holds `key` (already validated).
    @inline(__always)
    private func path(of key: String) -> String { location + "/" + key }

    static func parentPath(of path: String) -> String {
        guard let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")) else { return "." }
        if slash == path.utf8.startIndex { return "/" }
        return String(path[..<slash])
    }

    /// Refuses keys that would escape the root or alias another key: empty, leading `/`, empty,
    /// `.` or `..` components, NUL bytes, and the reserved top-level `tmp`.
    static func validate(key: String) throws {
        guard let problem = problem(inComponentsOf: key.utf8[...], wholeKey: true) else { return }
        throw ObjectStoreError(.io, "invalid object key '\(key)': \(problem)")
    }

    /// Splits a list prefix into its directory part (validated, ending in `/` or empty) and the
    /// partial name after it.
    static func splitPrefix(_ prefix: String) throws -> (directory: String, name: Substring) {
        let utf8 = prefix.utf8
        if utf8.contains(0) {
            throw ObjectStoreError(.io, "invalid list prefix '\(prefix)': it contains a NUL byte")
        }
        guard let slash = utf8.lastIndex(of: UInt8(ascii: "/")) else { return ("", prefix[...]) }
        if let problem = problem(inComponentsOf: utf8[..<slash], wholeKey: false) {
            throw ObjectStoreError(.io, "invalid list prefix '\(prefix)': \(problem)")
        }
        let afterSlash = utf8.index(after: slash)
        return (String(prefix[..<afterSlash]), prefix[afterSlash...])
    }

    private static func problem(inComponentsOf bytes: Substring.UTF8View, wholeKey: Bool) -> String? {
        if bytes.isEmpty { return "it is empty" }
        let dot = UInt8(ascii: "."), slash = UInt8(ascii: "/")
        if bytes.first == slash { return "it starts with '/'" }
        var componentLength = 0
        var dots = 0
        var index = bytes.startIndex
        while true {
            let atEnd = index == bytes.endIndex
            let byte = atEnd ? slash : bytes[index]
            if byte == 0 { return "it contains a NUL byte" }
            if byte == slash {
                if componentLength == 0 { return "it has an empty path component" }
                if componentLength == dots, dots <= 2 { return "it has a '.' or '..' component" }
                if atEnd { break }
                componentLength = 0
                dots = 0
            } else {
                componentLength += 1
                if byte == dot { dots += 1 }
            }
            index = bytes.index(after: index)
        }
        if wholeKey, bytes.elementsEqual(temporaryDirectoryName.utf8)
            || bytes.starts(with: (temporaryDirectoryName + "/").utf8) {
            return "'\(temporaryDirectoryName)/' is reserved for files being written"
        }
        return nil
    }

    /// Throws `.notFound` if the root is missing or not a directory; used on `ENOENT` paths to
    /// tell "no such object" from "no such repository".
    private func requireRoot() throws {
        var status = stat()
        if stat(location, &status) != 0 {
            let error = errno
            if error == ENOENT || error == ENOTDIR {
                throw ObjectStoreError(.notFound,
                    "repository \(location) does not exist; check the path, or create one with 'lifeboat init --repo \(location)'")
            }
            throw failure(error, "open", location, objectIsRepository: true)
        }
        guard status.st_mode & S_IFMT == S_IFDIR else {
            throw ObjectStoreError(.notFound,
                "repository \(location) is not a directory; check the path, or create one with 'lifeboat init --repo \(location)'")
        }
    }

    /// Turns an `errno` into an error naming the operation, the object and what to do next.
    func failure(_ error: CInt, _ operation: String, _ key: String, objectIsRepository: Bool = false,
                 file: String = #fileID, line: Int = #line) -> ObjectStoreError {
        let subject = objectIsRepository ? key : "\(key) in repository \(location)"
        let reason = String(cString: strerror(error))
        switch error {
        case ENOSPC, EDQUOT:
            return ObjectStoreError(.noSpace,
                "cannot \(operation) \(subject): \(reason); free space on the file system that holds \(location) and run the command again (objects already stored are intact)",
                file: file, line: line)
        case EACCES, EPERM:
            return ObjectStoreError(.permissionDenied,
                "cannot \(operation) \(subject): \(reason); make sure the user running lifeboat can read and write \(location) and everything under it",
                file: file, line: line)
        case EROFS:
            return ObjectStoreError(.permissionDenied,
                "cannot \(operation) \(subject): \(reason); remount it read-write or use another repository",
                file: file, line: line)
        case ENOENT:
            return ObjectStoreError(.notFound, "cannot \(operation) \(subject): \(reason)", file: file, line: line)
        default:
            return ObjectStoreError(.io, "cannot \(operation) \(subject): \(reason) (errno \(error))",
                                    file: file, line: line)
        }
    }

    /// Repeats a system call that failed with `EINTR`.
    @inline(__always)
    static func retryingInterrupts(_ call: () -> CInt) -> CInt {
        while true {
            let result = call()
            if result >= 0 || errno != EINTR { return result }
        }
    }
}

// MARK: - File descriptors

/// An open file descriptor, closed exactly once: by ``close()`` or when it goes out of scope.
struct OpenFile: ~Copyable {
    let descriptor: CInt

    init(_ descriptor: CInt) { self.descriptor = descriptor }

    /// Closes now. Errors are not reported: every write path calls `fsync` first, which is
    /// where a local file system reports failed writes.
    consuming func close() {}

    deinit { _ = Glibc.close(descriptor) }
}
