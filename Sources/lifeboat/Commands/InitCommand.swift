import ObjectStore
import Repository
import Sealing

enum InitCommand: Command {
    static let name = "init"
    static let summary = "create a new repository"
    static let usage = "lifeboat init --repo PATH [options]\n       lifeboat init --repo NAME=LOCATION --repo NAME=LOCATION... [options]"
    static let details = """
    Creates an empty, encrypted repository in a new (or empty) directory. The password comes
    from LIFEBOAT_PASSWORD_FILE, LIFEBOAT_PASSWORD_COMMAND, LIFEBOAT_PASSWORD or a prompt.
    Keep it safe: without a password nothing in the repository can be read.

    With several --repo targets (regions), the repository is created in the first and its
    config and key are copied to the others: one repository, one password, every region.
    A region that cannot be created is reported and the exit code is 4; run
    'lifeboat replicate' to it later.

    Example:
      lifeboat init --repo region-a=/srv/backups/repo --repo region-b=/mnt/far/repo
    """
    static let options: [OptionSpec] = [
        .value("compression", "LEVEL", "zstd level for new data, -7...22, 0 = off (default 3)"),
        .value("pack-size", "MiB", "target pack size in MiB, 4...128 (default 16)"),
        .value("chunker", "NAME", "fastcdc (default) or fixed"),
        .value("chunk-min", "KiB", "minimum chunk size in KiB (default 512)"),
        .value("chunk-avg", "KiB", "average chunk size in KiB, a power of two (default 1024)"),
        .value("chunk-max", "KiB", "maximum chunk size in KiB (default 8192)"),
        .value("kdf-log-n", "N", "scrypt cost 2^N, 14...24 (default: calibrated to ~0.5 s here; low values are for test rigs)"),
    ]

    static func run(_ context: Context) throws -> ExitCode {
        let arguments = context.arguments
        guard arguments.positionals.isEmpty else {
            throw UsageError(message: "init takes no arguments (got '\(arguments.positionals[0])'); use --repo PATH")
        }
        var settings = Repository.Settings()
        if let level = try arguments.integer("compression", in: -7...22) { settings.compressionLevel = Int32(level) }
        if let size = try arguments.integer("pack-size", in: 4...128) { settings.packSize = size << 20 }
        if let algorithm = arguments.value("chunker") {
            guard algorithm == "fastcdc" || algorithm == "fixed" else {
                throw UsageError(message: "--chunker '\(algorithm)': expected fastcdc or fixed")
            }
            settings.chunker.algorithm = algorithm
        }
        if let size = try arguments.integer("chunk-min", in: 1...65536) { settings.chunker.minimumSize = size << 10 }
        if let size = try arguments.integer("chunk-avg", in: 1...65536) { settings.chunker.averageSize = size << 10 }
        if let size = try arguments.integer("chunk-max", in: 1...65536) { settings.chunker.maximumSize = size << 10 }
        if let exponent = try arguments.integer("kdf-log-n", in: 14...24) {
            settings.scrypt = ScryptParameters(n: UInt64(1) << UInt64(exponent), r: 8, p: 1)
        }
        let targets = try context.targets()
        try context.refuseRegion(because: "init creates the repository in every --repo target")
        let several = targets.count > 1
        let password = try Password.current(forNewRepository: true)
        let store = try targets[0].store(creating: true, naming: several)
        let repository: Repository
        do {
            repository = try Repository.initialize(store: store, password: password, settings: settings)
        } catch {
            throw several ? targets[0].nameRegion(error) : error
        }
        context.output.line("created lifeboat repository \(repository.config.id.prefix(10)) at \(store.location)")
        try warnUnlessCreateOnly(store, output: context.output)
        var regions = [RegionStatus(targets[0], .ok)]
        for target in targets.dropFirst() {
            regions.append(copyRepository(from: store, firstRegion: targets[0], to: target, context: context))
        }
        context.output.line("""

        Please note that knowledge of your password is required to access the repository.
        Losing your password means that your data is irrecoverably lost.
        """)
        context.output.message(InitSummary(id: repository.config.id, repository: store.location, regions: regions))
        return regions.allSatisfy { $0.status == .ok } ? .success : .regionUnreachable
    }

    /// Makes the repository exist in another region: the same `config` and key files, so it
    /// is one repository with one password in every region.
    private static func copyRepository(from source: any ObjectStore, firstRegion: Target, to target: Target,
                                       context: Context) -> RegionStatus {
        let destination: any ObjectStore
        do {
            destination = try target.store(creating: true, naming: true)
        } catch {
            context.output.warning("\(error); the repository is not in that region yet: when it can be reached, run 'lifeboat replicate --from \(firstRegion.name) --to \(target.name)' with the same --repo options")
            return RegionStatus(target, .unreachable, error: error)
        }
        do {
            let summary = try Replicator.copy(from: source, to: destination, prefixes: ["config", "keys/"],
                                              isCancelled: context.isCancelled)
            guard summary.isComplete else {
                throw RepositoryError(.io, describeIncomplete(summary))
            }
            context.output.line("region \(target.name): the same repository at \(destination.location)")
            return RegionStatus(target, .ok)
        } catch {
            let named = target.nameRegion(error)
            context.output.warning("\(named); when that is fixed, run 'lifeboat replicate --from \(firstRegion.name) --to \(target.name)' with the same --repo options")
            return RegionStatus(target, .failed, error: named)
        }
    }

    struct InitSummary: Encodable {
        var messageType = "initialized"
        var id: String
        var repository: String
        var regions: [RegionStatus]

        enum CodingKeys: String, CodingKey { case messageType = "message_type", id, repository, regions }
    }
}

enum VersionCommand: Command {
    struct Version: Encodable {
        var messageType = "version"
        var version: String
        var repositoryFormat: Int

        enum CodingKeys: String, CodingKey { case messageType = "message_type", version, repositoryFormat = "repository_format" }
    }

    static let name = "version"
    static let summary = "print the version"
    static let usage = "lifeboat version"
    static let options: [OptionSpec] = []

    static func run(_ context: Context) throws -> ExitCode {
        context.output.result(Repository.programVersion + " (repository format \(RepositoryConfig.currentVersion))")
        context.output.message(Version(version: String(Repository.programVersion.dropFirst("lifeboat ".count)),
                                        repositoryFormat: RepositoryConfig.currentVersion))
        return .success
    }
}
