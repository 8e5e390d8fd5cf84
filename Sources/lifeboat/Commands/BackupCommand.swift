import ObjectStore
import Repository
import Sealing
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
      lifeboat backup --repo region-a=/srv/backups/repo --repo region-b=/mnt/far/repo /etc

    With several --repo targets (regions) the backup fans out: the first reachable region
    that holds the repository is the primary, and every object is written to the others at
    the same time. The snapshot is written to the primary, then copied to each other region
    after everything it needs is there. A region that cannot be reached, or fails on the
    way, is reported and the exit code is 4 (the others hold the snapshot); bring it up to
    date later with 'lifeboat replicate'. If no region can be reached, nothing is written.
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
        let interruptAnnounced = Atomic<Bool>(false)
        let isCancelled = context.isCancelled
        options.progress = { progress in
            // After an interrupt the packs already made are still stored, which takes a while
            // on a slow store: say so once, and how to stop at once instead.
            if progress.packsUnstored > 0, isCancelled(),
               !interruptAnnounced.exchange(true, ordering: .relaxed) {
                announceInterrupt(packs: progress.packsUnstored, output: output)
            }
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

        let targets = try context.targets()
        try context.refuseRegion(because: "backup writes to every --repo target")
        let fanOut = try RegionFanOut.prepare(targets, context: context)
        let repository = try context.openRepository(store: fanOut.store)
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
        let regions = fanOut.replicate(snapshot: result.snapshotID, context: context)
        if result.hadUnreadableData {
            output.warning("\(summary.errors) item(s) could not be read and are not in the snapshot (see the warnings above)")
        }
        output.message(Summary(summary: summary, snapshotID: result.snapshotID.hex, seconds: result.secondsElapsed,
                               parent: result.snapshot.parent, regions: regions))
        if result.hadUnreadableData { return .partial }
        return regions.allSatisfy { $0.status == .ok } ? .success : .regionUnreachable
    }

    /// The one notice of an interrupt that still stores `packs` packs before stopping.
    static func announceInterrupt(packs: Int, output: Output) {
        let text = "interrupted: storing the \(packs == 1 ? "pack" : "\(packs) packs") already made so the next backup reuses them (press Ctrl-C again to stop at once)"
        output.notice(text)
        output.message(InterruptStatus(packsToStore: packs, message: text))
    }

    /// The `status` line of `--json` for an interrupt (see ``announceInterrupt(packs:output:)``).
    struct InterruptStatus: Encodable {
        var messageType = "status"
        var interrupted = true
        var packsToStore: Int
        var message: String

        enum CodingKeys: String, CodingKey {
            case messageType = "message_type", interrupted, packsToStore = "packs_to_store", message
        }
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
        var regions: [RegionStatus]

        enum CodingKeys: String, CodingKey {
            case messageType = "message_type", filesNew = "files_new", filesChanged = "files_changed"
            case filesUnmodified = "files_unmodified", dirsNew = "dirs_new", dirsChanged = "dirs_changed"
            case dirsUnmodified = "dirs_unmodified", dataBlobs = "data_blobs", treeBlobs = "tree_blobs"
            case dataAdded = "data_added", dataAddedPacked = "data_added_packed"
            case totalFilesProcessed = "total_files_processed", totalBytesProcessed = "total_bytes_processed"
            case totalDuration = "total_duration", snapshotID = "snapshot_id", parent, errors, regions
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
            try container.encode(regions, forKey: .regions)
        }
    }
}

// MARK: - Regions

/// The regions of one backup: the primary store the repository is opened on (a
/// ``FanOutStore`` when there are mirrors), and what became of each region.
struct RegionFanOut {
    var targets: [Target]
    var primary: Target
    var primaryStore: any ObjectStore
    /// The store the backup writes through.
    var store: any ObjectStore
    var fanOut: FanOutStore?
    /// Regions left out from the start: unreachable, or holding another repository.
    var excluded: [String: RegionStatus] = [:]

    /// Probes the targets and picks the primary: the first reachable one that holds the
    /// repository. The others that are reachable become mirrors.
    static func prepare(_ targets: [Target], context: Context) throws -> RegionFanOut {
        guard targets.count > 1 else {
            let store = try context.store()
            return RegionFanOut(targets: targets, primary: targets[0], primaryStore: store, store: store)
        }
        let probes = Target.probe(targets)
        guard let primary = probes.first(where: { $0.reached?.config != nil }), let primaryConfig = primary.reached?.config,
              let primaryStore = primary.reached?.store
        else {
            if probes.contains(where: { $0.reached != nil }) {
                let names = targets.map(\.name).joined(separator: ", ")
                throw RepositoryError(.noRepository, "no region holds a repository (\(names)); create it with 'lifeboat init' and the same --repo options")
            }
            throw Target.noneReachable(probes)
        }
        var mirrors: [FanOutStore.Mirror] = []
        var excluded: [String: RegionStatus] = [:]
        for probe in probes where probe.target != primary.target {
            guard let reached = probe.reached else {
                excluded[probe.target.name] = RegionStatus(probe.target, .unreachable, error: probe.error)
                continue
            }
            if let config = reached.config, config != primaryConfig {
                let error = RepositoryError(.alreadyExists, "region \(probe.target.name): \(reached.store.location) holds a different repository than region \(primary.target.name) (their config objects differ); it is left alone: give the right location with --repo")
                excluded[probe.target.name] = RegionStatus(probe.target, .failed, error: error)
                continue
            }
            mirrors.append(FanOutStore.Mirror(name: probe.target.name, store: reached.store))
        }
        let fanOut = FanOutStore(primary: primaryStore, mirrors: mirrors)
        return RegionFanOut(targets: targets, primary: primary.target, primaryStore: primaryStore, store: fanOut,
                            fanOut: fanOut, excluded: excluded)
    }

    /// After the snapshot is saved in the primary: copies it, and whatever else is missing,
    /// to every mirror that kept up, and reports each region (in the order of --repo).
    func replicate(snapshot: BlobID, context: Context) -> [RegionStatus] {
        let output = context.output
        guard let fanOut else { return [RegionStatus(primary, .ok)] }
        var statuses: [String: RegionStatus] = excluded
        statuses[primary.name] = RegionStatus(primary, .ok)
        output.line("region \(primary.name): snapshot \(snapshot.shortHex) saved (primary)")
        for mirror in fanOut.mirrorStatuses {
            guard let target = targets.first(where: { $0.name == mirror.name }) else { continue }
            if let error = mirror.error {
                statuses[target.name] = RegionStatus(target, .failed, error: target.nameRegion(error))
                continue
            }
            let store = fanOut.mirrors.first { $0.name == mirror.name }!.store
            do {
                let summary = try Replicator.copy(from: primaryStore, to: store, progress: { event in
                    output.progress("region \(target.name): copying \(event.objectsDone)/\(event.objectsToCopy) objects, \(formatBytes(event.bytesDone))/\(formatBytes(event.bytesToCopy))")
                }, isCancelled: context.isCancelled)
                output.clearProgress()
                guard summary.isComplete else { throw RepositoryError(.io, describeIncomplete(summary)) }
                output.line("region \(target.name): snapshot \(snapshot.shortHex) stored (after the fan-out, \(summary.objectsCopied) object(s) of \(formatBytes(summary.bytesCopied)) copied)")
                statuses[target.name] = RegionStatus(target, .ok)
            } catch {
                output.clearProgress()
                statuses[target.name] = RegionStatus(target, .failed, error: target.nameRegion(error))
            }
        }
        for target in targets {
            guard let status = statuses[target.name], status.status != .ok else { continue }
            let what = status.status == .unreachable ? "is unreachable" : "failed"
            // A region holding another repository is left alone: copying to it would not help.
            let advice = excluded[target.name]?.status == .failed ? ""
                : "; when it is back, run 'lifeboat replicate --from \(primary.name) --to \(target.name)' with the same --repo options"
            output.warning("\(status.error ?? "region \(target.name) \(what)"); snapshot \(snapshot.shortHex) is not in region \(target.name) (the others hold it)\(advice)")
        }
        return targets.compactMap { statuses[$0.name] }
    }
}
