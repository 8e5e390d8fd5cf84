import Sealing

/// Walks the trees of a snapshot depth first, for restore, ls, diff, dump and check.
public struct TreeWalker {
    public let repository: Repository

    public init(repository: Repository) { self.repository = repository }

    /// An entry with its path inside the snapshot (`/usr/share/doc/x`), as raw bytes.
    public struct Entry {
        public var path: [UInt8]
        public var node: Node
        public var depth: Int
    }

    /// Calls `visit` for every node below `tree`, parents before children. Return false from
    /// `visit` to skip a directory's contents.
    public func walk(_ tree: BlobID, prefix: [UInt8] = [], depth: Int = 0,
                     _ visit: (Entry) throws -> Bool) throws {
        for node in try repository.loadTree(tree).nodes {
            let path = prefix + [UInt8(ascii: "/")] + node.name
            let descend = try visit(Entry(path: path, node: node, depth: depth))
            if descend, node.kind == .directory, let subtree = node.subtree {
                try walk(subtree, prefix: path, depth: depth + 1, visit)
            }
        }
    }

    /// The node at `path` (e.g. `/usr/share`) inside the tree `root`; `/` or empty gives a
    /// synthetic directory node for the root itself.
    public func node(at path: String, in root: BlobID) throws -> Node {
        var node = Node(name: [], kind: .directory)
        node.mode = 0o755
        node.subtree = root
        for component in path.split(separator: "/") where component != "." {
            guard node.kind == .directory, let subtree = node.subtree else {
                throw RepositoryError(.notFound, "'\(path)': \(node.displayName) is not a directory in the snapshot")
            }
            let name = Array(component.utf8)
            guard let child = try repository.loadTree(subtree).nodes.first(where: { $0.name == name }) else {
                throw RepositoryError(.notFound, "'\(path)' is not in the snapshot; list it with 'lifeboat ls'")
            }
            node = child
        }
        return node
    }
}
