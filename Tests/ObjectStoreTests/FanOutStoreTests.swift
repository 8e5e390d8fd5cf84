import Glibc
import ObjectStore
import Synchronization
import Testing

@Suite("FanOutStore")
struct FanOutStoreTests {
    @Test("put stores in the primary and every mirror; reads come from the primary")
    func putReachesEveryStore() throws {
        try withRegionStores(3) { stores in
            let fanOut = FanOutStore(primary: stores[0], mirrors: [
                .init(name: "b", store: stores[1]), .init(name: "c", store: stores[2]),
            ])
            let bytes = pattern(seed: 7, count: 70_000)
            try fanOut.put(bytes, as: "data/ab/abc")
            for store in stores {
                #expect(try store.get("data/ab/abc") == bytes)
            }
            // A mirror's different object under another key is invisible: reads use the primary.
            try stores[1].put([1, 2, 3], as: "index/only-in-b")
            #expect(try fanOut.size(of: "index/only-in-b") == nil)
            #expect(try fanOut.list(prefix: "").map(\.key) == ["data/ab/abc"])
            #expect(try fanOut.get("data/ab/abc", range: 5..<9) == Array(bytes[5..<9]))
            #expect(fanOut.location == stores[0].location)
            #expect(fanOut.mirrorStatuses.map(\.name) == ["b", "c"])
            #expect(fanOut.mirrorStatuses.allSatisfy { $0.isHealthy })
        }
    }

    @Test("snapshots are written to the primary only")
    func snapshotsStayInPrimary() throws {
        try withRegionStores(2) { stores in
            let fanOut = FanOutStore(primary: stores[0], mirrors: [.init(name: "b", store: stores[1])])
            try fanOut.put([9, 9, 9], as: "snapshots/0123")
            try fanOut.put([1], as: "index/0123")
            #expect(try stores[0].get("snapshots/0123") == [9, 9, 9])
            #expect(try stores[1].size(of: "snapshots/0123") == nil)
            #expect(try stores[1].get("index/0123") == [1])
        }
    }

    @Test("an unreachable mirror is marked failed with its first error, skipped afterwards, and never fails a put")
    func unreachableMirror() throws {
        try withRegionStores(2) { stores in
            let down = UnreachableStore(location: "s3://far/repo")
            let fanOut = FanOutStore(primary: stores[0], mirrors: [
                .init(name: "down", store: down), .init(name: "b", store: stores[1]),
            ])
            for number in 0..<5 {
                try fanOut.put(pattern(seed: UInt64(number), count: 100), as: "data/00/\(number)")
            }
            #expect(down.calls.load(ordering: .relaxed) == 1, "a failed mirror is not tried again")
            let statuses = fanOut.mirrorStatuses
            #expect(statuses.map(\.isHealthy) == [false, true])
            let error = statuses[0].error as? ObjectStoreError
            #expect(error?.code == .unavailable)
            #expect(error?.message.contains("data/00/0") == true, "the first error is kept")
            #expect(statuses[0].location == "s3://far/repo")
            #expect(fanOut.healthyMirrors.map(\.name) == ["b"])
            #expect(try stores[0].list(prefix: "data/").count == 5)
            #expect(try stores[1].list(prefix: "data/").count == 5)
        }
    }

    @Test("the primary's error is the call's error; a mirror's alreadyExists is not a failure")
    func primaryErrorAndDuplicates() throws {
        try withRegionStores(2) { stores in
            let fanOut = FanOutStore(primary: stores[0], mirrors: [.init(name: "b", store: stores[1])])
            try stores[1].put([5, 5], as: "tree/aa/one")
            try fanOut.put([5, 5], as: "tree/aa/one")
            #expect(fanOut.mirrorStatuses[0].isHealthy)

            let duplicate = #expect(throws: ObjectStoreError.self) { try fanOut.put([6], as: "tree/aa/one") }
            #expect(duplicate?.code == .alreadyExists)
            #expect(try stores[0].get("tree/aa/one") == [5, 5])

            let failing = FanOutStore(primary: UnreachableStore(location: "down"), mirrors: [.init(name: "b", store: stores[1])])
            let error = #expect(throws: ObjectStoreError.self) { try failing.put([7], as: "data/00/seven") }
            #expect(error?.code == .unavailable)
            #expect(try stores[1].get("data/00/seven") == [7], "mirrors are written even when the primary fails")
        }
    }

    @Test("delete goes to the primary and every healthy mirror")
    func deleteEverywhere() throws {
        try withRegionStores(3) { stores in
            let fanOut = FanOutStore(primary: stores[0], mirrors: [
                .init(name: "b", store: stores[1]), .init(name: "c", store: stores[2]),
            ])
            try fanOut.put([1, 2], as: "data/00/x")
            try fanOut.delete("data/00/x")
            for store in stores { #expect(try store.size(of: "data/00/x") == nil) }
        }
    }

    @Test("concurrent puts from many threads all reach every store")
    func concurrentPuts() throws {
        try withRegionStores(3) { stores in
            let fanOut = FanOutStore(primary: stores[0], mirrors: [
                .init(name: "b", store: stores[1]), .init(name: "c", store: stores[2]),
            ])
            let results = onThreads(8) { thread in
                for number in 0..<10 {
                    try fanOut.put(pattern(seed: UInt64(thread * 100 + number), count: 4096), as: "data/\(thread)/\(number)")
                }
            }
            for result in results { try result.get() }
            for store in stores {
                let listed = try store.list(prefix: "data/")
                #expect(listed.count == 80)
                #expect(listed.allSatisfy { $0.size == 4096 })
            }
            #expect(try stores[2].get("data/3/4") == pattern(seed: 304, count: 4096))
        }
    }

    @Test("transferConcurrency is the primary's")
    func concurrencyIsPrimarys() throws {
        let fanOut = FanOutStore(primary: UnreachableStore(location: "a", transferConcurrency: 8),
                                 mirrors: [.init(name: "b", store: UnreachableStore(location: "b"))])
        #expect(fanOut.transferConcurrency == 8)
    }
}

// MARK: - Test stores

/// Runs `body` with `count` empty local stores in one temporary directory.
func withRegionStores<R>(_ count: Int, _ body: ([LocalDirectoryStore]) throws -> R) throws -> R {
    try withTemporaryDirectory { base in
        let stores = try (0..<count).map { try LocalDirectoryStore.create(at: base + "/region-\($0)") }
        return try body(stores)
    }
}

/// A store in a region that cannot be reached: every call throws `.unavailable`.
final class UnreachableStore: ObjectStore {
    let location: String
    let transferConcurrency: Int
    let calls = Atomic<Int>(0)

    init(location: String, transferConcurrency: Int = 1) {
        self.location = location
        self.transferConcurrency = transferConcurrency
    }

    private func fail(_ key: String) -> ObjectStoreError {
        calls.add(1, ordering: .relaxed)
        return ObjectStoreError(.unavailable, "\(location): connection refused (\(key))")
    }

    func put(_ bytes: [UInt8], as key: String) throws { throw fail(key) }
    func get(_ key: String) throws -> [UInt8] { throw fail(key) }
    func get(_ key: String, range: Range<Int>) throws -> [UInt8] { throw fail(key) }
    func size(of key: String) throws -> Int? { throw fail(key) }
    func list(prefix: String) throws -> [ObjectInfo] { throw fail(prefix) }
    func delete(_ key: String) throws { throw fail(key) }
}

/// Wraps a store: records the keys put (in order), can fail puts, corrupt reads and add
/// objects to listings, to simulate regions that fail half-way and sources that change.
final class ScriptedStore: ObjectStore {
    struct Script: Sendable {
        /// Puts succeed this many times, then throw `putError`.
        var putsBeforeFailure = Int.max
        var putError = ObjectStoreError(.io, "disk on fire")
        /// Keys whose bytes come back with one byte flipped.
        var corruptKeys: Set<String> = []
        /// Extra objects reported by `list(prefix: "")` only (written "during" the listing).
        var extraInFullListing: [ObjectInfo] = []
    }

    let inner: any ObjectStore
    let script: Mutex<Script>
    let puts = Mutex<[String]>([])
    let transferConcurrency: Int

    init(_ inner: any ObjectStore, script: Script = Script(), transferConcurrency: Int = 1) {
        self.inner = inner
        self.script = Mutex(script)
        self.transferConcurrency = transferConcurrency
    }

    var location: String { inner.location }

    func put(_ bytes: [UInt8], as key: String) throws {
        let error: ObjectStoreError? = script.withLock { script in
            if script.putsBeforeFailure == 0 { return script.putError }
            if script.putsBeforeFailure != Int.max { script.putsBeforeFailure -= 1 }
            return nil
        }
        if let error { throw error }
        try inner.put(bytes, as: key)
        puts.withLock { $0.append(key) }
    }

    func get(_ key: String) throws -> [UInt8] {
        var bytes = try inner.get(key)
        if script.withLock({ $0.corruptKeys.contains(key) }), !bytes.isEmpty { bytes[bytes.count / 2] ^= 0x40 }
        return bytes
    }

    func get(_ key: String, range: Range<Int>) throws -> [UInt8] { try inner.get(key, range: range) }
    func size(of key: String) throws -> Int? { try inner.size(of: key) }

    func list(prefix: String) throws -> [ObjectInfo] {
        let listed = try inner.list(prefix: prefix)
        return prefix.isEmpty ? listed + script.withLock { $0.extraInFullListing } : listed
    }

    func delete(_ key: String) throws { try inner.delete(key) }
}
