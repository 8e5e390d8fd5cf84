import Glibc
import Synchronization
import Testing
import ObjectStore

@Suite("LocalDirectoryStore")
struct LocalDirectoryStoreTests {
    // MARK: - Creating

    @Test("create makes the directory and missing parents with mode 0700")
    func createMakesDirectories() throws {
        try withTemporaryDirectory { base in
            let root = base + "/a/b/repo"
            let store = try LocalDirectoryStore.create(at: root + "/")
            #expect(store.location == root)
            #expect(permissions(of: base + "/a") == 0o700)
            #expect(permissions(of: root) == 0o700)
            #expect(directoryEntries(root) == [])
        }
    }

    @Test("create accepts an existing empty directory and refuses a non-empty one or a file")
    func createRefusesNonEmpty() throws {
        try withTemporaryDirectory { base in
            _ = try LocalDirectoryStore.create(at: base)

            try writeFile(base + "/something", [1])
            let nonEmpty = #expect(throws: ObjectStoreError.self) { try LocalDirectoryStore.create(at: base) }
            #expect(nonEmpty?.code == .alreadyExists)
            #expect(nonEmpty?.message.contains("not empty") == true)
            #expect(nonEmpty?.message.contains(base) == true)

            let notDirectory = #expect(throws: ObjectStoreError.self) {
                try LocalDirectoryStore.create(at: base + "/something")
            }
            #expect(notDirectory?.code == .alreadyExists)
            #expect(notDirectory?.message.contains("not a directory") == true)
        }
    }

    // MARK: - Round trip

    @Test("put then get returns the same bytes", arguments: [0, 1, 4095, 4096, 65_537, 16 << 20 | 3])
    func roundTrip(size: Int) throws {
        try withTemporaryDirectory { root in
            let store = try LocalDirectoryStore(path: root)
            let bytes = pattern(seed: UInt64(size), count: size)
            let key = "data/ab/ab\(size)"
            try store.put(bytes, as: key)

            #expect(try store.get(key) == bytes)
            #expect(try store.size(of: key) == size)
            #expect(permissions(of: root + "/" + key) == 0o400)
            #expect(permissions(of: root + "/data/ab") == 0o700)
            #expect(directoryEntries(root + "/tmp") == [])
        }
    }

    @Test("a second put of a key fails with alreadyExists and leaves the object unchanged")
    func createOnly() throws {
        try withTemporaryDirectory { root in
            let store = try LocalDirectoryStore(path: root)
            let first = pattern(seed: 1, count: 1000)
            try store.put(first, as: "snapshots/one")

            let error = #expect(throws: ObjectStoreError.self) {
                try store.put(pattern(seed: 2, count: 3000), as: "snapshots/one")
            }
            #expect(error?.code == .alreadyExists)
            #expect(error?.message.contains("snapshots/one") == true)
            #expect(try store.get("snapshots/one") == first)
            #expect(try store.size(of: "snapshots/one") == 1000)
            #expect(directoryEntries(root + "/tmp") == [], "the losing temporary file is removed")
        }
    }

    @Test("a missing object is notFound, naming the key and the repository")
    func missingObject() throws {
        try withTemporaryDirectory { root in
            let store = try LocalDirectoryStore(path: root)
            let error = #expect(throws: ObjectStoreError.self) { try store.get("keys/nope") }
            #expect(error?.code == .notFound)
            #expect(error?.message.contains("keys/nope") == true)
            #expect(error?.message.contains(root) == true)
            #expect(try store.size(of: "keys/nope") == nil)
            #expect(try store.size(of: "config") == nil)
        }
    }

    @Test("a directory at an object's path is not an object")
    func directoryIsNotAnObject() throws {
        try withTemporaryDirectory { root in
            let store = try LocalDirectoryStore(path: root)
            try store.put([1, 2, 3], as: "data/ab/abc")
            #expect(try store.size(of: "data/ab") == nil)
            let error = #expect(throws: ObjectStoreError.self) { try store.get("data/ab") }
            #expect(error?.code == .notFound)
        }
    }

    // MARK: - Ranges

    @Test("ranged reads: inside, up to the end, empty, and beyond the end")
    func ranges() throws {
        try withTemporaryDirectory { root in
            let store = try LocalDirectoryStore(path: root)
            let bytes = pattern(seed: 7, count: 10_000)
            try store.put(bytes, as: "data/00/pack")

            #expect(try store.get("data/00/pack", range: 100..<200) == Array(bytes[100..<200]))
            #expect(try store.get("data/00/pack", range: 0..<10_000) == bytes)
            #expect(try store.get("data/00/pack", range: 9_990..<10_000) == Array(bytes[9_990...]))
            #expect(try store.get("data/00/pack", range: 10_000..<10_000) == [])
            #expect(try store.get("data/00/pack", range: 5..<5) == [])

            let beyond = #expect(throws: ObjectStoreError.self) {
                try store.get("data/00/pack", range: 9_990..<10_001)
            }
            #expect(beyond?.code == .shortRead)
            #expect(beyond?.message.contains("data/00/pack") == true)
            #expect(beyond?.message.contains("10000 bytes") == true)

            let past = #expect(throws: ObjectStoreError.self) {
                try store.get("data/00/pack", range: 20_000..<20_010)
            }
            #expect(past?.code == .shortRead)

            let missing = #expect(throws: ObjectStoreError.self) {
                try store.get("data/00/other", range: 0..<1)
            }
            #expect(missing?.code == .notFound)
        }
    }

    // MARK: - Listing

    @Test("list walks only the matching subtree, matches partial names, and skips tmp/")
    func listing() throws {
        try withTemporaryDirectory { root in
            let store = try LocalDirectoryStore(path: root)
            let objects: [String: Int] = [
                "config": 10, "keys/k1": 20, "index/i1": 30,
                "data/ab/ab01": 40, "data/ab/ab02": 50, "data/ab9/x": 60, "data/ac/ac01": 70,
                "snapshots/s1": 80, "a/b/c/d/e": 90, "tmpx/y": 5,
            ]
            for (key, size) in objects { try store.put(pattern(seed: UInt64(size), count: size), as: key) }
            // Leftovers of an interrupted writer: never objects.
            try writeFile(root + "/tmp/123-1-abc.tmp", [1, 2, 3])
            #expect(mkdir(root + "/tmp/sub", 0o700) == 0)
            try writeFile(root + "/tmp/sub/file", [1])

            func listed(_ prefix: String) throws -> [String: Int] {
                let infos = try store.list(prefix: prefix)
                let unique = Dictionary(infos.map { ($0.key, $0.size) }, uniquingKeysWith: { first, _ in first })
                #expect(unique.count == infos.count, "no key listed twice for prefix '\(prefix)'")
                return unique
            }
            func expected(_ prefix: String) -> [String: Int] { objects.filter { $0.key.hasPrefix(prefix) } }

            #expect(try listed("") == objects)
            for prefix in ["data/", "data/ab", "data/ab/", "data/ab/ab0", "data/ac/ac01", "snap", "snapshots/",
                           "a/b/", "a/b/c/d/e", "config", "c", "t", "tmpx/", "keys/k", "nothing/", "data/zz/", "x"] {
                #expect(try listed(prefix) == expected(prefix), "prefix '\(prefix)'")
            }
            #expect(try listed("data/ab").count == 3)
            #expect(try listed("tmp/").isEmpty)
            #expect(try listed("tmp") == ["tmpx/y": 5], "'tmp' matches tmpx/ but never the tmp/ directory")
            #expect(try listed("config/").isEmpty, "a prefix through a file lists nothing")
        }
    }

    @Test("invalid list prefixes are refused", arguments: ["../", "/data/", "data//", "a/../b/", "x\0y"].map(Printable.init))
    func invalidPrefix(prefix: Printable) throws {
        try withTemporaryDirectory { root in
            let store = try LocalDirectoryStore(path: root)
            let error = #expect(throws: ObjectStoreError.self) { try store.list(prefix: prefix.value) }
            #expect(error?.code == .io)
        }
    }

    // MARK: - Deleting

    @Test("delete removes the object, is idempotent, and allows a later put")
    func deleting() throws {
        try withTemporaryDirectory { root in
            let store = try LocalDirectoryStore(path: root)
            try store.put([1, 2, 3], as: "data/ab/abc")
            try store.delete("data/ab/abc")
            #expect(try store.size(of: "data/ab/abc") == nil)
            #expect(throws: ObjectStoreError.self) { try store.get("data/ab/abc") }
            #expect(try store.list(prefix: "data/").isEmpty)

            try store.delete("data/ab/abc")
            try store.delete("data/zz/never-existed")
            try store.delete("config")

            try store.put([4, 5], as: "data/ab/abc")
            #expect(try store.get("data/ab/abc") == [4, 5])
        }
    }

    // MARK: - Keys

    @Test("bad keys are refused with a message naming the key",
          arguments: ["", "/abs", "a//b", "a/", "../x", "a/../b", "a/./b", ".", "..", "data/..", "a\0b",
                      "tmp", "tmp/x"].map(Printable.init))
    func badKeys(argument: Printable) throws {
        let key = argument.value
        try withTemporaryDirectory { base in
            let root = base + "/repo"
            let store = try LocalDirectoryStore.create(at: root)
            let operations: [(String, () throws -> Void)] = [
                ("put", { try store.put([1], as: key) }),
                ("get", { _ = try store.get(key) }),
                ("get range", { _ = try store.get(key, range: 0..<1) }),
                ("size", { _ = try store.size(of: key) }),
                ("delete", { try store.delete(key) }),
            ]
            for (name, operation) in operations {
                let error = #expect(throws: ObjectStoreError.self, "\(name)") { try operation() }
                #expect(error?.code == .io, "\(name)")
                #expect(error?.message.contains("invalid object key '\(key)'") == true, "\(name)")
            }
            #expect(directoryEntries(base) == ["repo"], "nothing written beside the repository")
            #expect(directoryEntries(root) == [], "nothing written inside it")
        }
    }

    @Test("unusual but valid keys work", arguments: ["...", "a..b", ".hidden", "tmpx/y", "data/tmp", "x/.y/z"])
    func unusualKeys(key: String) throws {
        try withTemporaryDirectory { root in
            let store = try LocalDirectoryStore(path: root)
            try store.put([9, 8, 7], as: key)
            #expect(try store.get(key) == [9, 8, 7])
            #expect(try store.list(prefix: "").map(\.key) == [key])
        }
    }

    // MARK: - Missing or unusable root

    @Test("operations on a repository that does not exist report notFound and create nothing")
    func missingRoot() throws {
        try withTemporaryDirectory { base in
            let root = base + "/absent"
            let store = try LocalDirectoryStore(path: root)
            let operations: [(String, () throws -> Void)] = [
                ("put", { try store.put([1], as: "config") }),
                ("get", { _ = try store.get("config") }),
                ("size", { _ = try store.size(of: "config") }),
                ("list", { _ = try store.list(prefix: "snapshots/") }),
                ("delete", { try store.delete("keys/x") }),
            ]
            for (name, operation) in operations {
                let error = #expect(throws: ObjectStoreError.self, "\(name)") { try operation() }
                #expect(error?.code == .notFound, "\(name)")
                #expect(error?.message.contains("repository \(root) does not exist") == true, "\(name)")
            }
            #expect(directoryEntries(base) == [], "put must not create the repository")
        }
    }

    @Test("a repository path through a regular file (ENOTDIR) reports notFound")
    func rootBelowAFile() throws {
        try withTemporaryDirectory { base in
            try writeFile(base + "/file", [0])
            let store = try LocalDirectoryStore(path: base + "/file/repo")
            let put = #expect(throws: ObjectStoreError.self) { try store.put([1], as: "data/ab/abc") }
            #expect(put?.code == .notFound)
            #expect(put?.message.contains("not a directory") == true || put?.message.contains("does not exist") == true)
            let list = #expect(throws: ObjectStoreError.self) { try store.list(prefix: "") }
            #expect(list?.code == .notFound)
            let create = #expect(throws: ObjectStoreError.self) {
                try LocalDirectoryStore.create(at: base + "/file/repo")
            }
            #expect(create?.code == .io)
        }
    }

    @Test("an object key through an existing object is refused, not overwritten")
    func keyThroughAFile() throws {
        try withTemporaryDirectory { root in
            let store = try LocalDirectoryStore(path: root)
            try store.put([1], as: "config")
            let error = #expect(throws: ObjectStoreError.self) { try store.put([2], as: "config/inner") }
            #expect(error?.code == .io)
            #expect(try store.get("config") == [1])
            #expect(directoryEntries(root + "/tmp") == [])
        }
    }

    // MARK: - Refused writes

    /// As root, mode bits refuse nothing (root bypasses them), so a read-only mount stands in for
    /// a directory the user may not write. As any other user, `chmod 0500` does.
    @Test("a repository that refuses writes reports permissionDenied; reads still work")
    func refusedWrites() throws {
        if getuid() == 0 {
            try withTmpfs(size: "1m") { mountPoint in
                let store = try LocalDirectoryStore.create(at: mountPoint + "/repo")
                try store.put([1, 2, 3], as: "data/ab/abc")
                try remountReadOnly(mountPoint)
                try checkRefusedWrites(store)
            }
        } else {
            try withTemporaryDirectory { base in
                let store = try LocalDirectoryStore.create(at: base + "/repo")
                try store.put([1, 2, 3], as: "data/ab/abc")
                for directory in ["/repo/data/ab", "/repo/data", "/repo/tmp", "/repo"] {
                    #expect(chmod(base + directory, 0o500) == 0)
                }
                try checkRefusedWrites(store)
            }
        }
    }

    private func checkRefusedWrites(_ store: LocalDirectoryStore) throws {
        let put = #expect(throws: ObjectStoreError.self) { try store.put([4], as: "data/ab/new") }
        #expect(put?.code == .permissionDenied)
        #expect(put?.message.contains(store.location) == true)
        let delete = #expect(throws: ObjectStoreError.self) { try store.delete("data/ab/abc") }
        #expect(delete?.code == .permissionDenied)
        #expect(try store.get("data/ab/abc") == [1, 2, 3])
        #expect(try store.list(prefix: "").map(\.key) == ["data/ab/abc"])
    }

    // MARK: - Full disk

    @Test("a full file system reports noSpace, removes the temporary file, and keeps earlier objects")
    func fullDisk() throws {
        try withTmpfs(size: "1m") { mountPoint in
            let root = mountPoint + "/repo"
            let store = try LocalDirectoryStore.create(at: root)
            var saved: [String: [UInt8]] = [:]
            for index in 0..<8 {
                let bytes = pattern(seed: UInt64(100 + index), count: 64 << 10)
                try store.put(bytes, as: "data/0\(index)/pack\(index)")
                saved["data/0\(index)/pack\(index)"] = bytes
            }

            let error = #expect(throws: ObjectStoreError.self) {
                try store.put(pattern(seed: 999, count: 1 << 20), as: "data/ff/too-big")
            }
            #expect(error?.code == .noSpace)
            #expect(error?.message.contains(root) == true)
            #expect(error?.message.contains("free space") == true)

            #expect(directoryEntries(root + "/tmp") == [], "the partial temporary file is removed")
            #expect(try store.size(of: "data/ff/too-big") == nil)
            for (key, bytes) in saved { #expect(try store.get(key) == bytes, "\(key)") }

            try store.put([1, 2, 3], as: "snapshots/after")
            #expect(try store.get("snapshots/after") == [1, 2, 3], "the store still works once space is back")
        }
    }

    // MARK: - Concurrency

    @Test("8 threads put 200 objects each while racing for shared keys: one winner per key")
    func concurrentPuts() throws {
        try withTemporaryDirectory { root in
            let store = try LocalDirectoryStore(path: root)
            let threads = 8, perThread = 200, racedKeys = 50

            let outcomes = onThreads(threads) { thread -> [Int] in
                var won: [Int] = []
                for index in 0..<perThread {
                    let bucket = String((thread &* 31 &+ index) % 16, radix: 16)
                    try store.put(pattern(seed: UInt64(thread << 16 | index), count: (index * 97) % 5000),
                                  as: "data/\(bucket)0/t\(thread)-\(index)")
                    if index % 4 == 0 {
                        let race = index / 4
                        do {
                            try store.put(pattern(seed: UInt64(1 << 32 | thread << 16 | race), count: 3000 + thread),
                                          as: "snapshots/race-\(race)")
                            won.append(race)
                        } catch let error as ObjectStoreError where error.code == .alreadyExists {
                            continue
                        }
                    }
                }
                return won
            }

            var winners: [Int: Int] = [:]
            for (thread, outcome) in outcomes.enumerated() {
                switch outcome {
                case .success(let won): for race in won { winners[race, default: 0] += 1 }
                case .failure(let error): Issue.record("thread \(thread) failed: \(error)")
                }
            }
            #expect(winners.count == racedKeys && winners.values.allSatisfy { $0 == 1 },
                    "exactly one winner for each raced key")

            for race in 0..<racedKeys {
                let bytes = try store.get("snapshots/race-\(race)")
                let thread = bytes.count - 3000
                #expect((0..<threads).contains(thread))
                #expect(bytes == pattern(seed: UInt64(1 << 32 | thread << 16 | race), count: 3000 + thread),
                        "race-\(race) holds one writer's whole content")
            }
            let listed = try store.list(prefix: "data/")
            #expect(listed.count == threads * perThread)
            for thread in 0..<threads {
                for index in 0..<perThread {
                    let bucket = String((thread &* 31 &+ index) % 16, radix: 16)
                    let bytes = try store.get("data/\(bucket)0/t\(thread)-\(index)")
                    #expect(bytes == pattern(seed: UInt64(thread << 16 | index), count: (index * 97) % 5000))
                }
            }
            #expect(directoryEntries(root + "/tmp") == [])
        }
    }

    @Test("temporary names are unique under concurrency (no write lands in another's file)")
    func concurrentSameDirectory() throws {
        try withTemporaryDirectory { root in
            let store = try LocalDirectoryStore(path: root)
            let outcomes = onThreads(8) { thread in
                for index in 0..<100 {
                    try store.put(pattern(seed: UInt64(thread * 1000 + index), count: 8192), as: "index/\(thread)-\(index)")
                }
            }
            for outcome in outcomes { #expect(throws: Never.self) { try outcome.get() } }
            for thread in 0..<8 {
                for index in 0..<100 {
                    #expect(try store.get("index/\(thread)-\(index)") == pattern(seed: UInt64(thread * 1000 + index), count: 8192))
                }
            }
        }
    }
}

/// A string argument shown with NUL bytes escaped, so test names stay printable in logs.
struct Printable: Sendable, CustomTestStringConvertible {
    var value: String
    var testDescription: String { "\"" + value.replacing("\0", with: "\\0") + "\"" }
}
