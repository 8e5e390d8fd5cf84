import Glibc
import ObjectStore
import Repository

/// Opens the store at a repository location: a local directory path, or an `s3://` URL.
///
/// `creating` makes a local directory (or, for S3, the bucket when it is missing).
func makeStore(at location: String, creating: Bool) throws -> any ObjectStore {
    if location.hasPrefix("s3:") || location.contains("://") {
        throw UsageError(message: "\(location): only local directory repositories are supported by this version")
    }
    if creating { return try LocalDirectoryStore.create(at: location) }
    var info = stat()
    guard stat(location, &info) == 0 else {
        throw RepositoryError(.noRepository, "\(location): no repository here (\(String(cString: strerror(errno)))); create one with 'lifeboat init --repo \(location)' or check --repo / LIFEBOAT_REPOSITORY")
    }
    return try LocalDirectoryStore(path: location)
}
