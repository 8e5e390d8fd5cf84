import Glibc
import ObjectStore
import Sealing
import Synchronization
import Testing

@Suite("Replicator")
struct ReplicatorTests {
    @Test("copies every object as it is into an empty region")
    func copiesEverything() throws {
        try withRegionStores(2) { stores in
            let repository = try TestRepository(in: stores[0])
            let summary = try Replicator.copy(from: stores[0], to: stores[1])
            #expect(summary.isComplete)
            #expect(summary.objectsInSource == repository.objects.count)
            #expect(summary.objectsCopied == repository.objects.count)
            #expect(summary.bytesCopied == UInt64(repository.objects.values.reduce(0) { $0 + $1.count }))
            #expect(summary.snapshotsCopied == 2)
            #expect(summary.objectsPresent == 0)
            for (key, bytes) in repository.objects {
                #expect(try stores[1].get(key) == bytes, "\(key)")
            }
            #expect(try Set(stores[1].list(prefix: "").map(\.key)) == Set(repository.objects.keys))
        }
    }

    @Test("the order is config, keys, packs, index, other prefixes, snapshots last")
    func order() throws {
        try withRegionStores(2) { stores in
            _ = try TestRepository(in: stores[0])
            let destination = ScriptedStore(stores[1])
            _ = try Replicator.copy(from: stores[0], to: destination)
            let phases = destination.puts.withLock { $0 }.map(phaseRank)
            #expect(phases == phases.sorted(), "puts in order of phase: \(destination.puts.withLock { $0 })")
            #expect(phases.first == 0)
            #expect(Array(phases.suffix(2)) == [5, 5], "the two snapshots come last")
            #expect(Set(phases) == [0, 1, 2, 3, 4, 5])
        }
    }

    @Test("a second run copies nothing; an object another writer stored counts as present")
    func idempotent() throws {
        try withRegionStores(2) { stores in
            let repository = try TestRepository(in: stores[0])
            _ = try Replicator.copy(from: stores[0], to: stores[1])
            let again = try Replicator.copy(from: stores[0], to: stores[1])
            #expect(again.isComplete)
            #expect(again.objectsCopied == 0)
            #expect(again.bytesCopied == 0)
            #expect(again.objectsPresent == repository.objects.count)

            // Stored by someone else between our listing and our put: alreadyExists, same size.
            let late = pattern(seed: 99, count: 500)
            let key = "data/" + sha(late).prefix(2) + "/" + sha(late)
            try stores[0].put(late, as: key)
            let racing = RacingStore(stores[1], racingKey: key)
            let raced = try Replicator.copy(from: stores[0], to: racing)
            #expect(raced.isComplete)
            #expect(raced.objectsCopied == 0)
            #expect(raced.objectsPresent == repository.objects.count + 1)
        }
    }

    @Test("a run that fails half-way copies no snapshot; the next run copies only what is missing")
    func resumes() throws {
        try withRegionStores(2) { stores in
            let repository = try TestRepository(in: stores[0])
            var script = ScriptedStore.Script()
            script.putsBeforeFailure = 4
            let failing = ScriptedStore(stores[1], script: script)
            let first = try Replicator.copy(from: stores[0], to: failing)
            #expect(!first.isComplete)
            #expect(first.objectsCopied == 4)
            #expect(!first.failures.isEmpty)
            #expect(first.failures.allSatisfy { ($0.error as? ObjectStoreError)?.code == .io })
            #expect(first.snapshotsSkipped == 2)
            #expect(first.snapshotsCopied == 0)
            #expect(try stores[1].list(prefix: "snapshots/").isEmpty, "no snapshot without its objects")

            let second = try Replicator.copy(from: stores[0], to: stores[1])
            #expect(second.isComplete)
            #expect(second.objectsPresent == 4)
            #expect(second.objectsCopied == repository.objects.count - 4)
            #expect(second.snapshotsCopied == 2)
            for (key, bytes) in repository.objects { #expect(try stores[1].get(key) == bytes) }
        }
    }

    @Test("a corrupted source object is caught by its checksum and not copied")
    func checksumVerified() throws {
        try withRegionStores(2) { stores in
            let repository = try TestRepository(in: stores[0])
            let pack = repository.key(under: "data/")
            var script = ScriptedStore.Script()
            script.corruptKeys = [pack]
            let source = ScriptedStore(stores[0], script: script)
            let summary = try Replicator.copy(from: source, to: stores[1])
            #expect(summary.failures.map(\.key) == [pack])
            let error = summary.failures.first?.error as? ObjectStoreError
            #expect(error?.code == .corrupted)
            #expect(error?.message.contains("checksum mismatch") == true)
            #expect(error?.message.contains(pack) == true)
            #expect(try stores[1].size(of: pack) == nil)
            #expect(summary.snapshotsSkipped == 2)
            #expect(try stores[1].list(prefix: "snapshots/").isEmpty)
            #expect(summary.objectsCopied == repository.objects.count - 3)
        }
    }

    @Test("objects outside the content-named prefixes are checked by size only")
    func nonContentNamedObjects() throws {
        try withRegionStores(2) { stores in
            let repository = try TestRepository(in: stores[0])
            // A name that looks like a hash but is not one of its content: fine outside keys/,
            // data/, tree/, index/ and snapshots/.
            let drill = "drills/" + String(repeating: "ab", count: 32)
            try stores[0].put(pattern(seed: 5, count: 300), as: drill)
            let summary = try Replicator.copy(from: stores[0], to: stores[1])
            #expect(summary.isComplete)
            #expect(summary.objectsCopied == repository.objects.count + 1)
            #expect(try stores[1].get(drill) == pattern(seed: 5, count: 300))
        }
    }

    @Test("an object present with another size is a conflict: reported, not overwritten")
    func conflict() throws {
        try withRegionStores(2) { stores in
            let repository = try TestRepository(in: stores[0])
            let index = repository.key(under: "index/")
            try stores[1].put([1, 2, 3], as: index)
            let summary = try Replicator.copy(from: stores[0], to: stores[1])
            #expect(summary.conflicts == [Replicator.Conflict(key: index, sourceSize: repository.objects[index]!.count, destinationSize: 3)])
            #expect(try stores[1].get(index) == [1, 2, 3])
            #expect(!summary.isComplete)
            #expect(summary.snapshotsSkipped == 2)
            #expect(try stores[1].list(prefix: "snapshots/").isEmpty)
        }
    }

    @Test("a destination holding a different repository is refused before anything is copied")
    func differentRepository() throws {
        try withRegionStores(2) { stores in
            _ = try TestRepository(in: stores[0])
            try stores[1].put(Array(#"{"id":"another"}"#.utf8), as: "config")
            let error = #expect(throws: ObjectStoreError.self) { try Replicator.copy(from: stores[0], to: stores[1]) }
            #expect(error?.code == .alreadyExists)
            #expect(error?.message.contains("different repository") == true)
            #expect(try stores[1].list(prefix: "").map(\.key) == ["config"])
        }
    }

    @Test("a source without a repository is refused")
    func sourceWithoutRepository() throws {
        try withRegionStores(2) { stores in
            try stores[0].put([1], as: "data/00/x")
            let error = #expect(throws: ObjectStoreError.self) { try Replicator.copy(from: stores[0], to: stores[1]) }
            #expect(error?.code == .notFound)
            #expect(error?.message.contains("holds no repository") == true)
        }
    }

    @Test("an unreachable destination throws, naming nothing copied")
    func unreachableDestination() throws {
        try withRegionStores(1) { stores in
            _ = try TestRepository(in: stores[0])
            let error = #expect(throws: ObjectStoreError.self) {
                try Replicator.copy(from: stores[0], to: UnreachableStore(location: "s3://down/repo"))
            }
            #expect(error?.code == .unavailable)
        }
    }

    @Test("a snapshot that appears while the rest is listed is left for the next run")
    func snapshotListedFirst() throws {
        try withRegionStores(2) { stores in
            let repository = try TestRepository(in: stores[0])
            var script = ScriptedStore.Script()
            let late = "snapshots/" + String(repeating: "cd", count: 32)
            script.extraInFullListing = [ObjectInfo(key: late, size: 10)]
            let source = ScriptedStore(stores[0], script: script)
            let summary = try Replicator.copy(from: source, to: stores[1])
            #expect(summary.isComplete)
            #expect(summary.objectsInSource == repository.objects.count)
            #expect(try stores[1].size(of: late) == nil)
        }
    }

    @Test("prefixes limit the copy (init copies config and keys only)")
    func prefixes() throws {
        try withRegionStores(2) { stores in
            let repository = try TestRepository(in: stores[0])
            let summary = try Replicator.copy(from: stores[0], to: stores[1], prefixes: ["config", "keys/"])
            #expect(summary.isComplete)
            #expect(summary.objectsCopied == 2)
            #expect(try Set(stores[1].list(prefix: "").map(\.key)) == ["config", repository.key(under: "keys/")])
        }
    }

    @Test("a full destination stops the run after the first failures instead of trying every object")
    func stopsOnStoreWideError() throws {
        try withRegionStores(2) { stores in
            let repository = try TestRepository(in: stores[0], extraPacks: 40)
            var script = ScriptedStore.Script()
            script.putsBeforeFailure = 0
            script.putError = ObjectStoreError(.noSpace, "no space left on device")
            let summary = try Replicator.copy(from: stores[0], to: ScriptedStore(stores[1], script: script))
            #expect(summary.objectsCopied == 0)
            #expect(summary.failures.count >= 1)
            #expect(summary.failures.count <= 2, "two workers at most had an object in hand")
            #expect(summary.snapshotsSkipped == 2)
            #expect(repository.objects.count > 40)
        }
    }

    @Test("cancelling copies no snapshots and says so")
    func cancellation() throws {
        try withRegionStores(2) { stores in
            _ = try TestRepository(in: stores[0], extraPacks: 20)
            let events = Atomic<Int>(0)
            let summary = try Replicator.copy(from: stores[0], to: stores[1], progress: { _ in
                events.add(1, ordering: .relaxed)
            }, isCancelled: { events.load(ordering: .relaxed) >= 3 })
            #expect(summary.cancelled)
            #expect(!summary.isComplete)
            #expect(summary.snapshotsCopied == 0)
            #expect(summary.objectsCopied < 10)
            #expect(try stores[1].list(prefix: "snapshots/").isEmpty)
        }
    }

    @Test("progress reports every missing object with running totals")
    func progress() throws {
        try withRegionStores(2) { stores in
            let repository = try TestRepository(in: stores[0])
            let seen = Mutex<[Replicator.Event]>([])
            _ = try Replicator.copy(from: stores[0], to: stores[1], progress: { event in seen.withLock { $0.append(event) } })
            let events = seen.withLock { $0 }
            #expect(events.count == repository.objects.count)
            #expect(events.allSatisfy { $0.outcome == .copied && $0.objectsToCopy == repository.objects.count })
            #expect(Set(events.map(\.objectsDone)) == Set(1...repository.objects.count))
            let total = UInt64(repository.objects.values.reduce(0) { $0 + $1.count })
            #expect(events.map(\.bytesDone).max() == total)
            #expect(events.allSatisfy { $0.bytesToCopy == total })
        }
    }

    @Test("a memory budget smaller than two objects still copies, one object at a time")
    func memoryBudget() throws {
        try withRegionStores(2) { stores in
            let repository = try TestRepository(in: stores[0])
            let summary = try Replicator.copy(from: stores[0], to: stores[1], memoryBudget: 1)
            #expect(summary.isComplete)
            #expect(summary.objectsCopied == repository.objects.count)
        }
    }
}

// MARK: - Fixtures

private func sha(_ bytes: [UInt8]) -> String { SHA256.hash(bytes).hex }

/// The phase of a key as the replicator orders them.
private func phaseRank(_ key: String) -> Int {
    if key == "config" { return 0 }
    if key.hasPrefix("keys/") { return 1 }
    if key.hasPrefix("data/") || key.hasPrefix("tree/") { return 2 }
    if key.hasPrefix("index/") { return 3 }
    if key.hasPrefix("snapshots/") { return 5 }
    return 4
}

/// Objects shaped like a repository's (docs/FORMAT.md): content-named keys, packs, index
/// files and snapshots, a config, and a WAL segment with a plain name.
struct TestRepository {
    var objects: [String: [UInt8]] = [:]

    init(in store: any ObjectStore, extraPacks: Int = 0) throws {
        objects["config"] = Array(#"{"id":"0123","version":1}"#.utf8)
        add(pattern(seed: 1, count: 400), under: "keys/")
        for seed in 0..<(3 + extraPacks) {
            let pack = pattern(seed: 100 + UInt64(seed), count: 20_000 + seed * 7)
            objects["data/\(sha(pack).prefix(2))/\(sha(pack))"] = pack
        }
        let tree = pattern(seed: 200, count: 3000)
        objects["tree/\(sha(tree).prefix(2))/\(sha(tree))"] = tree
        add(pattern(seed: 300, count: 900), under: "index/")
        objects["wal/7001/00000001/000000010000000000000001"] = pattern(seed: 400, count: 1000)
        add(pattern(seed: 500, count: 250), under: "snapshots/")
        add(pattern(seed: 501, count: 260), under: "snapshots/")
        for (key, bytes) in objects { try store.put(bytes, as: key) }
    }

    private mutating func add(_ bytes: [UInt8], under prefix: String) {
        objects[prefix + sha(bytes)] = bytes
    }

    /// The first key under `prefix`.
    func key(under prefix: String) -> String {
        objects.keys.filter { $0.hasPrefix(prefix) }.sorted()[0]
    }
}

/// A destination where another writer stores `racingKey` just before our put of it.
final class RacingStore: ObjectStore {
    let inner: any ObjectStore
    let racingKey: String
    let source = Mutex<[UInt8]?>(nil)

    init(_ inner: any ObjectStore, racingKey: String) {
        self.inner = inner
        self.racingKey = racingKey
    }

    var location: String { inner.location }

    func put(_ bytes: [UInt8], as key: String) throws {
        if key == racingKey { try inner.put(bytes, as: key) }
        try inner.put(bytes, as: key)
    }

    func get(_ key: String) throws -> [UInt8] { try inner.get(key) }
    func get(_ key: String, range: Range<Int>) throws -> [UInt8] { try inner.get(key, range: range) }
    func size(of key: String) throws -> Int? { try inner.size(of: key) }
    func list(prefix: String) throws -> [ObjectInfo] { try inner.list(prefix: prefix) }
    func delete(_ key: String) throws { try inner.delete(key) }
}
