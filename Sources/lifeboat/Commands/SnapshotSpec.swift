import Repository

/// `latest`, an id prefix, or either with `:subpath` (`latest:/usr/share`).
struct SnapshotSpec {
    var snapshot: String
    var subpath: String

    init(_ text: String) {
        if let colon = text.firstIndex(of: ":") {
            snapshot = String(text[..<colon])
            let rest = String(text[text.index(after: colon)...])
            subpath = rest.isEmpty ? "/" : rest
        } else {
            snapshot = text
            subpath = "/"
        }
    }

    /// Finds the snapshot, narrowing `latest` by `--host`, `--tag` and `--path` if given.
    func resolve(in repository: Repository, arguments: Arguments) throws -> SnapshotEntry {
        let filter = SnapshotFilter(arguments)
        return try repository.findSnapshot(snapshot, in: repository.snapshots().snapshots, filter: filter.matches)
    }
}

/// `--host`, `--tag`, `--path` filters shared by snapshots, restore and friends.
struct SnapshotFilter {
    var hosts: [String]
    var tags: [String]
    var paths: [String]

    static let options: [OptionSpec] = [
        .value("host", "HOST", "only snapshots of this host", repeatable: true),
        .value("tag", "TAG", "only snapshots with this tag (TAG1,TAG2 means both)", repeatable: true),
        .value("path", "PATH", "only snapshots that include this path", repeatable: true),
    ]

    init(_ arguments: Arguments) {
        hosts = arguments.values("host")
        tags = arguments.values("tag")
        paths = arguments.values("path")
    }

    func matches(_ snapshot: Snapshot) -> Bool {
        if !hosts.isEmpty && !hosts.contains(snapshot.host) { return false }
        if !tags.isEmpty && !tags.contains(where: { group in
            group.split(separator: ",").allSatisfy { snapshot.tags.contains(String($0)) }
        }) { return false }
        if !paths.isEmpty && !paths.allSatisfy({ snapshot.paths.contains($0) }) { return false }
        return true
    }
}
