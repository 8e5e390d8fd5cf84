import Dispatch
import Glibc
import ObjectStore
import Repository
import Synchronization

/// One place the repository lives (DESIGN §3 "Regions"): a name, used by `--region`,
/// `replicate --from/--to` and in every message, and the store location.
///
/// `--repo` may be given several times; each value is `NAME=LOCATION` or just `LOCATION`
/// (then the location is also the name). `NAME=` counts as a name only when `NAME` matches
/// `[a-z0-9][a-z0-9_-]*` and something follows the `=`; so a path that contains `=` is
/// written as it is (`/srv/a=b`), or as `./a=b` if its first component looks like a name.
struct Target: Sendable, Equatable {
    var name: String
    var location: String

    init(name: String, location: String) {
        self.name = name
        self.location = location
    }

    /// Parses one `--repo` value.
    init(parsing value: String) {
        if let equals = value.firstIndex(of: "="), equals != value.startIndex,
           Target.isName(value[..<equals]), value.index(after: equals) != value.endIndex {
            self.init(name: String(value[..<equals]), location: String(value[value.index(after: equals)...]))
        } else {
            self.init(name: Target.shown(value), location: value)
        }
    }

    /// The location for messages and JSON: an `s3://` URL without its options (where a
    /// mistaken secret could hide).
    var shownLocation: String { Target.shown(location) }

    private static func shown(_ location: String) -> String {
        location.hasPrefix("s3://") ? String(location.prefix { $0 != "?" }) : location
    }

    /// Whether `text` is a region name: `[a-z0-9][a-z0-9_-]*`.
    static func isName(_ text: Substring) -> Bool {
        guard let first = text.utf8.first, isLowerAlphanumeric(first) else { return false }
        return text.utf8.allSatisfy { isLowerAlphanumeric($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") }
    }

    private static func isLowerAlphanumeric(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
    }

    /// Parses every `--repo` value; names must be unique, and so must the stores the
    /// locations lead to (two spellings of one store would be one region counted twice).
    static func parse(_ values: [String]) throws -> [Target] {
        let targets = values.map(Target.init(parsing:))
        // A malformed S3 URL is a usage error, found before anything echoes the URL: it may
        // hold a secret the parser refuses. Missing credentials are reported when the store opens.
        for target in targets where target.location.hasPrefix("s3://") {
            do {
                _ = try S3Configuration.parse(target.location)
            } catch let error as ObjectStoreError where error.code == .invalidLocation {
                throw error
            } catch {}
        }
        for (index, target) in targets.enumerated() {
            if targets[..<index].contains(where: { $0.name == target.name }) {
                throw UsageError(message: "--repo: the name '\(target.name)' is given twice; give each target its own NAME=LOCATION")
            }
        }
        guard targets.count > 1 else { return targets }
        let identities = targets.map(\.storeIdentity)
        for index in identities.indices {
            if let earlier = identities[..<index].firstIndex(where: { $0.key == identities[index].key }) {
                throw UsageError(message: "--repo: region \(targets[earlier].name) and region \(targets[index].name) are the same store (\(identities[index].shown)); give each region its own location")
            }
        }
        return targets
    }

    /// Opens the store at this target's location through `makeStore(at:creating:)`; with
    /// `naming`, errors start with `region NAME:`.
    func store(creating: Bool, naming: Bool) throws -> any ObjectStore {
        do {
            return try makeStore(at: location, creating: creating)
        } catch let error as RepositoryError where naming && error.code == .noRepository {
            // Among several regions a missing location is a region that is down (or not
            // mounted), not a reason to create a second, different repository there.
            throw ObjectStoreError(.unavailable, "region \(name): \(location) cannot be reached: it does not exist (not mounted, or the region is down; a new region must be created empty first)", cause: error)
        } catch {
            throw naming ? nameRegion(error) : error
        }
    }

    /// Opens the store of the region `--region` chose, with one small read (the size of
    /// `config`) so that a region that is down says so here, by name, rather than in the
    /// middle of the command. Every error starts with `region NAME:` and keeps its code.
    /// `several` as in ``store(creating:naming:)``: a missing location among several
    /// regions is a region that is down.
    func selectedStore(several: Bool) throws -> any ObjectStore {
        do {
            let store = try store(creating: false, naming: several)
            _ = try store.size(of: "config")
            return store
        } catch {
            throw nameRegion(error)
        }
    }

    /// `error` with `region NAME: ` in front of its message, keeping its type and code (so
    /// the exit code stays what it was).
    func nameRegion(_ error: any Error) -> any Error {
        let prefix = "region \(name): "
        switch error {
        case let error as RepositoryError:
            if error.message.hasPrefix(prefix) { return error }
            return RepositoryError(error.code, prefix + error.message, cause: error)
        case let error as ObjectStoreError:
            if error.message.hasPrefix(prefix) { return error }
            return ObjectStoreError(error.code, prefix + error.message, cause: error)
        case let error as UsageError:
            if error.message.hasPrefix(prefix) { return error }
            return UsageError(message: prefix + error.message)
        default:
            return RepositoryError(.io, prefix + "\(error)", cause: error)
        }
    }
}

// MARK: - Identity

extension Target {
    /// What tells two locations apart: `key` is equal for two spellings of one store, and
    /// `shown` says which store that is, for messages.
    struct StoreIdentity: Equatable {
        var key: String
        var shown: String
    }

    /// The store this location leads to: for S3 the endpoint (lower-case, without a default
    /// port), the bucket and the prefix, whatever the options; for a directory its real path.
    /// An S3 URL that does not parse (no credentials, say) is compared as written: opening
    /// it fails later with the reason.
    var storeIdentity: StoreIdentity {
        if location.hasPrefix("s3://") {
            guard let configuration = try? S3Configuration.parse(location) else {
                return StoreIdentity(key: location, shown: String(location.prefix { $0 != "?" }))
            }
            let endpoint = Target.canonicalEndpoint(configuration.endpoint)
            return StoreIdentity(key: "s3 \(endpoint) \(configuration.bucket)/\(configuration.prefix)",
                                 shown: "\(configuration.location) at \(endpoint)")
        }
        let path = Target.canonicalPath(location)
        return StoreIdentity(key: "file " + path, shown: path)
    }

    /// `http://Host:80` → `http://host`: the scheme and host lower-case, and the port left
    /// out when it is the scheme's default.
    static func canonicalEndpoint(_ endpoint: String) -> String {
        let lowered = endpoint.lowercased()
        if lowered.hasPrefix("http://"), lowered.hasSuffix(":80") { return String(lowered.dropLast(3)) }
        if lowered.hasPrefix("https://"), lowered.hasSuffix(":443") { return String(lowered.dropLast(4)) }
        return lowered
    }

    /// The real path of `path` (symbolic links, `.`, `..` and extra slashes resolved). When
    /// it does not exist yet, its deepest existing parent is resolved and the rest appended
    /// without `.` parts and extra slashes.
    static func canonicalPath(_ path: String) -> String {
        if let real = realPath(path) { return real }
        var absolute = path
        if !path.hasPrefix("/") {
            absolute = (realPath(".") ?? "") + "/" + path
        }
        let parts = absolute.split(separator: "/").filter { $0 != "." }
        for existing in stride(from: parts.count - 1, through: 0, by: -1) {
            guard let base = realPath("/" + parts[..<existing].joined(separator: "/")) else { continue }
            let rest = parts[existing...].joined(separator: "/")
            return base == "/" ? "/" + rest : base + "/" + rest
        }
        return "/" + parts.joined(separator: "/")
    }

    private static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}

// MARK: - Probing

/// A target as found by ``Target/probe()``: its store and whether it holds a repository, or
/// why it could not be reached.
struct ProbedTarget: Sendable {
    var target: Target
    var outcome: Result<Reached, any Error>

    struct Reached: Sendable {
        var store: any ObjectStore
        /// The bytes of its `config`, or nil if the store is reachable but holds no repository.
        var config: [UInt8]?
    }

    var reached: Reached? { try? outcome.get() }

    /// The error that made it unreachable.
    var error: (any Error)? {
        if case .failure(let error) = outcome { return error }
        return nil
    }
}

extension Target {
    /// Opens the store and reads its `config` (one small read: is the region there?).
    /// Errors name the region.
    func probe() -> ProbedTarget {
        do {
            let store = try store(creating: false, naming: true)
            let config: [UInt8]?
            do {
                config = try store.size(of: "config") == nil ? nil : try store.get("config")
            } catch {
                throw nameRegion(error)
            }
            return ProbedTarget(target: self, outcome: .success(.init(store: store, config: config)))
        } catch {
            return ProbedTarget(target: self, outcome: .failure(error))
        }
    }

    /// Probes every target at once (an unreachable region may take a while to time out),
    /// returning them in the order given.
    static func probe(_ targets: [Target]) -> [ProbedTarget] {
        let results = Mutex<[ProbedTarget?]>(Array(repeating: nil, count: targets.count))
        let group = DispatchGroup()
        for (index, target) in targets.enumerated() {
            group.enter()
            DispatchQueue(label: "lifeboat.probe.\(index)").async {
                let probed = target.probe()
                results.withLock { $0[index] = probed }
                group.leave()
            }
        }
        group.wait()
        return results.withLock { $0.map { $0! } }
    }

    /// The error for "none of the targets could be reached", naming each one's error.
    static func noneReachable(_ probes: [ProbedTarget]) -> ObjectStoreError {
        let reasons = probes.compactMap { $0.error.map { "\($0)" } }.joined(separator: "; ")
        return ObjectStoreError(.unavailable, "no region is reachable: \(reasons); check the network and the locations given with --repo")
    }
}

// MARK: - Reports

/// One region's line in the JSON of `init`, `backup` and `replicate`.
struct RegionStatus: Encodable {
    enum Status: String, Encodable {
        /// The region holds what it should.
        case ok
        /// The region could not be reached at all.
        case unreachable
        /// The region was reached, but writing or copying to it failed.
        case failed
    }

    var name: String
    var location: String
    var status: Status
    var error: String?

    init(_ target: Target, _ status: Status, error: (any Error)? = nil) {
        name = target.name
        location = target.shownLocation
        self.status = status
        self.error = error.map { "\($0)" }
    }
}

/// A short description of why a replication did not complete, for one line of output.
func describeIncomplete(_ summary: Replicator.Summary) -> String {
    var parts: [String] = []
    if let failure = summary.failures.first {
        let more = summary.failures.count > 1 ? " (and \(summary.failures.count - 1) more object(s))" : ""
        parts.append("\(failure.error)\(more)")
    }
    if let conflict = summary.conflicts.first {
        let more = summary.conflicts.count > 1 ? " (and \(summary.conflicts.count - 1) more)" : ""
        parts.append("\(conflict.key) exists there with \(conflict.destinationSize) bytes but has \(conflict.sourceSize) in the source; it is not overwritten\(more)")
    }
    if summary.cancelled { parts.append("interrupted") }
    if summary.snapshotsSkipped > 0 {
        parts.append("\(summary.snapshotsSkipped) snapshot(s) not copied, so that no snapshot arrives without its data")
    }
    return parts.joined(separator: "; ")
}
