import Repository
import Sealing

enum CheckCommand: Command {
    static let name = "check"
    static let summary = "verify the repository's structure and, optionally, its data"
    static let usage = "lifeboat check [--read-data | --read-data-subset n/t|x%]"
    static let details = """
    Without options: every snapshot, index file and tree is read and every pack the index
    names must exist with the right size. --read-data also downloads every pack and checks
    its checksum and every blob's authentication; --read-data-subset=n/t reads part n of t
    (run 1/7 ... 7/7 on successive days to read everything once a week), x% a random share.
    Damage is listed object by object, with the snapshots and paths it affects; the exit
    code is then 1.
    """
    static let options: [OptionSpec] = [
        .flag("read-data", "read and verify all stored data"),
        .value("read-data-subset", "n/t|x%", "read and verify part of the stored data"),
    ]

    static func run(_ context: Context) throws -> ExitCode {
        let arguments = context.arguments
        let output = context.output
        guard arguments.positionals.isEmpty else {
            throw UsageError(message: "check takes no arguments (got '\(arguments.positionals[0])')")
        }
        var selection = ReadDataSelection.none
        if arguments.has("read-data") { selection = .all }
        if let subset = arguments.value("read-data-subset") {
            guard selection == .none else { throw UsageError(message: "give either --read-data or --read-data-subset, not both") }
            selection = try ReadDataSelection(parsing: subset)
        }
        let repository = try context.openRepository(loadIndex: false)
        let report = try Checker.run(repository, readData: selection) { output.progress($0) }
        output.clearProgress()
        for hint in report.hints { output.warning(hint) }
        for error in report.errors { output.result("error: \(error)") }
        let affected = report.affectedSnapshots.sorted { $0.key < $1.key }
        for (id, paths) in affected {
            output.result("snapshot \(id.shortHex) is damaged: \(paths.count) path(s) affected:")
            for path in paths.prefix(20) { output.result("  \(path)") }
            if paths.count > 20 { output.result("  … and \(paths.count - 20) more") }
        }
        let read = selection == .none ? "" : ", read \(report.packsRead) packs (\(formatBytes(report.bytesRead)))"
        if report.isClean {
            output.line("no errors found: \(report.snapshots) snapshots, \(report.packs) packs, \(report.blobs) blobs\(read)")
        } else {
            output.result("\(report.errors.count) error(s) found; \(affected.count) snapshot(s) affected\(read)")
            output.result("Restore of unaffected files still works; see docs/OPERATIONS.md, 'Runbook: a damaged repository'.")
        }
        output.message(Summary(report: report))
        return report.isClean ? .success : .failure
    }

    struct Summary: Encodable {
        var messageType = "summary"
        var errors: [String]
        var hints: [String]
        var affected: [String: [String]]
        var snapshots: Int
        var packs: Int
        var packsRead: Int
        var blobs: Int

        init(report: CheckReport) {
            errors = report.errors
            hints = report.hints
            affected = Dictionary(uniqueKeysWithValues: report.affectedSnapshots.map { ($0.key.hex, $0.value) })
            snapshots = report.snapshots
            packs = report.packs
            packsRead = report.packsRead
            blobs = report.blobs
        }

        enum CodingKeys: String, CodingKey {
            case messageType = "message_type", errors, hints, affected = "affected_snapshots", snapshots, packs
            case packsRead = "packs_read", blobs
        }
    }
}
