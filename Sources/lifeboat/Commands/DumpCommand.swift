import Glibc
import Repository
import Sealing

/// `lifeboat dump`: writes one file, or a directory as a tar archive, to standard output.
enum DumpCommand: Command {
    static let name = "dump"
    static let summary = "write a file or directory from a snapshot to stdout (a directory as tar)"
    static let usage = "lifeboat dump [options] SNAPSHOT PATH  (or SNAPSHOT:PATH)"
    static let details = """
    A file is written as it is; a directory (or '/') is written as a POSIX (pax) tar archive of
    everything below it, with modes, owners, times to the nanosecond, symlinks, hardlinks,
    devices, fifos and extended attributes. Member names are snapshot paths without the
    leading '/', as restic writes them. Sockets cannot be stored in tar and are skipped with a
    warning. Content is streamed blob by blob: memory use does not grow with the file size.

    Examples:
      lifeboat dump latest /etc/nginx/nginx.conf > nginx.conf
      lifeboat dump latest:/var/lib/app | tar -xf - -C /srv/restore
      lifeboat dump 3f9a1c2e / > everything.tar
    """
    static let options: [OptionSpec] = [
        .value("archive", "FORMAT", "archive format for directories: tar (the only one for now)"),
        .flag("force", "write even if standard output is a terminal"),
    ] + SnapshotFilter.options

    static func run(_ context: Context) throws -> ExitCode {
        let arguments = context.arguments
        let spec: SnapshotPathArgument
        switch arguments.positionals.count {
        case 1 where arguments.positionals[0].contains(":"):
            spec = try SnapshotPathArgument(arguments.positionals[0])
        case 2:
            spec = try SnapshotPathArgument(arguments.positionals[0], path: arguments.positionals[1])
        default:
            throw UsageError(message: "'dump' takes SNAPSHOT PATH (or SNAPSHOT:PATH); see 'lifeboat dump --help'")
        }
        if let format = arguments.value("archive"), format != "tar" {
            throw UsageError(message: "--archive '\(format)': only 'tar' is supported; compress with a pipe, e.g. 'lifeboat dump latest / | zstd > backup.tar.zst'")
        }
        if arguments.has("json") {
            throw UsageError(message: "'dump' writes the file or archive itself to stdout, so --json is not available; use 'lifeboat ls --json' for metadata")
        }
        if isatty(1) == 1 && !arguments.has("force") {
            throw UsageError(message: "standard output is a terminal: refusing to write binary data there; redirect it (lifeboat dump ... > file, or | tar -tvf -) or pass --force")
        }

        let repository = try context.openRepository()
        let resolved = try spec.resolve(in: repository, arguments: arguments)
        let walker = TreeWalker(repository: repository)
        let start = try walker.node(at: spec.path, in: resolved.root)
        let output = DescriptorWriter(descriptor: 1, what: "standard output")
        var dumper = Dumper(repository: repository, walker: walker, context: context, output: output)
        do {
            if start.kind == .file {
                try dumper.writeFile(start, path: spec.path)
                try output.flush()
            } else {
                try dumper.writeArchive(start, path: spec.pathBytes)
            }
        } catch is OutputClosedError {
            // The reader went away (`| head`): end as `cat` would, by the default SIGPIPE
            // action, so shells and `pipefail` see the usual status 141 and print nothing.
            signal(SIGPIPE, SIG_DFL)
            raise(SIGPIPE)
            return .failure
        }
        return .success
    }
}

/// Streams snapshot contents: a single file, or a tree as tar.
private struct Dumper {
    let repository: Repository
    let walker: TreeWalker
    let context: Context
    let output: DescriptorWriter
    var tar: TarWriter
    /// First archive path of each hardlinked inode (device, inode) seen so far.
    private var hardlinks: [HardlinkKey: [UInt8]] = [:]

    private struct HardlinkKey: Hashable {
        var device: UInt64
        var inode: UInt64
    }

    init(repository: Repository, walker: TreeWalker, context: Context, output: DescriptorWriter) {
        self.repository = repository
        self.walker = walker
        self.context = context
        self.output = output
        tar = TarWriter(output: output)
    }

    /// Writes a file's content, one blob at a time, straight to standard output.
    func writeFile(_ node: Node, path: String) throws {
        var written: UInt64 = 0
        for id in node.content {
            try checkCancelled()
            let bytes = try repository.readBlob(id, type: .data)
            try bytes.withUnsafeBytes { try output.write($0) }
            written += UInt64(bytes.count)
        }
        guard written == node.size else {
            throw RepositoryError(.corrupted, "\(path): the content blobs hold \(written) bytes but the snapshot records \(node.size); the output is incomplete; run 'lifeboat check'")
        }
    }

    /// Writes `start` (and, for a directory, everything below it) as a tar archive.
    mutating func writeArchive(_ start: Node, path: [UInt8]) throws {
        if !path.isEmpty {
            try writeMember(start, path: path)
        }
        if start.kind == .directory, let subtree = start.subtree {
            try walker.walk(subtree, prefix: path) { entry in
                try checkCancelled()
                try writeMember(entry.node, path: entry.path)
                return true
            }
        }
        try tar.finish()
    }

    private mutating func writeMember(_ node: Node, path: [UInt8]) throws {
        var entry = TarWriter.Entry(path: Array(path.drop { $0 == UInt8(ascii: "/") }), type: .file,
                                    mode: node.mode, uid: node.uid, gid: node.gid, user: node.user,
                                    group: node.group, modificationTime: node.modificationTime,
                                    extendedAttributes: node.extendedAttributes)
        switch node.kind {
        case .file:
            if node.linkCount > 1 {
                let key = HardlinkKey(device: node.device, inode: node.inode)
                if let first = hardlinks[key] {
                    entry.type = .hardlink
                    entry.linkTarget = first
                    try tar.begin(entry)
                    try tar.endEntry()
                    return
                }
                hardlinks[key] = entry.path
            }
            entry.size = node.size
        case .directory:
            entry.type = .directory
        case .symlink:
            entry.type = .symlink
            entry.linkTarget = node.symlinkTarget
        case .characterDevice, .blockDevice:
            entry.type = node.kind == .characterDevice ? .characterDevice : .blockDevice
            let device = DeviceNumber(node.deviceNumber)
            entry.deviceMajor = device.major
            entry.deviceMinor = device.minor
        case .fifo:
            entry.type = .fifo
        case .socket:
            context.output.warning("\(displayPath(path)): sockets cannot be stored in tar; skipped")
            return
        }
        try tar.begin(entry)
        if node.kind == .file {
            for id in node.content {
                try checkCancelled()
                let bytes = try repository.readBlob(id, type: .data)
                try bytes.withUnsafeBytes { try tar.writeContent($0) }
            }
        }
        try tar.endEntry()
    }

    private func checkCancelled() throws {
        if context.isCancelled() { throw RepositoryError(.interrupted, "dump interrupted; the output is incomplete") }
    }
}
