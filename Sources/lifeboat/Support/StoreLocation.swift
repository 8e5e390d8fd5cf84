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
            } else if store.objectLock != nil, try !bucketHasObjectLock(store) {
                throw ObjectStoreError(.invalidLocation, "\(store.location): the URL asks for Object Lock but bucket '\(store.configuration.bucket)' was created without it (S3 can only enable it when a bucket is created); use a new bucket, or drop lock-mode and lock-days")
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
