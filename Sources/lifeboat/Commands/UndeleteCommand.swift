import ObjectStore

/// `lifeboat undelete`: makes objects hidden by S3 delete markers current again.
///
/// In an Object Lock bucket (which S3 always versions) a plain DELETE, by someone holding the
/// backup's keys or by mistake, removes nothing: it puts a delete marker on top, and the locked
/// version stays beneath. Removing the markers brings the repository back as it was.
enum UndeleteCommand: Command {
    static let name = "undelete"
    static let summary = "bring back objects hidden by delete markers (S3 versioned and Object Lock buckets)"
    static let usage = "lifeboat undelete [--dry-run]"
    static let details = """
    After a delete in a versioned S3 bucket (every Object Lock bucket is versioned) the objects are
    still there, hidden behind delete markers; the locked versions cannot be deleted until their
    retention ends. undelete removes those markers, so the repository reads as before. Needs no
    password. Then run 'lifeboat check --read-data'.
    """
    static let options: [OptionSpec] = [
        .flag("dry-run", "only count the delete markers"),
    ]

    struct Summary: Encodable {
        var messageType = "summary"
        var deleteMarkers: Int
        var removed: Int

        enum CodingKeys: String, CodingKey { case messageType = "message_type", deleteMarkers = "delete_markers", removed }
    }

    static func run(_ context: Context) throws -> ExitCode {
        let arguments = context.arguments
        guard arguments.positionals.isEmpty else {
            throw UsageError(message: "undelete takes no arguments, got '\(arguments.positionals[0])'")
        }
        let store = try context.regionS3Store(for: "undelete",
                                              otherwise: "undelete is for S3 repositories: a local directory has no delete markers")
        let markers = try store.versions(prefix: "").filter(\.isDeleteMarker)
        var removed = 0
        if !arguments.has("dry-run") {
            for marker in markers {
                try store.deleteVersion(marker.key, versionID: marker.versionID)
                removed += 1
            }
        }
        context.output.line(arguments.has("dry-run")
            ? "\(markers.count) delete markers hide objects in \(store.location)"
            : "removed \(removed) delete markers in \(store.location); run 'lifeboat check --read-data' next")
        context.output.message(Summary(deleteMarkers: markers.count, removed: removed))
        return .success
    }
}
