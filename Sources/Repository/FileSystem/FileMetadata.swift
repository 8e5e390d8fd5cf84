import CShims
import Glibc

/// Reading file system metadata into nodes, and listing directories.
enum FileMetadata {
    /// `lstat` of a path.
    static func status(of path: [UInt8]) throws -> stat {
        var info = stat()
        let result = withCPath(path) { lstat($0, &info) }
        guard result == 0 else { throw SystemCallError("lstat", path) }
        return info
    }

    /// `stat` of a path, following symlinks.
    static func statusFollowingLinks(of path: [UInt8]) throws -> stat {
        var info = stat()
        let result = withCPath(path) { stat($0, &info) }
        guard result == 0 else { throw SystemCallError("stat", path) }
        return info
    }

    static func kind(of info: stat) -> Node.Kind {
        switch info.st_mode & S_IFMT {
        case S_IFREG: return .file
        case S_IFDIR: return .directory
        case S_IFLNK: return .symlink
        case S_IFCHR: return .characterDevice
        case S_IFBLK: return .blockDevice
        case S_IFIFO: return .fifo
        default: return .socket
        }
    }

    /// A node with every piece of metadata except content and subtree. Extended attributes
    /// that cannot be read are reported through `warn` and left out.
    static func node(name: [UInt8], path: [UInt8], info: stat, names: inout NameCache, warn: (String) -> Void) -> Node {
        var node = Node(name: name, kind: kind(of: info))
        node.mode = UInt32(info.st_mode) & 0o7777
        node.uid = info.st_uid
        node.gid = info.st_gid
        node.user = names.user(info.st_uid)
        node.group = names.group(info.st_gid)
        node.modificationTime = Node.Timestamp(seconds: Int64(info.st_mtim.tv_sec), nanoseconds: UInt32(info.st_mtim.tv_nsec))
        node.accessTime = Node.Timestamp(seconds: Int64(info.st_atim.tv_sec), nanoseconds: UInt32(info.st_atim.tv_nsec))
        node.changeTime = Node.Timestamp(seconds: Int64(info.st_ctim.tv_sec), nanoseconds: UInt32(info.st_ctim.tv_nsec))
        node.inode = UInt64(info.st_ino)
        node.device = UInt64(info.st_dev)
        node.linkCount = UInt64(info.st_nlink)
        switch node.kind {
        case .file:
            node.size = UInt64(info.st_size)
        case .symlink:
            do {
                node.symlinkTarget = try readLink(path, sizeHint: Int(info.st_size))
            } catch {
                warn("\(error)")
            }
        case .characterDevice, .blockDevice:
            node.deviceNumber = UInt64(info.st_rdev)
        default:
            break
        }
        do {
            node.extendedAttributes = try extendedAttributes(of: path)
        } catch {
            warn("\(error)")
        }
        return node
    }

    static func readLink(_ path: [UInt8], sizeHint: Int) throws -> [UInt8] {
        var capacity = max(sizeHint + 1, 256)
        while true {
            var buffer = [UInt8](repeating: 0, count: capacity)
            let count = withCPath(path) { cPath in
                buffer.withUnsafeMutableBytes { readlink(cPath, $0.baseAddress!.assumingMemoryBound(to: CChar.self), capacity) }
            }
            guard count >= 0 else { throw SystemCallError("readlink", path) }
            if count < capacity { return Array(buffer[0..<count]) }
            capacity *= 2
        }
    }

    /// Every extended attribute of `path` (not following symlinks), sorted by name.
    static func extendedAttributes(of path: [UInt8]) throws -> [Node.ExtendedAttribute] {
        var namesBuffer = [UInt8](repeating: 0, count: 1024)
        var length: Int
        while true {
            length = withCPath(path) { cPath in
                namesBuffer.withUnsafeMutableBytes { llistxattr(cPath, $0.baseAddress!.assumingMemoryBound(to: CChar.self), $0.count) }
            }
            if length >= 0 { break }
            if errno == ENOTSUP || errno == ENODATA { return [] }
            guard errno == ERANGE else { throw SystemCallError("llistxattr", path) }
            let needed = withCPath(path) { llistxattr($0, nil as UnsafeMutablePointer<CChar>?, 0) }
            guard needed >= 0 else { throw SystemCallError("llistxattr", path) }
            namesBuffer = [UInt8](repeating: 0, count: needed + 64)
        }
        guard length > 0 else { return [] }
        var attributes: [Node.ExtendedAttribute] = []
        for name in namesBuffer[0..<length].split(separator: 0) {
            let nameBytes = Array(name)
            let value = try withCPath(nameBytes) { cName -> [UInt8] in
                try withCPath(path) { cPath -> [UInt8] in
                    let size = lgetxattr(cPath, cName, nil as UnsafeMutableRawPointer?, 0)
                    guard size >= 0 else { throw SystemCallError("lgetxattr \(String(decoding: nameBytes, as: UTF8.self))", path) }
                    var value = [UInt8](repeating: 0, count: size)
                    let read = value.withUnsafeMutableBytes { lgetxattr(cPath, cName, $0.baseAddress, size) }
                    guard read >= 0 else { throw SystemCallError("lgetxattr", path) }
                    return Array(value[0..<read])
                }
            }
            attributes.append(Node.ExtendedAttribute(name: nameBytes, value: value))
        }
        return attributes.sorted { $0.name.lexicographicallyPrecedes($1.name) }
    }

    /// The names in a directory except `.` and `..`, sorted bytewise.
    ///
    /// Opened with O_NOATIME where allowed: listing a directory would otherwise update its
    /// access time, change its node, and store a new tree on every unchanged backup.
    static func directoryEntries(_ path: [UInt8]) throws -> [[UInt8]] {
        let flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC
        var descriptor = withCPath(path) { open($0, flags | CShims_O_NOATIME()) }
        if descriptor < 0 && errno == EPERM {
            descriptor = withCPath(path) { open($0, flags) }
        }
        guard descriptor >= 0 else { throw SystemCallError("opendir", path) }
        guard let directory = fdopendir(descriptor) else {
            let error = SystemCallError("fdopendir", path)
            close(descriptor)
            throw error
        }
        defer { closedir(directory) }
        var names: [[UInt8]] = []
        while true {
            errno = 0
            guard let entry = readdir(directory) else {
                if errno != 0 { throw SystemCallError("readdir", path) }
                break
            }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                Array(raw.prefix { $0 != 0 })
            }
            if name == [46] || name == [46, 46] { continue }
            names.append(name)
        }
        names.sort { $0.lexicographicallyPrecedes($1) }
        return names
    }
}
