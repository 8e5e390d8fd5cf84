import ObjectStore
@testable import Repository
import Sealing

/// Reads a repository through the library, in the test process, to work out what the
/// command line *should* report (which pack holds which file), and to craft snapshots that
/// `lifeboat backup` would never write.
struct RepositoryOracle {
    let repository: Repository

    init(sandbox: Sandbox) throws {
        let store = try LocalDirectoryStore(path: sandbox.repository)
        repository = try Repository.open(store: store, password: Array(sandbox.password.utf8))
        try repository.loadIndex()
    }

    /// One file of one snapshot with where its content is stored.
    struct StoredFile {
        var snapshot: String
        var path: String
        var blobs: [(id: BlobID, location: BlobLocation)]
    }

    /// Every file of every snapshot.
    func files() throws -> [StoredFile] {
        var result: [StoredFile] = []
        let walker = TreeWalker(repository: repository)
        for entry in try repository.snapshots().snapshots {
            guard let root = entry.snapshot.treeID else { continue }
            try walker.walk(root) { item in
                if item.node.kind == .file {
                    let blobs = item.node.content.compactMap { id in repository.location(of: id).map { (id, $0) } }
                    result.append(StoredFile(snapshot: entry.id.hex, path: String(decoding: item.path, as: UTF8.self), blobs: blobs))
                }
                return true
            }
        }
        return result
    }

    /// The data blob holding the byte at `offset` of pack `pack`, if a blob (not the header) lies there.
    func blob(in pack: String, at offset: Int) -> BlobID? {
        var found: BlobID?
        repository.index.withLock { index in
            index.forEach { id, location in
                if location.pack.hex == pack && location.offset <= offset && offset < location.offset + location.storedLength {
                    found = id
                }
            }
        }
        return found
    }

    /// `repo/data/ab/abcd…` for a pack id.
    static func dataPackPath(_ sandbox: Sandbox, _ pack: String) -> String {
        sandbox.repository + "/data/" + pack.prefix(2) + "/" + pack
    }
}
