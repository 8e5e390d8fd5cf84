import Glibc
import ObjectStore
import Repository

/// Opens the store at a repository location: a local directory path, or an `s3://` URL.
///
/// `creating` makes a local directory, or for S3 the bucket when it is missing (with Object Lock
/// enabled when the URL asks for retention).
func makeStore(at location: String, creating: Bool) throws -> any ObjectStore {
    if location.hasPrefix("s3://") {
        let store = try S3Store.open(url: location)
        if creating {
            if try !store.bucketExists() {
                try store.createBucket(objectLock: store.objectLock != nil)
            } else {
                if store.objectLock != nil, try !bucketHasObjectLock(store) {
                    throw ObjectStoreError(.invalidLocation, "\(store.location): the URL asks for Object Lock but bucket '\(store.configuration.bucket)' was created without it (S3 can only enable it when a bucket is created); use a new bucket, or drop lock-mode and lock-days")
                }
                try requireRoomForNewRepository(store)
            }
        }
        return store
    }
    if location.hasPrefix("s3:") || location.contains("://") {
        throw UsageError(message: "\(location): not a repository location; use a directory path or s3://bucket/prefix")
    }
    if creating { return try LocalDirectoryStore.create(at: location) }
    var info = stat()
    guard stat(location, &info) == 0 else {
        throw RepositoryError(.noRepository, "\(location): no repository here (\(String(cString: strerror(errno)))); create one with 'lifeboat init --repo \(location)' or check --repo / LIFEBOAT_REPOSITORY")
    }
    return try LocalDirectoryStore(path: location)
}

/// Whether the bucket has Object Lock; true when these credentials may not read the setting
/// (a backup identity often may not), since then the first locked upload tells.
private func bucketHasObjectLock(_ store: S3Store) throws -> Bool {
    do {
        return try store.bucketHasObjectLock()
    } catch let error as ObjectStoreError where error.code == .permissionDenied {
        return true
    }
}

/// A new repository needs a prefix of its own: nothing there (a local `init` refuses a
/// non-empty directory the same way), no deleted repository hidden by delete markers, and no
/// repository above it, whose prune would take the new one's objects for its own garbage.
private func requireRoomForNewRepository(_ store: S3Store) throws {
    if let existing = try store.list(prefix: "").first {
        throw ObjectStoreError(.alreadyExists, "\(store.location): already holds objects (\(existing.key) and maybe more); a new repository needs an empty prefix: choose another prefix or bucket")
    }
    // Listing versions may be denied to a backup identity; then there is nothing to learn here.
    if let versions = try? store.versions(prefix: ""), versions.contains(where: \.isDeleteMarker) {
        throw ObjectStoreError(.alreadyExists, "\(store.location): holds a deleted repository (its objects are hidden by delete markers); to get it back run 'lifeboat undelete'; to start anew, choose another prefix")
    }
    let parts = store.configuration.prefix.split(separator: "/")
    for depth in 0 ..< parts.count {
        var configuration = store.configuration
        configuration.prefix = parts[0 ..< depth].joined(separator: "/")
        if try S3Store(configuration: configuration).size(of: "config") != nil {
            throw ObjectStoreError(.alreadyExists, "\(store.location): is inside the repository at \(configuration.location); choose a prefix outside it")
        }
    }
}

/// Why an S3 location has no `config`: when delete markers hide it, the repository was deleted
/// in a versioned bucket and `undelete` brings it back, where `init` would bury it.
func deletedRepositoryError(_ store: any ObjectStore) -> RepositoryError? {
    guard let store = store as? S3Store,
          let versions = try? store.versions(prefix: "config"),
          versions.contains(where: { $0.key == "config" && $0.isDeleteMarker && $0.isLatest }) else { return nil }
    return RepositoryError(.noRepository, "\(store.location): the repository was deleted: its objects are hidden by delete markers in this versioned bucket; run 'lifeboat undelete' to bring them back (docs/OPERATIONS.md), and do not run 'lifeboat init' here")
}
