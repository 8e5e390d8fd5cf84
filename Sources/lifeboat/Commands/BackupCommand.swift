import Repository
import Synchronization

enum BackupCommand: Command {
    static let name = "backup"
    static let summary = "save files, or a command's output, as a new snapshot"
    static let usage = "lifeboat backup [options] PATH...\n       lifeboat backup [options] --stdin-from-command --stdin-filename NAME -- COMMAND [ARG...]"
    static let details = """
    Files whose size, modification time, change time and inode match the parent snapshot
    are not read again. Unreadable files are reported and left out; the snapshot is still
    written and the exit code is 3. With --stdin-from-command the command's standard output
    is saved as one file; if the command fails, no snapshot is written.

    Examples:
      lifeboat backup --repo /srv/backups/repo /etc /srv/app
      lifeboat backup --repo /srv/backups/repo --stdin-from-command --stdin-filename app.sql -- pg_dump app
    """
    static let options: [OptionSpec] = [
        .value("exclude", short: "e", "PATTERN", "leave out matching files and directories", repeatable: true),
        .value("exclude-file", "FILE", "read exclude patterns from FILE, one per line", repeatable: true),
        .flag("one-file-system", short: "x", "do not cross into other file systems"),
        .value("tag", "TAG", "tag the snapshot (TAG1,TAG2 adds both)", repeatable: true),
        .value("host", "HOST", "record this host name (default: this machine's)"),
        .value("parent", "SNAPSHOT", "compare with this snapshot instead of the newest matching one"),
        .flag("force", "read every file again (no parent snapshot)"),
        .flag("stdin-from-command", "save the standard output of the command after '--'"),
        .value("stdin-filename", "NAME", "file name for --stdin-from-command (default: stdin)"),
        .value("workers", "N", "reader threads (default: one per core)"),
    ]

    static func run(_ context: Context) throws -> ExitCode {
        let arguments = context.arguments
        let output = context.output
        let source: BackupOptions.Source
        if arguments.has("stdin-from-command") {
            guard let command = arguments.trailing, !command.isEmpty else {
                throw UsageError(message: "--stdin-from-command needs the command after '--', e.g. -- pg_dump app")
            }
            guard arguments.positionals.isEmpty else {
                throw UsageError(message: "--stdin-from-command takes no paths (got '\(arguments.positionals[0])')")
            }
            source = .command(command, filename: arguments.value("stdin-filename") ?? "stdin")
        } else {
            if arguments.trailing != nil {
                throw UsageError(message: "a command after '--' needs --stdin-from-command")
            }
            if arguments.value("stdin-filename") != nil {
                throw UsageError(message: "--stdin-filename needs --stdin-from-command")
            }
            guard !arguments.positionals.isEmpty else {
                throw UsageError(message: "nothing to back up; give one or more paths, or --stdin-from-command -- COMMAND")
            }
            source = .paths(arguments.positionals)
        }
        var options = BackupOptions(source: source)
        options.excludes = arguments.values("exclude")
        for file in arguments.values("exclude-file") {
            options.excludes += try ExcludeFilter.patterns(fromFile: file)
        }
        _ = try ExcludeFilter(patterns: options.excludes)
        options.oneFileSystem = arguments.has("one-file-system")
        options.tags = arguments.values("tag").flatMap { $0.split(separator: ",").map(String.init) }
        if let host = arguments.value("host") { options.host = host }
        if arguments.has("force") {
            options.parent = .none
        } else if let parent = arguments.value("parent") {
            options.parent = .snapshot(parent)
        }
        if let workers = try arguments.integer("workers", in: 1...64) { options.workers = workers }
        options.isCancelled = context.isCancelled
        options.warning = { warning in
            switch warning.kind {
            case .unreadable: output.warning("cannot read \(warning.message)")
            case .changedWhileReading: output.warning("changed while reading \(warning.message)")
            case .repository: output.warning(warning.message)
            }
        }
        let lastStatus = Mutex<Double>(0)
        options.progress = { progress in
            let rate = progress.secondsElapsed > 0 ? Double(progress.bytesProcessed) / progress.secondsElapsed : 0
            output.progress("[\(formatDuration(progress.secondsElapsed))] \(progress.filesProcessed) files, \(formatBytes(progress.bytesProcessed)) processed, \(formatBytes(UInt64(rate)))/s, \(formatBytes(progress.bytesAdded)) added  \(progress.currentPath)")
            if output.json {
                // JSON status lines once a second, not four times.
                let due = lastStatus.withLock { last in
                    guard progress.secondsElapsed - last >= 1 else { return false }
                    last = progress.secondsElapsed
                    return true
                }
                if due {
                    output.message(Status(secondsElapsed: progress.secondsElapsed, filesDone: progress.filesProcessed,
                                          bytesDone: progress.bytesProcessed, bytesAdded: progress.bytesAdded,
                                          currentFile: progress.currentPath))
                }
            }
        }

        let repository = try context.openRepository()
        let result = try Backup.run(repository, options: options)
        output.clearProgress()
        let summary = result.summary
        output.line("""
        Files:       \(summary.filesNew) new, \(summary.filesChanged) changed, \(summary.filesUnmodified) unmodified
        Dirs:        \(summary.directoriesNew) new, \(summary.directoriesChanged) changed, \(summary.directoriesUnmodified) unmodified
        Added to the repository: \(formatBytes(summary.dataAdded)) (\(formatBytes(summary.dataAddedPacked)) stored)

        processed \(summary.totalFilesProcessed) files, \(formatBytes(summary.totalBytesProcessed)) in \(formatDuration(result.secondsElapsed))
        snapshot \(result.snapshotID.shortHex) saved
        """)
        if result.hadUnreadableData {
            output.warning("\(summary.errors) item(s) could not be read and are not in the snapshot (see the warnings above)")
        }
        output.message(Summary(summary: summary, snapshotID: result.snapshotID.hex, seconds: result.secondsElapsed,
                               parent: result.snapshot.parent))
        return result.hadUnreadableData ? .partial : .success
    }

    struct Status: Encodable {
        var messageType = "status"
        var secondsElapsed: Double
        var filesDone: Int
        var bytesDone: UInt64
        var bytesAdded: UInt64
        var currentFile: String

        enum CodingKeys: String, CodingKey {
            case messageType = "message_type", secondsElapsed = "seconds_elapsed", filesDone = "files_done"
            case bytesDone = "bytes_done", bytesAdded = "bytes_added", currentFile = "current_file"
        }
    }

    struct Summary: Encodable {
        var summary: Snapshot.Summary
        var snapshotID: String
        var seconds: Double
        var parent: String?

        enum CodingKeys: String, CodingKey {
            case messageType = "message_type", filesNew = "files_new", filesChanged = "files_changed"
            case filesUnmodified = "files_unmodified", dirsNew = "dirs_new", dirsChanged = "dirs_changed"
            case dirsUnmodified = "dirs_unmodified", dataBlobs = "data_blobs", treeBlobs = "tree_blobs"
            case dataAdded = "data_added", dataAddedPacked = "data_added_packed"
            case totalFilesProcessed = "total_files_processed", totalBytesProcessed = "total_bytes_processed"
            case totalDuration = "total_duration", snapshotID = "snapshot_id", parent, errors
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode("summary", forKey: .messageType)
            try container.encode(summary.filesNew, forKey: .filesNew)
            try container.encode(summary.filesChanged, forKey: .filesChanged)
            try container.encode(summary.filesUnmodified, forKey: .filesUnmodified)
            try container.encode(summary.directoriesNew, forKey: .dirsNew)
            try container.encode(summary.directoriesChanged, forKey: .dirsChanged)
            try container.encode(summary.directoriesUnmodified, forKey: .dirsUnmodified)
            try container.encode(summary.dataBlobs, forKey: .dataBlobs)
            try container.encode(summary.treeBlobs, forKey: .treeBlobs)
            try container.encode(summary.dataAdded, forKey: .dataAdded)
            try container.encode(summary.dataAddedPacked, forKey: .dataAddedPacked)
            try container.encode(summary.totalFilesProcessed, forKey: .totalFilesProcessed)
            try container.encode(summary.totalBytesProcessed, forKey: .totalBytesProcessed)
            try container.encode(seconds, forKey: .totalDuration)
            try container.encode(snapshotID, forKey: .snapshotID)
            try container.encodeIfPresent(parent, forKey: .parent)
            try container.encode(summary.errors, forKey: .errors)
        }
    }
}
