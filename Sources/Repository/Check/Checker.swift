import ObjectStore
import Sealing
import Synchronization

/// Which part of the stored data `check` reads and verifies.
public enum ReadDataSelection: Sendable, Equatable {
    /// Structure only: snapshots, index, trees, pack presence and sizes.
    case none
    case all
    /// Packs whose id falls in part `part` of `total` (1-based): running 1/7 … 7/7 on
    /// successive days reads everything once a week.
    case subset(part: Int, total: Int)
    /// A random `percent` of the packs.
    case percent(Double)

    /// Parses `n/t` or `x%`.
    public init(parsing text: String) throws {
        if text.hasSuffix("%"), let value = Double(text.dropLast()), value > 0, value <= 100 {
            self = .percent(value)
            return
        }
        let parts = text.split(separator: "/")
        if parts.count == 2, let part = Int(parts[0]), let total = Int(parts[1]), total >= 1, (1...total).contains(part) {
            self = .subset(part: part, total: total)
            return
        }
        throw RepositoryError(.invalidArgument, "--read-data-subset '\(text)': expected n/t (e.g. 2/7) or a percentage (e.g. 10%)")
    }

    func includes(_ pack: BlobID) -> Bool {
        switch self {
        case .none: return false
        case .all: return true
        case .subset(let part, let total): return Int(pack.bytes[0]) % total == part - 1
        case .percent(let value): return Double.random(in: 0..<100) < value
        }
    }
}

/// What `check` found.
public struct CheckReport: Sendable {
    /// Every problem, one line each, naming the object and the fix.
    public var errors: [String] = []
    /// Hints that do not make the repository unusable (e.g. packs no index lists).
    public var hints: [String] = []
    /// Snapshot id → paths inside it whose data is damaged or missing.
    public var affectedSnapshots: [BlobID: [String]] = [:]
    public var snapshots = 0
    public var packs = 0
    public var packsRead = 0
    public var blobs = 0
    public var bytesRead: UInt64 = 0

    public var isClean: Bool { errors.isEmpty && affectedSnapshots.isEmpty }
}

/// Verifies a repository's structure and, optionally, its stored data (DESIGN §2).
public enum Checker {
    public static func run(_ repository: Repository, readData: ReadDataSelection,
                           progress: (@Sendable (String) -> Void)? = nil) throws -> CheckReport {
        var report = CheckReport()

        // Snapshots first, then the index, as every reader does.
        let (snapshots, damagedSnapshots) = try repository.snapshots()
        report.snapshots = snapshots.count
        // The reasons already name the object.
        for damaged in damagedSnapshots { report.errors.append(damaged.reason) }
        progress?("loading index")
        try repository.loadIndex()
        for damaged in repository.damagedIndexFiles.withLock({ $0 }) {
            report.errors.append("\(damaged.reason); the data it listed is unreachable until backed up again")
        }

        // Every pack the index names must exist with the right size.
        progress?("checking packs")
        let stored = try repository.storedPacks()
        let packs = repository.index.withLock { $0.packs }
        report.packs = packs.count
        var damagedPacks = Set<BlobID>()
        var indexedKeys = Set<String>()
        for pack in packs {
            let key = packKey(pack.id, type: pack.type)
            indexedKeys.insert(key)
            guard let size = stored[key] else {
                report.errors.append("pack \(pack.id.shortHex) (\(key)): missing from the store; the data in it is lost unless another copy exists")
                damagedPacks.insert(pack.id)
                continue
            }
            if size != pack.size {
                report.errors.append("pack \(pack.id.shortHex) (\(key)): size \(size) bytes, index says \(pack.size) (truncated or overwritten); run 'lifeboat check --read-data'")
                damagedPacks.insert(pack.id)
            }
        }
        for key in stored.keys.sorted() where !indexedKeys.contains(key) {
            report.hints.append("\(key): pack not listed in any index (left by an interrupted backup, or its index file is damaged)")
        }

        // Read the selected packs in full.
        var damagedBlobs = Set<BlobID>()
        if readData != .none {
            let selected = packs.filter { readData.includes($0.id) && !damagedPacks.contains($0.id) }
            let outcome = readPacks(selected, repository: repository, progress: progress)
            report.errors += outcome.errors
            report.packsRead = selected.count
            report.bytesRead = outcome.bytesRead
            damagedPacks.formUnion(outcome.damagedPacks)
            damagedBlobs.formUnion(outcome.damagedBlobs)
        }
        // Blobs of lost packs may have been stored again since (a later backup does that);
        // the index without the lost packs tells which are really gone.
        let lostPacks = damagedPacks
        try repository.forgetLostPacks(stored: stored)
        repository.index.withLock { index in
            report.blobs = index.count
            index.forEach { id, location in
                if lostPacks.contains(location.pack) { damagedBlobs.insert(id) }
            }
        }

        // Walk every snapshot: every tree must load and every blob must be indexed and intact.
        progress?("checking snapshots")
        var reportedTrees = Set<BlobID>()
        var reportedMissing = Set<BlobID>()
        for entry in snapshots {
            var affected: [String] = []
            guard let root = entry.snapshot.treeID else {
                report.errors.append("snapshot \(entry.id.shortHex): tree id is malformed")
                report.affectedSnapshots[entry.id] = ["/"]
                continue
            }
            func checkTree(_ id: BlobID, path: [UInt8]) {
                let tree: Tree
                do {
                    tree = try repository.loadTree(id)
                } catch {
                    if reportedTrees.insert(id).inserted {
                        report.errors.append("tree \(id.shortHex): \(error)")
                    }
                    affected.append(path.isEmpty ? "/" : String(decoding: path, as: UTF8.self))
                    return
                }
                for node in tree.nodes {
                    let childPath = path + [UInt8(ascii: "/")] + node.name
                    if !Restorer.isSafe(node.name) {
                        report.errors.append("tree \(id.shortHex) in snapshot \(entry.id.shortHex): entry with unsafe name '\(node.displayName)' under \(path.isEmpty ? "/" : String(decoding: path, as: UTF8.self)) (restore refuses it)")
                        affected.append(String(decoding: childPath, as: UTF8.self))
                        continue
                    }
                    if let subtree = node.subtree {
                        checkTree(subtree, path: childPath)
                    }
                    for id in node.content {
                        if damagedBlobs.contains(id) {
                            affected.append(String(decoding: childPath, as: UTF8.self))
                            break
                        }
                        if !repository.contains(id) {
                            if reportedMissing.insert(id).inserted {
                                report.errors.append("data blob \(id.shortHex): referenced by \(String(decoding: childPath, as: UTF8.self)) in snapshot \(entry.id.shortHex) but in no index (missing)")
                            }
                            affected.append(String(decoding: childPath, as: UTF8.self))
                            break
                        }
                    }
                }
            }
            checkTree(root, path: [])
            if !affected.isEmpty { report.affectedSnapshots[entry.id] = affected }
        }
        return report
    }

    private struct ReadOutcome: Sendable {
        var errors: [String] = []
        var damagedPacks = Set<BlobID>()
        var damagedBlobs = Set<BlobID>()
        var bytesRead: UInt64 = 0
    }

    /// Reads whole packs: the name must be the SHA-256 of the bytes, the header must match the
    /// index, and every blob must authenticate and hash to its id.
    private static func readPacks(_ packs: [MasterIndex.PackInfo], repository: Repository,
                                  progress: (@Sendable (String) -> Void)?) -> ReadOutcome {
        let outcome = Mutex(ReadOutcome())
        let queue = BoundedQueue<MasterIndex.PackInfo>(capacity: 16)
        let feeder = BackgroundThread(name: "check.feed") {
            for pack in packs { queue.push(pack) }
            queue.close()
        }
        let indexed: [BlobID: [(BlobID, BlobLocation)]] = repository.index.withLock { index in
            var byPack: [BlobID: [(BlobID, BlobLocation)]] = [:]
            index.forEach { id, location in byPack[location.pack, default: []].append((id, location)) }
            return byPack
        }
        let done = Mutex(0)
        runThreads(count: max(2, systemCoreCount()), name: "check") { _ in
            guard let sealer = try? repository.makeSealer() else { return }
            while let pack = queue.pop() {
                let result = check(pack, expected: indexed[pack.id] ?? [], repository: repository, sealer: sealer)
                outcome.withLock { outcome in
                    outcome.errors += result.errors
                    outcome.damagedPacks.formUnion(result.damagedPacks)
                    outcome.damagedBlobs.formUnion(result.damagedBlobs)
                    outcome.bytesRead += result.bytesRead
                }
                let count = done.withLock { $0 += 1; return $0 }
                progress?("read \(count) of \(packs.count) packs")
            }
        }
        feeder.wait()
        return outcome.withLock { $0 }
    }

    private static func check(_ pack: MasterIndex.PackInfo, expected: [(BlobID, BlobLocation)],
                              repository: Repository, sealer: BlobSealer) -> ReadOutcome {
        var outcome = ReadOutcome()
        let key = packKey(pack.id, type: pack.type)
        let bytes: [UInt8]
        do {
            bytes = try repository.store.get(key)
        } catch {
            outcome.errors.append("pack \(pack.id.shortHex) (\(key)): cannot be read: \(error)")
            outcome.damagedPacks.insert(pack.id)
            return outcome
        }
        outcome.bytesRead = UInt64(bytes.count)
        if SHA256.hash(bytes) != pack.id {
            // Only the blobs that fail below are lost; the rest of the pack still restores.
            outcome.errors.append("pack \(pack.id.shortHex) (\(key)): checksum mismatch (stored bytes corrupted)")
        }
        do {
            let header = try PackHeader.blobs(in: bytes, sealer: sealer, what: "pack \(pack.id.shortHex)")
            let headerIDs = Set(header.map(\.id))
            for (id, _) in expected where !headerIDs.contains(id) {
                outcome.errors.append("pack \(pack.id.shortHex): the index lists blob \(id.shortHex) but the pack header does not")
                outcome.damagedBlobs.insert(id)
            }
        } catch {
            outcome.errors.append("\(error)")
        }
        for (id, location) in expected {
            guard location.offset + location.storedLength <= bytes.count else {
                outcome.errors.append("\(location.type) blob \(id.shortHex) in pack \(pack.id.shortHex): lies past the end of the pack")
                outcome.damagedBlobs.insert(id)
                continue
            }
            do {
                let plaintext = try bytes[location.offset..<(location.offset + location.storedLength)].withUnsafeBytes {
                    try sealer.open($0, id: id, type: location.type.rawValue, plaintextLength: location.plaintextLength)
                }
                guard plaintext.withUnsafeBytes({ sealer.id(of: $0) }) == id else {
                    outcome.errors.append("\(location.type) blob \(id.shortHex) in pack \(pack.id.shortHex): content does not hash to its id")
                    outcome.damagedBlobs.insert(id)
                    continue
                }
            } catch {
                outcome.errors.append("\(location.type) blob \(id.shortHex) in pack \(pack.id.shortHex): does not authenticate (stored bytes corrupted)")
                outcome.damagedBlobs.insert(id)
            }
        }
        return outcome
    }
}
