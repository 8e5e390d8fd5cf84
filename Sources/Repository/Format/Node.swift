import Sealing

/// One directory entry of a snapshot: a file, directory, symlink or special file with its
/// metadata and, for files, the ids of its content blobs in order.
public struct Node: Sendable, Equatable {
    /// What kind of file system object a node is. Raw values are part of the format.
    public enum Kind: UInt8, Sendable {
        case file = 1, directory = 2, symlink = 3, characterDevice = 4, blockDevice = 5, fifo = 6, socket = 7
    }

    /// A point in time as seconds and nanoseconds since 1970 (UTC).
    public struct Timestamp: Sendable, Hashable, Comparable {
        public var seconds: Int64
        public var nanoseconds: UInt32

        public init(seconds: Int64, nanoseconds: UInt32) {
            self.seconds = seconds
            self.nanoseconds = nanoseconds
        }

        public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool {
            (lhs.seconds, lhs.nanoseconds) < (rhs.seconds, rhs.nanoseconds)
        }
    }

    /// An extended attribute, name and value as raw bytes.
    public struct ExtendedAttribute: Sendable, Hashable {
        public var name: [UInt8]
        public var value: [UInt8]

        public init(name: [UInt8], value: [UInt8]) {
            self.name = name
            self.value = value
        }
    }

    /// The file name as raw bytes: Linux names need not be UTF-8, and a restore must give back
    /// exactly the name that was saved.
    public var name: [UInt8]
    public var kind: Kind
    /// Permission bits including setuid, setgid and sticky (`st_mode & 0o7777`).
    public var mode: UInt32
    public var uid: UInt32
    public var gid: UInt32
    public var user: String
    public var group: String
    public var modificationTime: Timestamp
    public var accessTime: Timestamp
    public var changeTime: Timestamp
    /// Bytes of content for files; 0 otherwise.
    public var size: UInt64
    public var inode: UInt64
    public var device: UInt64
    public var linkCount: UInt64
    /// Device number for character and block devices.
    public var deviceNumber: UInt64
    public var symlinkTarget: [UInt8]
    /// Sorted by name.
    public var extendedAttributes: [ExtendedAttribute]
    /// Content blobs of a file, in order.
    public var content: [BlobID]
    /// The tree blob of a directory.
    public var subtree: BlobID?

    public init(name: [UInt8], kind: Kind) {
        self.name = name
        self.kind = kind
        mode = 0
        uid = 0
        gid = 0
        user = ""
        group = ""
        modificationTime = Timestamp(seconds: 0, nanoseconds: 0)
        accessTime = modificationTime
        changeTime = modificationTime
        size = 0
        inode = 0
        device = 0
        linkCount = 1
        deviceNumber = 0
        symlinkTarget = []
        extendedAttributes = []
        content = []
        subtree = nil
    }

    /// The name for messages and listings (invalid UTF-8 shown with replacement characters).
    public var displayName: String { String(decoding: name, as: UTF8.self) }

    /// Whether this file's metadata says it is unchanged since `previous` was saved, so its
    /// content can be taken from `previous` without reading it (the files cache).
    func hasSameContentMetadata(as previous: Node) -> Bool {
        kind == .file && previous.kind == .file && size == previous.size
            && modificationTime == previous.modificationTime && changeTime == previous.changeTime
            && inode == previous.inode
    }
}

// MARK: - Tree encoding

/// A directory listing: the canonical, sorted encoding of its nodes is a tree blob, so an
/// unchanged directory gives the same blob id and deduplicates.
public struct Tree: Sendable, Equatable {
    public var nodes: [Node]

    public init(nodes: [Node]) { self.nodes = nodes }

    static let magic: [UInt8] = Array("LBT1".utf8)

    /// The canonical encoding (docs/FORMAT.md "Trees"): nodes sorted by name bytes.
    public func encoded() -> [UInt8] {
        var writer = ByteWriter(capacity: 64 + nodes.count * 160)
        writer.append(Tree.magic)
        let sorted = nodes.sorted { $0.name.lexicographicallyPrecedes($1.name) }
        writer.appendVarint(sorted.count)
        for node in sorted {
            writer.appendLengthPrefixed(node.name)
            writer.append(node.kind.rawValue)
            writer.appendVarint(UInt64(node.mode))
            writer.appendVarint(UInt64(node.uid))
            writer.appendVarint(UInt64(node.gid))
            writer.appendLengthPrefixed(node.user.utf8)
            writer.appendLengthPrefixed(node.group.utf8)
            for time in [node.modificationTime, node.accessTime, node.changeTime] {
                writer.appendSignedVarint(time.seconds)
                writer.appendVarint(UInt64(time.nanoseconds))
            }
            writer.appendVarint(node.size)
            writer.appendVarint(node.inode)
            writer.appendVarint(node.device)
            writer.appendVarint(node.linkCount)
            writer.appendVarint(node.deviceNumber)
            writer.appendLengthPrefixed(node.symlinkTarget)
            writer.appendVarint(node.extendedAttributes.count)
            for attribute in node.extendedAttributes {
                writer.appendLengthPrefixed(attribute.name)
                writer.appendLengthPrefixed(attribute.value)
            }
            writer.appendVarint(node.content.count)
            for id in node.content { id.withUnsafeBytes { writer.append($0) } }
            if let subtree = node.subtree {
                writer.append(1)
                subtree.withUnsafeBytes { writer.append($0) }
            } else {
                writer.append(0)
            }
        }
        return writer.bytes
    }

    /// Decodes a tree blob; `what` names it in errors.
    public init(decoding bytes: [UInt8], what: String) throws {
        var reader = ByteReader(bytes, what: what)
        guard Array(try reader.bytes(4)) == Tree.magic else { throw reader.malformed("not a tree (bad magic)") }
        let count = try reader.int()
        guard count <= bytes.count else { throw reader.malformed("node count \(count)") }
        var nodes: [Node] = []
        nodes.reserveCapacity(count)
        for _ in 0..<count {
            let name = try reader.lengthPrefixed()
            guard let kind = Node.Kind(rawValue: try reader.byte()) else { throw reader.malformed("unknown node kind") }
            var node = Node(name: name, kind: kind)
            node.mode = try reader.uint32()
            node.uid = try reader.uint32()
            node.gid = try reader.uint32()
            node.user = String(decoding: try reader.lengthPrefixed(), as: UTF8.self)
            node.group = String(decoding: try reader.lengthPrefixed(), as: UTF8.self)
            var times: [Node.Timestamp] = []
            for _ in 0..<3 {
                let seconds = try reader.signedVarint()
                let nanoseconds = try reader.uint32()
                times.append(Node.Timestamp(seconds: seconds, nanoseconds: nanoseconds))
            }
            node.modificationTime = times[0]
            node.accessTime = times[1]
            node.changeTime = times[2]
            node.size = try reader.varint()
            node.inode = try reader.varint()
            node.device = try reader.varint()
            node.linkCount = try reader.varint()
            node.deviceNumber = try reader.varint()
            node.symlinkTarget = try reader.lengthPrefixed()
            let attributeCount = try reader.int()
            guard attributeCount <= bytes.count else { throw reader.malformed("attribute count") }
            for _ in 0..<attributeCount {
                let name = try reader.lengthPrefixed()
                let value = try reader.lengthPrefixed()
                node.extendedAttributes.append(Node.ExtendedAttribute(name: name, value: value))
            }
            let contentCount = try reader.int()
            guard contentCount <= bytes.count / 32 else { throw reader.malformed("content count") }
            node.content.reserveCapacity(contentCount)
            for _ in 0..<contentCount {
                node.content.append(try reader.bytes(32).withUnsafeBytes { BlobID(bytes: $0) })
            }
            switch try reader.byte() {
            case 0: break
            case 1: node.subtree = try reader.bytes(32).withUnsafeBytes { BlobID(bytes: $0) }
            default: throw reader.malformed("bad subtree flag")
            }
            if let last = nodes.last, !last.name.lexicographicallyPrecedes(node.name) {
                throw reader.malformed("names out of order or repeated")
            }
            nodes.append(node)
        }
        guard reader.isAtEnd else { throw reader.malformed("trailing bytes") }
        self.nodes = nodes
    }
}
