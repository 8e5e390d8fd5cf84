import Glibc
import Repository
import Sealing

/// `lifeboat ls`: lists the paths inside a snapshot, like `ls -R` over the backup.
enum LsCommand: Command {
    static let name = "ls"
    static let summary = "list the files and directories in a snapshot"
    static let usage = "lifeboat ls [options] SNAPSHOT[:PATH]"
    static let details = """
    Prints every path below PATH (default '/'), parents before children. SNAPSHOT is 'latest'
    (narrowed by --host/--tag/--path) or a snapshot id prefix (see 'lifeboat snapshots');
    PATH is a path inside the snapshot, after the first ':'.

    Examples:
      lifeboat ls latest
      lifeboat ls --long 3f9a1c2e:/etc/nginx
      lifeboat ls --json latest:/var/lib | jq -r 'select(.type == "file") | .path'
    """
    static let options: [OptionSpec] = [
        .flag("long", short: "l", "print mode, user, group, size and modification time, like 'ls -l'"),
        .value("depth", "N", "list at most N levels below PATH (1: only PATH's own entries)"),
    ] + SnapshotFilter.options

    static func run(_ context: Context) throws -> ExitCode {
        let arguments = context.arguments
        guard arguments.positionals.count == 1 else {
            throw UsageError(message: "'ls' takes one SNAPSHOT[:PATH] argument, got \(arguments.positionals.count); see 'lifeboat ls --help'")
        }
        let spec = try SnapshotPathArgument(arguments.positionals[0])
        let maximumDepth = try arguments.integer("depth", in: 1...Int(Int32.max))
        let long = arguments.has("long")
        let output = context.output

        let repository = try context.openRepository()
        let resolved = try spec.resolve(in: repository, arguments: arguments)
        output.message(SnapshotMessage(resolved.entry))

        let walker = TreeWalker(repository: repository)
        let start = try walker.node(at: spec.path, in: resolved.root)
        let print = { (path: [UInt8], node: Node) in
            if output.json {
                output.message(NodeMessage(path: path, node: node))
            } else {
                output.result(long ? longListing(path: path, node: node) : displayPath(path))
            }
        }
        let startPath = spec.pathBytes
        if !startPath.isEmpty { print(startPath, start) }
        if start.kind == .directory, let subtree = start.subtree {
            try walker.walk(subtree, prefix: startPath) { entry in
                if context.isCancelled() { throw RepositoryError(.interrupted, "ls interrupted") }
                print(entry.path, entry.node)
                return maximumDepth.map { entry.depth + 1 < $0 } ?? true
            }
        }
        return .success
    }

    /// One `ls -l` line: `drwxr-xr-x root     root            0 2026-12-03 15:53:16 /etc`.
    static func longListing(path: [UInt8], node: Node) -> String {
        let size: String
        switch node.kind {
        case .characterDevice, .blockDevice:
            let device = DeviceNumber(node.deviceNumber)
            size = "\(device.major), \(device.minor)"
        default:
            size = String(node.size)
        }
        var line = modeString(node) + " " + padded(node.user.isEmpty ? String(node.uid) : node.user, 8)
            + " " + padded(node.group.isEmpty ? String(node.gid) : node.group, 8)
            + " " + String(repeating: " ", count: max(0, 12 - size.count)) + size
            + " " + node.modificationTime.localDescription + " " + displayPath(path)
        if node.kind == .symlink {
            line += " -> " + String(decoding: node.symlinkTarget, as: UTF8.self)
        }
        return line
    }

    private static func padded(_ text: String, _ width: Int) -> String {
        text + String(repeating: " ", count: max(0, width - text.count))
    }
}

// MARK: - Shared by the commands that read snapshots

/// A `SNAPSHOT[:PATH]` argument of ls, dump and diff, parsed by the shared ``SnapshotSpec``
/// and checked: the snapshot is `latest` or a hex id prefix, and the path is normalised.
struct SnapshotPathArgument {
    var spec: SnapshotSpec
    /// The path inside the snapshot: a leading '/', no trailing or repeated '/', no '.'.
    var path: String

    /// Parses `text`; `explicitPath` is a path given as a separate argument (`dump SNAPSHOT PATH`).
    init(_ text: String, path explicitPath: String? = nil) throws {
        spec = SnapshotSpec(text)
        if let explicitPath {
            guard !text.contains(":") else {
                throw UsageError(message: "'\(text)': give the path either after ':' or as a separate argument, not both")
            }
            spec.subpath = explicitPath
        }
        let snapshot = spec.snapshot
        guard !snapshot.isEmpty else {
            throw UsageError(message: "'\(text)': missing snapshot before ':'; use 'latest' or an id from 'lifeboat snapshots'")
        }
        guard snapshot == "latest" || snapshot.allSatisfy(\.isHexDigit) else {
            throw UsageError(message: "'\(snapshot)' is not a snapshot: use 'latest' or a hex id prefix from 'lifeboat snapshots'")
        }
        let components = spec.subpath.split(separator: "/").filter { $0 != "." }
        if components.contains("..") {
            throw UsageError(message: "'\(spec.subpath)': '..' is not allowed in a path inside a snapshot; give the path from the snapshot's root")
        }
        path = "/" + components.joined(separator: "/")
    }

    /// The path as raw bytes for tree walking: empty for the root, else `/a/b`.
    var pathBytes: [UInt8] { path == "/" ? [] : Array(path.utf8) }

    /// Finds the snapshot (`latest` narrowed by `--host`, `--tag`, `--path`) and its root
    /// tree; pass `snapshots` to avoid listing them again.
    func resolve(in repository: Repository, arguments: Arguments,
                 snapshots: [SnapshotEntry]? = nil) throws -> (entry: SnapshotEntry, root: BlobID) {
        let all = try snapshots ?? repository.snapshots().snapshots
        let entry = try repository.findSnapshot(spec.snapshot, in: all, filter: SnapshotFilter(arguments).matches)
        return (entry, try entry.rootTree())
    }
}

extension SnapshotEntry {
    /// The id of the snapshot's root tree, or a corruption error naming the snapshot.
    func rootTree() throws -> BlobID {
        guard let root = snapshot.treeID else {
            throw RepositoryError(.corrupted, "snapshot \(id.shortHex): root tree id '\(snapshot.tree)' is not valid; run 'lifeboat check'")
        }
        return root
    }
}

/// A snapshot path for people (invalid UTF-8 shown with replacement characters).
func displayPath(_ path: [UInt8]) -> String {
    path.isEmpty ? "/" : String(decoding: path, as: UTF8.self)
}

/// The `ls -l` mode string: type letter and permission bits with setuid, setgid and sticky.
func modeString(_ node: Node) -> String {
    let type: Character
    switch node.kind {
    case .file: type = "-"
    case .directory: type = "d"
    case .symlink: type = "l"
    case .characterDevice: type = "c"
    case .blockDevice: type = "b"
    case .fifo: type = "p"
    case .socket: type = "s"
    }
    var text = String(type)
    let mode = node.mode
    let special: [(bit: UInt32, set: Character, unset: Character)] = [(0o4000, "s", "S"), (0o2000, "s", "S"), (0o1000, "t", "T")]
    for (index, shift) in [6, 3, 0].enumerated() {
        let bits = (mode >> UInt32(shift)) & 7
        text.append(bits & 4 != 0 ? "r" : "-")
        text.append(bits & 2 != 0 ? "w" : "-")
        let execute = bits & 1 != 0
        if mode & special[index].bit != 0 {
            text.append(execute ? special[index].set : special[index].unset)
        } else {
            text.append(execute ? "x" : "-")
        }
    }
    return text
}

/// The JSON name of a node kind.
func kindName(_ kind: Node.Kind) -> String {
    switch kind {
    case .file: "file"
    case .directory: "dir"
    case .symlink: "symlink"
    case .characterDevice: "chardev"
    case .blockDevice: "blockdev"
    case .fifo: "fifo"
    case .socket: "socket"
    }
}

/// A Linux `dev_t` split into major and minor numbers (glibc's encoding).
struct DeviceNumber {
    var major: UInt32
    var minor: UInt32

    init(_ device: UInt64) {
        major = UInt32(truncatingIfNeeded: ((device >> 8) & 0xfff) | ((device >> 32) & ~UInt64(0xfff)))
        minor = UInt32(truncatingIfNeeded: (device & 0xff) | ((device >> 12) & ~UInt64(0xff)))
    }
}

/// The `--json` line describing the snapshot a read command works on.
struct SnapshotMessage: Encodable {
    var messageType = "snapshot"
    var id: String
    var time: String
    var host: String
    var username: String
    var paths: [String]
    var tags: [String]
    var tree: String

    init(_ entry: SnapshotEntry) {
        id = entry.id.hex
        time = entry.snapshot.time
        host = entry.snapshot.host
        username = entry.snapshot.username
        paths = entry.snapshot.paths
        tags = entry.snapshot.tags
        tree = entry.snapshot.tree
    }

    enum CodingKeys: String, CodingKey {
        case messageType = "message_type", id, time, host, username, paths, tags, tree
    }
}

/// The `--json` line for one node of `ls`.
struct NodeMessage: Encodable {
    var messageType = "node"
    var path: String
    var name: String
    var type: String
    /// Permission bits (`st_mode & 0o7777`), as a number.
    var mode: UInt32
    var permissions: String
    var uid: UInt32
    var gid: UInt32
    var user: String
    var group: String
    var size: UInt64
    var mtime: String
    var atime: String
    var ctime: String
    var inode: UInt64
    var links: UInt64
    var target: String?
    var deviceMajor: UInt32?
    var deviceMinor: UInt32?

    init(path: [UInt8], node: Node) {
        self.path = displayPath(path)
        name = node.displayName
        type = kindName(node.kind)
        mode = node.mode
        permissions = modeString(node)
        uid = node.uid
        gid = node.gid
        user = node.user
        group = node.group
        size = node.size
        mtime = node.modificationTime.rfc3339
        atime = node.accessTime.rfc3339
        ctime = node.changeTime.rfc3339
        inode = node.inode
        links = node.linkCount
        if node.kind == .symlink { target = String(decoding: node.symlinkTarget, as: UTF8.self) }
        if node.kind == .characterDevice || node.kind == .blockDevice {
            let device = DeviceNumber(node.deviceNumber)
            deviceMajor = device.major
            deviceMinor = device.minor
        }
    }

    enum CodingKeys: String, CodingKey {
        case messageType = "message_type", path, name, type, mode, permissions, uid, gid, user, group, size
        case mtime, atime, ctime, inode, links, target, deviceMajor = "device_major", deviceMinor = "device_minor"
    }
}
