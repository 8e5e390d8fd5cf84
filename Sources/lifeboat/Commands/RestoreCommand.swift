import Repository

enum RestoreCommand: Command {
    static let name = "restore"
    static let summary = "restore a snapshot, or part of one, into a directory"
    static let usage = "lifeboat restore SNAPSHOT[:PATH] --target DIR [options]"
    static let details = """
    SNAPSHOT is 'latest' (narrowed by --host/--tag/--path) or an id prefix. With :PATH only
    that part is restored, its contents placed directly in DIR. Every blob is authenticated
    as it is read; --verify also re-reads what was written. Owners are restored when run as
    root. Entries with unsafe names are refused and reported; nothing is written outside DIR.

    Examples:
      lifeboat restore latest --repo /srv/backups/repo --target /srv/restore
      lifeboat restore 3f9a12bc:/etc/nginx --repo /srv/backups/repo --target /tmp/nginx
    """
    static let options: [OptionSpec] = [
        .value("target", short: "t", "DIR", "directory to restore into (created if missing)"),
        .value("include", short: "i", "PATTERN", "restore only matching paths (and what is below them)", repeatable: true),
        .value("exclude", short: "e", "PATTERN", "leave out matching paths", repeatable: true),
        .flag("verify", "re-read every restored file and compare it with the snapshot"),
        .value("workers", "N", "download and write threads (default: cores + 2; more for a distant S3 store, to hide its latency)"),
    ] + SnapshotFilter.options

    static func run(_ context: Context) throws -> ExitCode {
        let arguments = context.arguments
        let output = context.output
        guard arguments.positionals.count == 1 else {
            throw UsageError(message: arguments.positionals.isEmpty
                ? "which snapshot? give 'latest' or a snapshot id, e.g. 'lifeboat restore latest --target DIR'"
                : "restore takes one snapshot, got \(arguments.positionals.count) arguments")
        }
        guard let target = arguments.value("target") else {
            throw UsageError(message: "restore needs --target DIR")
        }
        let spec = SnapshotSpec(arguments.positionals[0])
        var options = RestoreOptions(target: target)
        options.subpath = spec.subpath
        options.includes = arguments.values("include")
        options.excludes = arguments.values("exclude")
        options.verify = arguments.has("verify")
        if let workers = try arguments.integer("workers", in: 1...64) { options.workers = workers }
        options.isCancelled = context.isCancelled
        options.warning = { output.warning($0) }
        options.progress = { progress in
            let percent = progress.bytesTotal > 0 ? Double(progress.bytesDone) * 100 / Double(progress.bytesTotal) : 100
            output.progress("[\(formatDuration(progress.secondsElapsed))] \(formatDecimal(percent, places: 1))%  \(progress.filesDone)/\(progress.filesTotal) files, \(formatBytes(progress.bytesDone))/\(formatBytes(progress.bytesTotal))")
        }
        let repository = try context.openRepository()
        let snapshot = try spec.resolve(in: repository, arguments: arguments)
        output.line("restoring snapshot \(snapshot.id.shortHex) of \(snapshot.snapshot.paths.joined(separator: ", ")) at \(snapshot.snapshot.timestamp.localDescription) to \(target)")
        let result = try Restorer.run(repository, snapshot: snapshot, options: options)
        output.clearProgress()
        output.line("restored \(result.files) files, \(result.directories) directories, \(result.otherEntries) other entries, \(formatBytes(result.bytes)) in \(formatDuration(result.secondsElapsed))"
            + (options.verify ? "; verified \(result.filesVerified) files" : ""))
        output.message(Summary(snapshotID: snapshot.id.hex, files: result.files, directories: result.directories,
                               bytes: result.bytes, filesVerified: options.verify ? result.filesVerified : nil,
                               errors: result.errors.count, seconds: result.secondsElapsed))
        if !result.errors.isEmpty {
            let count = result.errors.count
            output.error("\(count) \(count == 1 ? "entry was" : "entries were") not restored correctly (listed above)", code: "restore_incomplete", exitCode: 1)
            return .failure
        }
        return .success
    }

    struct Summary: Encodable {
        var messageType = "summary"
        var snapshotID: String
        var files: Int
        var directories: Int
        var bytes: UInt64
        var filesVerified: Int?
        var errors: Int
        var seconds: Double

        enum CodingKeys: String, CodingKey {
            case messageType = "message_type", snapshotID = "snapshot_id", files = "files_restored"
            case directories = "directories_restored", bytes = "bytes_restored", filesVerified = "files_verified"
            case errors, seconds = "total_duration"
        }
    }
}
