import Glibc
import ObjectStore
import Repository

enum ReplicateCommand: Command {
    static let name = "replicate"
    static let summary = "copy what other regions are missing from one region (no password needed)"
    static let usage = "lifeboat replicate --repo A=LOCATION --repo B=LOCATION... [--from A] [--to B]..."
    static let details = """
    Copies every object of the repository that a destination region lacks from the source
    region, as it is: the same names and the same encrypted bytes, so no password is needed
    and nothing is decrypted. The order keeps each region consistent at every moment:
    config, keys, packs, index files, anything else, and snapshots last; snapshots are
    copied only if everything before them arrived, so a region never holds a snapshot whose
    data is missing. Each object is checked before it is written: its size, and for objects
    named by their SHA-256 (keys, packs, index files, snapshots) the checksum. An object
    that exists in the destination with another size is a conflict: reported, never
    overwritten. Nothing is ever deleted. Running it again copies only what is still
    missing, so an interrupted or failed run is resumed by running it again.

    --from defaults to the first --repo target, --to to every other one. A destination must
    exist (an empty directory or bucket is fine) and must not hold another repository.

    Exit codes: 0 every destination holds everything the source held; 4 a destination was
    unreachable (the others were brought up to date); 1 something could not be copied
    (each object is named).

    Examples:
      lifeboat replicate --repo a=/srv/backups/repo --repo b=/mnt/far/repo --from a --to b
      lifeboat replicate --repo a=/srv/backups/repo --repo b=/mnt/b/repo --repo c=/mnt/c/repo
    """
    static let options: [OptionSpec] = [
        .value("from", "NAME", "the region to copy from (default: the first --repo)"),
        .value("to", "NAME", "a region to copy to (default: every other --repo)", repeatable: true),
    ]

    static func run(_ context: Context) throws -> ExitCode {
        let arguments = context.arguments
        let output = context.output
        guard arguments.positionals.isEmpty else {
            throw UsageError(message: "replicate takes no arguments (got '\(arguments.positionals[0])'); name regions with --from and --to")
        }
        try context.refuseRegion(because: "replicate reads from --from and writes to --to")
        let targets = try context.targets()
        guard targets.count > 1 else {
            throw UsageError(message: "replicate needs at least two --repo targets, e.g. --repo a=/srv/backups/repo --repo b=/mnt/far/repo")
        }
        func target(named name: String, option: String) throws -> Target {
            guard let target = targets.first(where: { $0.name == name }) else {
                throw UsageError(message: "--\(option) '\(name)': no --repo target has that name; the targets are \(targets.map(\.name).joined(separator: ", "))")
            }
            return target
        }
        let source = try arguments.value("from").map { try target(named: $0, option: "from") } ?? targets[0]
        var destinations = try arguments.values("to").map { try target(named: $0, option: "to") }
        if destinations.isEmpty { destinations = targets.filter { $0 != source } }
        if destinations.contains(source) {
            throw UsageError(message: "--to '\(source.name)' is also the source (--from); a region cannot be copied onto itself")
        }
        for (index, destination) in destinations.enumerated() where destinations[..<index].contains(destination) {
            throw UsageError(message: "--to '\(destination.name)' is given twice")
        }

        let start = monotonicSeconds()
        let sourceProbe = source.probe()
        guard let sourceStore = sourceProbe.reached?.store else { throw sourceProbe.error! }
        guard sourceProbe.reached?.config != nil else {
            throw RepositoryError(.noRepository, "region \(source.name): \(sourceStore.location) holds no repository (no config object); nothing to replicate from it; check --from and --repo")
        }

        var reports: [DestinationReport] = []
        for destination in destinations {
            let report = replicate(from: sourceStore, source: source, to: destination, context: context)
            reports.append(report)
            if context.isCancelled() { break }
        }
        output.message(Summary(from: source.name, regions: reports, seconds: monotonicSeconds() - start))

        if context.isCancelled() { return .interrupted }
        let failed = reports.filter { $0.status == .failed }
        let unreachable = reports.filter { $0.status == .unreachable }
        if !failed.isEmpty || unreachable.count == reports.count {
            let names = (failed + unreachable).map(\.name)
            let regions = names.count == 1 ? "region \(names[0]) does" : "regions \(names.joined(separator: ", ")) do"
            output.error("\(regions) not hold everything region \(source.name) holds (see above); fix what is named and run the same command again: it copies only what is missing",
                         code: "replication_incomplete", exitCode: ExitCode.failure.rawValue)
            return .failure
        }
        return unreachable.isEmpty ? .success : .regionUnreachable
    }

    /// Brings one destination up to date and reports it.
    private static func replicate(from sourceStore: any ObjectStore, source: Target, to destination: Target,
                                  context: Context) -> DestinationReport {
        let output = context.output
        let probe = destination.probe()
        guard let store = probe.reached?.store else {
            output.warning("\(probe.error!); nothing was copied to it; run this command again when it can be reached")
            return DestinationReport(destination, status: .unreachable, error: probe.error)
        }
        let summary: Replicator.Summary
        do {
            summary = try Replicator.copy(from: sourceStore, to: store, progress: { event in
                output.progress("region \(destination.name): \(event.objectsDone)/\(event.objectsToCopy) objects, \(formatBytes(event.bytesDone))/\(formatBytes(event.bytesToCopy))  \(event.key)")
            }, isCancelled: context.isCancelled)
        } catch {
            output.clearProgress()
            let named = destination.nameRegion(error)
            output.warning("\(named)")
            return DestinationReport(destination, status: .failed, error: named)
        }
        output.clearProgress()
        for failure in summary.failures.prefix(20) {
            output.warning("region \(destination.name): \(failure.key): \(failure.error)")
        }
        if summary.failures.count > 20 {
            output.warning("region \(destination.name): … and \(summary.failures.count - 20) more objects could not be copied")
        }
        for conflict in summary.conflicts.prefix(20) {
            output.warning("region \(destination.name): \(conflict.key) exists there with \(conflict.destinationSize) bytes, but region \(source.name) has \(conflict.sourceSize); it is not overwritten: check both copies ('sha256sum' must print the name) and move the damaged one away")
        }
        if summary.conflicts.count > 20 {
            output.warning("region \(destination.name): … and \(summary.conflicts.count - 20) more conflicts")
        }
        if summary.snapshotsSkipped > 0 {
            output.warning("region \(destination.name): \(summary.snapshotsSkipped) snapshot(s) were not copied, because objects they may need were not")
        }
        let copied = summary.objectsCopied == 0
            ? "nothing to copy"
            : "copied \(summary.objectsCopied) objects (\(formatBytes(summary.bytesCopied))), \(summary.snapshotsCopied) of them snapshots"
        output.line("region \(destination.name): \(copied); \(summary.objectsPresent) were there already")
        guard summary.isComplete else {
            return DestinationReport(destination, status: .failed, summary: summary,
                                     error: RepositoryError(.io, "region \(destination.name): \(describeIncomplete(summary))"))
        }
        return DestinationReport(destination, status: .ok, summary: summary)
    }

    private static func monotonicSeconds() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }

    // MARK: - JSON

    struct DestinationReport: Encodable {
        var name: String
        var location: String
        var status: RegionStatus.Status
        var error: String?
        var objectsCopied = 0
        var bytesCopied: UInt64 = 0
        var objectsPresent = 0
        var snapshotsCopied = 0
        var snapshotsSkipped = 0
        var conflicts: [ConflictReport] = []
        var failures: [FailureReport] = []

        init(_ target: Target, status: RegionStatus.Status, summary: Replicator.Summary? = nil, error: (any Error)? = nil) {
            name = target.name
            location = target.shownLocation
            self.status = status
            self.error = error.map { "\($0)" }
            guard let summary else { return }
            objectsCopied = summary.objectsCopied
            bytesCopied = summary.bytesCopied
            objectsPresent = summary.objectsPresent
            snapshotsCopied = summary.snapshotsCopied
            snapshotsSkipped = summary.snapshotsSkipped
            conflicts = summary.conflicts.map {
                ConflictReport(key: $0.key, sourceSize: $0.sourceSize, destinationSize: $0.destinationSize)
            }
            failures = summary.failures.map { FailureReport(key: $0.key, message: "\($0.error)") }
        }

        enum CodingKeys: String, CodingKey {
            case name, location, status, error, objectsCopied = "objects_copied", bytesCopied = "bytes_copied"
            case objectsPresent = "objects_present", snapshotsCopied = "snapshots_copied"
            case snapshotsSkipped = "snapshots_skipped", conflicts, failures
        }
    }

    struct ConflictReport: Encodable {
        var key: String
        var sourceSize: Int
        var destinationSize: Int

        enum CodingKeys: String, CodingKey { case key, sourceSize = "source_size", destinationSize = "destination_size" }
    }

    struct FailureReport: Encodable {
        var key: String
        var message: String
    }

    struct Summary: Encodable {
        var messageType = "summary"
        var from: String
        var regions: [DestinationReport]
        var seconds: Double

        enum CodingKeys: String, CodingKey { case messageType = "message_type", from, regions, seconds = "total_duration" }
    }
}
