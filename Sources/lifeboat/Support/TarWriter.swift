import Glibc
import Repository

/// The reader of our output went away (`EPIPE`): `lifeboat dump | head` and the like.
struct OutputClosedError: Error {}

/// Writes everything it is given to a file descriptor through one reused buffer, retrying
/// short writes, `EINTR` and `EAGAIN` (a non-blocking descriptor inherited from the shell).
final class DescriptorWriter {
    let descriptor: Int32
    /// What the descriptor is, for error messages (`standard output`).
    let what: String
    private let buffer: UnsafeMutableRawBufferPointer
    private var used = 0

    init(descriptor: Int32, what: String, capacity: Int = 1 << 20) {
        self.descriptor = descriptor
        self.what = what
        buffer = .allocate(byteCount: capacity, alignment: 16)
    }

    deinit { buffer.deallocate() }

    /// Queues `bytes`; large writes go straight to the descriptor after the queued bytes.
    func write(_ bytes: UnsafeRawBufferPointer) throws {
        if used + bytes.count > buffer.count { try flush() }
        if bytes.count >= buffer.count {
            try writeAll(bytes)
            return
        }
        if let source = bytes.baseAddress {
            (buffer.baseAddress! + used).copyMemory(from: source, byteCount: bytes.count)
        }
        used += bytes.count
    }

    func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Queues `count` zero bytes (tar padding; `count` is small).
    func writeZeros(_ count: Int) throws {
        guard count > 0 else { return }
        if used + count > buffer.count { try flush() }
        (buffer.baseAddress! + used).initializeMemory(as: UInt8.self, repeating: 0, count: count)
        used += count
    }

    /// Writes the queued bytes.
    func flush() throws {
        guard used > 0 else { return }
        let pending = UnsafeRawBufferPointer(rebasing: buffer[..<used])
        used = 0
        try writeAll(pending)
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let count = Glibc.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
            if count > 0 {
                offset += count
                continue
            }
            let code = count < 0 ? errno : EIO
            switch code {
            case EINTR:
                continue
            case EAGAIN:
                var request = pollfd(fd: descriptor, events: Int16(POLLOUT), revents: 0)
                _ = poll(&request, 1, -1)
            case EPIPE:
                throw OutputClosedError()
            default:
                throw RepositoryError(.io, "writing to \(what): \(String(cString: strerror(code))); check the disk or pipe it goes to")
            }
        }
    }
}

/// Writes a POSIX.1-2001 (pax) tar stream: ustar headers, preceded by a pax extended header
/// where ustar cannot say it all — long or non-ASCII names and link targets, sizes of 8 GiB or
/// more, large ids, long user or group names, sub-second or negative modification times, and
/// extended attributes (as `SCHILY.xattr.*`, which GNU tar and bsdtar restore). GNU tar, bsdtar
/// and Python's tarfile read it as is.
///
/// Names that are not valid UTF-8 go into pax records as their raw bytes, as GNU tar writes
/// them; the `hdrcharset=BINARY` record that would mark them is left out because GNU tar 1.34
/// warns about it on every such entry.
///
/// Call ``begin(_:)`` for an entry, ``writeContent(_:)`` for exactly `size` bytes of a file,
/// ``endEntry()``, and ``finish()`` once at the end.
struct TarWriter {
    /// The ustar type flags this writer emits.
    enum EntryType: UInt8 {
        case file = 0x30, hardlink = 0x31, symlink = 0x32, characterDevice = 0x33
        case blockDevice = 0x34, directory = 0x35, fifo = 0x36
    }

    /// One archive member.
    struct Entry {
        /// Relative path with no leading '/'; directories get their trailing '/' added here.
        var path: [UInt8]
        var type: EntryType
        /// Permission bits including setuid, setgid and sticky.
        var mode: UInt32
        var uid: UInt32
        var gid: UInt32
        var user: String
        var group: String
        /// Content bytes that follow; files only.
        var size: UInt64 = 0
        var modificationTime: Node.Timestamp
        /// Symlink target, or for hardlinks the path of the member linked to.
        var linkTarget: [UInt8] = []
        var deviceMajor: UInt32 = 0
        var deviceMinor: UInt32 = 0
        var extendedAttributes: [Node.ExtendedAttribute] = []
    }

    static let blockSize = 512

    let output: DescriptorWriter
    /// Content bytes the current entry still owes, and the bytes written for padding.
    private var remaining: UInt64 = 0
    private var contentWritten: UInt64 = 0
    private var entryPath: [UInt8] = []

    init(output: DescriptorWriter) { self.output = output }

    /// Writes the header(s) of `entry`.
    mutating func begin(_ entry: Entry) throws {
        precondition(remaining == 0, "TarWriter.begin before the previous entry's content was written")
        var path = entry.path
        if entry.type == .directory, path.last != UInt8(ascii: "/") { path.append(UInt8(ascii: "/")) }
        let size = entry.type == .file ? entry.size : 0

        var header = [UInt8](repeating: 0, count: TarWriter.blockSize)
        var records: [UInt8] = []

        if let (prefix, name) = TarWriter.ustarSplit(path) {
            TarWriter.put(name, in: &header, at: 0, width: 100)
            TarWriter.put(prefix, in: &header, at: 345, width: 155)
        } else {
            TarWriter.put(TarWriter.fallbackName(path, keepingTrailingSlash: true), in: &header, at: 0, width: 100)
            TarWriter.appendRecord("path", path, to: &records)
        }
        if !entry.linkTarget.isEmpty {
            if entry.linkTarget.count <= 100, TarWriter.isPortable(entry.linkTarget) {
                TarWriter.put(entry.linkTarget, in: &header, at: 157, width: 100)
            } else {
                TarWriter.put(TarWriter.fallbackName(entry.linkTarget, keepingTrailingSlash: false), in: &header, at: 157, width: 100)
                TarWriter.appendRecord("linkpath", entry.linkTarget, to: &records)
            }
        }
        TarWriter.putOctal(UInt64(entry.mode & 0o7777), in: &header, at: 100, width: 8)
        for (value, offset, key) in [(entry.uid, 108, "uid"), (entry.gid, 116, "gid")] {
            if !TarWriter.putOctal(UInt64(value), in: &header, at: offset, width: 8) {
                TarWriter.appendRecord(key, Array(String(value).utf8), to: &records)
            }
        }
        if !TarWriter.putOctal(size, in: &header, at: 124, width: 12) {
            TarWriter.appendRecord("size", Array(String(size).utf8), to: &records)
        }
        let time = entry.modificationTime
        let fitsOctal = time.seconds >= 0 && TarWriter.putOctal(UInt64(time.seconds), in: &header, at: 136, width: 12)
        if !fitsOctal || time.nanoseconds != 0 {
            TarWriter.appendRecord("mtime", Array(TarWriter.paxTime(time).utf8), to: &records)
        }
        header[156] = entry.type.rawValue
        TarWriter.put(Array("ustar\0".utf8), in: &header, at: 257, width: 6)
        TarWriter.put(Array("00".utf8), in: &header, at: 263, width: 2)
        for (name, offset, key) in [(entry.user, 265, "uname"), (entry.group, 297, "gname")] {
            let bytes = Array(name.utf8)
            if bytes.count <= 31, TarWriter.isPortable(bytes) {
                TarWriter.put(bytes, in: &header, at: offset, width: 32)
            } else {
                TarWriter.appendRecord(key, bytes, to: &records)
            }
        }
        if entry.type == .characterDevice || entry.type == .blockDevice {
            for (value, offset, key) in [(entry.deviceMajor, 329, "SCHILY.devmajor"), (entry.deviceMinor, 337, "SCHILY.devminor")] {
                if !TarWriter.putOctal(UInt64(value), in: &header, at: offset, width: 8) {
                    TarWriter.appendRecord(key, Array(String(value).utf8), to: &records)
                }
            }
        }
        for attribute in entry.extendedAttributes {
            TarWriter.appendRecord("SCHILY.xattr." + String(decoding: attribute.name, as: UTF8.self), attribute.value, to: &records)
        }
        TarWriter.setChecksum(&header)

        if !records.isEmpty {
            var extended = [UInt8](repeating: 0, count: TarWriter.blockSize)
            var name = Array("PaxHeaders/".utf8)
            name += TarWriter.fallbackName(TarWriter.baseName(path), keepingTrailingSlash: false).prefix(100 - name.count)
            TarWriter.put(name, in: &extended, at: 0, width: 100)
            TarWriter.putOctal(0o644, in: &extended, at: 100, width: 8)
            TarWriter.putOctal(0, in: &extended, at: 108, width: 8)
            TarWriter.putOctal(0, in: &extended, at: 116, width: 8)
            TarWriter.putOctal(UInt64(records.count), in: &extended, at: 124, width: 12)
            TarWriter.putOctal(UInt64(max(0, min(time.seconds, 0o77777777777))), in: &extended, at: 136, width: 12)
            extended[156] = UInt8(ascii: "x")
            TarWriter.put(Array("ustar\0".utf8), in: &extended, at: 257, width: 6)
            TarWriter.put(Array("00".utf8), in: &extended, at: 263, width: 2)
            TarWriter.setChecksum(&extended)
            try output.write(extended)
            try output.write(records)
            try output.writeZeros(TarWriter.padding(UInt64(records.count)))
        }
        try output.write(header)
        remaining = size
        contentWritten = 0
        entryPath = path
    }

    /// Writes the next content bytes of the current file entry.
    mutating func writeContent(_ bytes: UnsafeRawBufferPointer) throws {
        guard UInt64(bytes.count) <= remaining else {
            throw RepositoryError(.corrupted, "\(String(decoding: entryPath, as: UTF8.self)): the content blobs hold more bytes than the file size \(contentWritten + remaining) recorded in its tree; run 'lifeboat check'")
        }
        try output.write(bytes)
        remaining -= UInt64(bytes.count)
        contentWritten += UInt64(bytes.count)
    }

    /// Ends the current entry: checks all its content was written and pads to a block.
    mutating func endEntry() throws {
        guard remaining == 0 else {
            throw RepositoryError(.corrupted, "\(String(decoding: entryPath, as: UTF8.self)): the content blobs hold \(contentWritten) bytes but its tree records \(contentWritten + remaining); run 'lifeboat check'")
        }
        try output.writeZeros(TarWriter.padding(contentWritten))
        contentWritten = 0
    }

    /// Writes the end-of-archive marker (two zero blocks) and flushes.
    mutating func finish() throws {
        try output.writeZeros(2 * TarWriter.blockSize)
        try output.flush()
    }

    // MARK: - Header fields

    private static func padding(_ count: UInt64) -> Int {
        let rest = Int(count % UInt64(blockSize))
        return rest == 0 ? 0 : blockSize - rest
    }

    private static func put(_ bytes: some Collection<UInt8>, in header: inout [UInt8], at offset: Int, width: Int) {
        for (index, byte) in bytes.prefix(width).enumerated() { header[offset + index] = byte }
    }

    /// Writes `value` as zero-padded octal digits and a NUL; false (field left empty) if too large.
    @discardableResult
    private static func putOctal(_ value: UInt64, in header: inout [UInt8], at offset: Int, width: Int) -> Bool {
        let digits = width - 1
        guard value >> UInt64(3 * digits) == 0 else { return false }
        var rest = value
        for index in stride(from: digits - 1, through: 0, by: -1) {
            header[offset + index] = UInt8(ascii: "0") + UInt8(rest & 7)
            rest >>= 3
        }
        header[offset + digits] = 0
        return true
    }

    private static func setChecksum(_ header: inout [UInt8]) {
        for index in 148..<156 { header[index] = UInt8(ascii: " ") }
        let sum = header.reduce(0) { $0 + UInt64($1) }
        putOctal(sum, in: &header, at: 148, width: 7)
        header[155] = UInt8(ascii: " ")
    }

    /// Printable ASCII only: what every ustar reader takes at face value.
    private static func isPortable(_ bytes: [UInt8]) -> Bool {
        bytes.allSatisfy { $0 >= 0x20 && $0 < 0x7f }
    }

    /// `(prefix, name)` if `path` fits the ustar name fields (name ≤ 100 bytes, or split at a
    /// '/' into prefix ≤ 155 and name ≤ 100).
    private static func ustarSplit(_ path: [UInt8]) -> (prefix: [UInt8], name: [UInt8])? {
        guard isPortable(path) else { return nil }
        if path.count <= 100 { return ([], path) }
        // The name part must be 1...100 bytes and the prefix at most 155 bytes.
        let lowest = path.count - 101, highest = min(path.count - 2, 155)
        guard lowest <= highest else { return nil }
        for index in lowest...highest where path[index] == UInt8(ascii: "/") {
            return (Array(path[..<index]), Array(path[(index + 1)...]))
        }
        return nil
    }

    /// The last name component of `path`.
    private static func baseName(_ path: [UInt8]) -> [UInt8] {
        let trimmed = path.last == UInt8(ascii: "/") ? Array(path.dropLast()) : path
        if let slash = trimmed.lastIndex(of: UInt8(ascii: "/")) { return Array(trimmed[(slash + 1)...]) }
        return trimmed
    }

    /// A printable-ASCII stand-in of at most 100 bytes for a name a pax record carries in full
    /// (readers without pax support then at least get a recognisable name).
    private static func fallbackName(_ path: [UInt8], keepingTrailingSlash: Bool) -> [UInt8] {
        let sanitised = path.map { $0 >= 0x20 && $0 < 0x7f ? $0 : UInt8(ascii: "_") }
        guard sanitised.count > 100 else { return sanitised }
        let tail = Array(sanitised.suffix(100))
        return keepingTrailingSlash || tail.last != UInt8(ascii: "/") ? tail : Array(tail.dropLast())
    }

    /// A pax record: `"<length> <key>=<value>\n"`, where length counts the whole record.
    private static func record(_ key: String, _ value: [UInt8]) -> [UInt8] {
        let body = Array(" \(key)=".utf8) + value + [UInt8(ascii: "\n")]
        var length = body.count + 1
        while String(length).utf8.count + body.count != length { length = String(length).utf8.count + body.count }
        return Array(String(length).utf8) + body
    }

    private static func appendRecord(_ key: String, _ value: [UInt8], to records: inout [UInt8]) {
        records += record(key, value)
    }

    /// Seconds since 1970 with nanoseconds, as pax writes times (`-1.5` is 1.5 s before 1970).
    static func paxTime(_ time: Node.Timestamp) -> String {
        guard time.nanoseconds != 0 else { return String(time.seconds) }
        var seconds = time.seconds
        var nanoseconds = Int64(time.nanoseconds)
        var sign = ""
        if seconds < 0 {
            sign = "-"
            seconds = -(seconds + 1)
            nanoseconds = 1_000_000_000 - nanoseconds
        }
        var fraction = String(nanoseconds)
        fraction = String(repeating: "0", count: 9 - fraction.count) + fraction
        while fraction.last == "0" { fraction.removeLast() }
        return "\(sign)\(seconds).\(fraction)"
    }
}
