import ObjectStore
import Repository
import Sealing

enum RegionsCommand: Command {
    static let name = "regions"
    static let summary = "show each region's newest complete snapshot and how far it lags"
    static let usage = "lifeboat regions --repo A=LOCATION --repo B=LOCATION... [--json]"
    static let details = """
    For every --repo target: whether it can be reached, how many snapshots it holds and how
    many of all the regions' snapshots it lacks, its newest complete snapshot, and its lag:
    the time of the newest snapshot in any region minus the time of that one (0 when it
    holds the newest). A snapshot counts as complete in a region only if the region holds
    every pack that the snapshot's files and directories need, so a region that received a
    snapshot without its data is never taken for up to date. Snapshots newer than the
    newest complete one are listed as incomplete. Needs the password (snapshot times are
    encrypted). Exit code 4 if a region cannot be reached or read.

    To bring a lagging region up to date: lifeboat replicate --from A --to B

    Example:
      lifeboat regions --repo region-a=/srv/backups/repo --repo region-b=/mnt/far/repo
    """
    static let options: [OptionSpec] = []

    static func run(_ context: Context) throws -> ExitCode {
        let output = context.output
        guard context.arguments.positionals.isEmpty else {
            throw UsageError(message: "regions takes no arguments (got '\(context.arguments.positionals[0])')")
        }
        try context.refuseRegion(because: "regions reports on every --repo target")
        let targets = try context.targets()
        let password = try Password.current()
        let probes = Target.probe(targets)
        var regions: [Region] = probes.map { probe in
            guard let reached = probe.reached else { return Region(target: probe.target, error: probe.error) }
            guard reached.config != nil else { return Region(target: probe.target, store: reached.store) }
            do {
                let repository = try Repository.open(store: reached.store, password: password,
                                                     warning: { output.warning("region \(probe.target.name): \($0)") })
                let (snapshots, damaged) = try repository.snapshots()
                for problem in damaged { output.warning("region \(probe.target.name): \(problem.key): \(problem.reason)") }
                return Region(target: probe.target, store: reached.store, repository: repository, snapshots: snapshots,
                              damaged: damaged.map(\.key))
            } catch {
                return Region(target: probe.target, error: probe.target.nameRegion(error), reached: true)
            }
        }
        if regions.allSatisfy({ $0.error != nil }), let error = regions.first?.error {
            if regions.allSatisfy({ !$0.reached }) { throw Target.noneReachable(probes) }
            throw error
        }

        // Every snapshot any region holds, by id.
        var all: [BlobID: SnapshotEntry] = [:]
        for region in regions {
            for entry in region.snapshots { all[entry.id] = entry }
        }
        let newest = all.values.max { ($0.snapshot.timestamp, $0.id) < ($1.snapshot.timestamp, $1.id) }
        for index in regions.indices where regions[index].repository != nil {
            output.progress("region \(regions[index].target.name): checking which snapshots are complete")
            regions[index].findNewestComplete()
        }
        output.clearProgress()

        let reports = regions.map { $0.report(union: all, newest: newest) }
        output.message(Summary(newest: newest.map(SnapshotReport.init), regions: reports))
        if !output.json { printTable(reports, newest: newest, regions: regions, output: output) }
        for region in regions {
            if let error = region.error { output.warning("\(error)") }
        }
        return regions.allSatisfy { $0.error == nil } ? .success : .regionUnreachable
    }

    private static func printTable(_ reports: [RegionReport], newest: SnapshotEntry?, regions: [Region], output: Output) {
        var rows = [["Region", "Status", "Snapshots", "Missing", "Newest complete", "Lag"]]
        for report in reports {
            let complete = report.newestComplete.map { "\($0.shortID)  \($0.localTime)" } ?? (report.status == .ok ? "none" : "-")
            let none = (report.snapshots ?? 0) > 0 ? "none complete" : "no snapshot"
            let lag = report.lagSeconds.map(formatLag) ?? (report.status == .ok ? none : "-")
            rows.append([report.name, report.status.rawValue, report.snapshots.map(String.init) ?? "-",
                         report.snapshotsMissing.map(String.init) ?? "-", complete, lag])
        }
        let widths = (0..<rows[0].count).map { column in rows.map { $0[column].count }.max() ?? 0 }
        for (number, row) in rows.enumerated() {
            let line = row.enumerated().map { column, cell in
                column == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[column] - cell.count)
            }.joined(separator: "  ")
            output.result(line)
            if number == 0 { output.result(String(repeating: "-", count: line.count)) }
        }
        if let newest {
            output.result("newest snapshot anywhere: \(newest.id.shortHex) at \(newest.snapshot.timestamp.localDescription)")
        }
        for report in reports where !report.incompleteSnapshots.isEmpty {
            output.result("region \(report.name): \(report.incompleteSnapshots.count) newer snapshot(s) there lack data they need: \(report.incompleteSnapshots.map { String($0.prefix(8)) }.joined(separator: ", "))")
        }
        if let source = reports.first(where: { $0.lagSeconds == 0 }) {
            for lagging in reports where lagging.status == .ok && (lagging.lagSeconds ?? 1) > 0 {
                output.result("to bring region \(lagging.name) up to date: lifeboat replicate --from \(source.name) --to \(lagging.name)")
            }
        }
    }

    /// `0`, `0.8 s`, `42.0 s`, then `m:ss` and `h:mm:ss`.
    private static func formatLag(_ seconds: Double) -> String {
        if seconds == 0 { return "0" }
        return seconds < 60 ? "\(formatDecimal(seconds, places: 1)) s" : formatDuration(seconds)
    }

    // MARK: - One region

    private struct Region {
        var target: Target
        var store: (any ObjectStore)?
        var repository: Repository?
        var snapshots: [SnapshotEntry] = []
        var damaged: [String] = []
        var error: (any Error)?
        /// Whether the store answered (an error then came from reading the repository).
        var reached = false
        var newestComplete: SnapshotEntry?
        /// Snapshots newer than `newestComplete` whose data the region lacks.
        var incomplete: [SnapshotEntry] = []

        init(target: Target, error: (any Error)?, reached: Bool = false) {
            self.target = target
            self.error = error
            self.reached = reached
        }

        init(target: Target, store: any ObjectStore, repository: Repository? = nil, snapshots: [SnapshotEntry] = [],
             damaged: [String] = []) {
            self.target = target
            self.store = store
            self.repository = repository
            self.snapshots = snapshots
            self.damaged = damaged
            reached = true
        }

        /// Checks the region's snapshots newest first; stops at the first complete one.
        mutating func findNewestComplete() {
            guard let repository else { return }
            let checker: CompletenessChecker
            do {
                checker = try CompletenessChecker(repository: repository)
            } catch {
                self.error = target.nameRegion(error)
                return
            }
            for entry in snapshots.reversed() {
                if checker.isComplete(entry) {
                    newestComplete = entry
                    return
                }
                incomplete.append(entry)
            }
        }

        func report(union: [BlobID: SnapshotEntry], newest: SnapshotEntry?) -> RegionReport {
            var report = RegionReport(name: target.name, location: target.shownLocation,
                                      status: error == nil ? .ok : (reached ? .failed : .unreachable),
                                      error: error.map { "\($0)" })
            guard error == nil else { return report }
            let present = Set(snapshots.map(\.id.hex)).union(damaged.map { String($0.dropFirst("snapshots/".count)) })
            report.snapshots = present.count
            report.snapshotsMissing = union.keys.filter { !present.contains($0.hex) }.count
            report.newestComplete = newestComplete.map(SnapshotReport.init)
            report.incompleteSnapshots = incomplete.map(\.id.hex)
            if let newest, let complete = newestComplete {
                report.lagSeconds = max(0, seconds(newest.snapshot.timestamp) - seconds(complete.snapshot.timestamp))
            }
            return report
        }

        private func seconds(_ time: Node.Timestamp) -> Double {
            Double(time.seconds) + Double(time.nanoseconds) / 1e9
        }
    }

    /// Decides whether a region holds everything a snapshot needs, using only that region's
    /// objects: its index, minus packs it does not hold, and its trees.
    private final class CompletenessChecker {
        let repository: Repository
        /// Trees already found complete (snapshots share most of their trees).
        private var completeTrees: Set<BlobID> = []

        init(repository: Repository) throws {
            self.repository = repository
            try repository.loadIndex()
            _ = try repository.forgetLostPacks()
        }

        func isComplete(_ entry: SnapshotEntry) -> Bool {
            guard let root = entry.snapshot.treeID else { return false }
            // A tree that cannot be read (a damaged pack) makes the snapshot incomplete too.
            return (try? treeIsComplete(root)) ?? false
        }

        private func treeIsComplete(_ id: BlobID) throws -> Bool {
            if completeTrees.contains(id) { return true }
            guard repository.contains(id) else { return false }
            for node in try repository.loadTree(id).nodes {
                if !node.content.isEmpty, !repository.containsAll(node.content) { return false }
                if let subtree = node.subtree, try !treeIsComplete(subtree) { return false }
            }
            completeTrees.insert(id)
            return true
        }
    }

    // MARK: - JSON

    struct SnapshotReport: Encodable {
        var id: String
        var shortID: String
        var time: String
        var localTime: String

        init(_ entry: SnapshotEntry) {
            id = entry.id.hex
            shortID = entry.id.shortHex
            time = entry.snapshot.time
            localTime = entry.snapshot.timestamp.localDescription
        }

        enum CodingKeys: String, CodingKey { case id, shortID = "short_id", time }
    }

    struct RegionReport: Encodable {
        var name: String
        var location: String
        var status: RegionStatus.Status
        var error: String?
        var snapshots: Int?
        var snapshotsMissing: Int?
        var newestComplete: SnapshotReport?
        var lagSeconds: Double?
        var incompleteSnapshots: [String] = []

        enum CodingKeys: String, CodingKey {
            case name, location, status, error, snapshots, snapshotsMissing = "snapshots_missing"
            case newestComplete = "newest_complete", lagSeconds = "lag_seconds", incompleteSnapshots = "incomplete_snapshots"
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(name, forKey: .name)
            try container.encode(location, forKey: .location)
            try container.encode(status, forKey: .status)
            try container.encodeIfPresent(error, forKey: .error)
            try container.encodeIfPresent(snapshots, forKey: .snapshots)
            try container.encodeIfPresent(snapshotsMissing, forKey: .snapshotsMissing)
            // null, not absent: "no complete snapshot" is an answer a monitor must see.
            try container.encode(newestComplete, forKey: .newestComplete)
            try container.encode(lagSeconds, forKey: .lagSeconds)
            try container.encode(incompleteSnapshots, forKey: .incompleteSnapshots)
        }
    }

    struct Summary: Encodable {
        var messageType = "summary"
        var newest: SnapshotReport?
        var regions: [RegionReport]

        enum CodingKeys: String, CodingKey { case messageType = "message_type", newest, regions }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(messageType, forKey: .messageType)
            try container.encode(newest, forKey: .newest)
            try container.encode(regions, forKey: .regions)
        }
    }
}
