import Repository

enum SnapshotsCommand: Command {
    static let name = "snapshots"
    static let summary = "list snapshots"
    static let usage = "lifeboat snapshots [--host HOST] [--tag TAG] [--path PATH] [--json]"
    static let options: [OptionSpec] = SnapshotFilter.options

    static func run(_ context: Context) throws -> ExitCode {
        guard context.arguments.positionals.isEmpty else {
            throw UsageError(message: "snapshots takes no arguments; filter with --host, --tag, --path")
        }
        let repository = try context.openRepository(loadIndex: false)
        let (all, damaged) = try repository.snapshots()
        let filter = SnapshotFilter(context.arguments)
        let selected = all.filter { filter.matches($0.snapshot) }
        for problem in damaged { context.output.warning("\(problem.key): \(problem.reason)") }
        if context.output.json {
            context.output.message(selected.map { Listed(id: $0.id.hex, shortID: $0.id.shortHex, snapshot: $0.snapshot) })
            return .success
        }
        var rows = [["ID", "Time", "Host", "Tags", "Size", "Paths"]]
        for entry in selected {
            let snapshot = entry.snapshot
            rows.append([entry.id.shortHex, snapshot.timestamp.localDescription, snapshot.host,
                         snapshot.tags.joined(separator: ","),
                         snapshot.summary.map { formatBytes($0.totalBytesProcessed) } ?? "",
                         snapshot.paths.joined(separator: " ")])
        }
        let widths = (0..<rows[0].count).map { column in rows.map { $0[column].count }.max() ?? 0 }
        for (number, row) in rows.enumerated() {
            let line = row.enumerated().map { column, cell in
                column == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[column] - cell.count)
            }.joined(separator: "  ")
            context.output.result(line)
            if number == 0 { context.output.result(String(repeating: "-", count: line.count)) }
        }
        context.output.result("\(selected.count) snapshot\(selected.count == 1 ? "" : "s")")
        return .success
    }

    struct Listed: Encodable {
        var id: String
        var shortID: String
        var snapshot: Snapshot

        enum CodingKeys: String, CodingKey { case id, shortID = "short_id" }

        func encode(to encoder: any Encoder) throws {
            try snapshot.encode(to: encoder)
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(id, forKey: .id)
            try container.encode(shortID, forKey: .shortID)
        }
    }
}
