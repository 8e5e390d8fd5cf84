import Glibc
import ObjectStore
@testable import Repository
import Sealing
import Testing

@Suite("Repository")
struct RepositoryTests {
    @Test("open needs the right password; a missing repository is named")
    func openAndPasswords() throws {
        try withTemporaryDirectory { directory in
            let created = try makeRepository(at: directory + "/repo", password: "right")
            let store = try LocalDirectoryStore(path: directory + "/repo")
            let opened = try Repository.open(store: store, password: Array("right".utf8))
            #expect(opened.masterKey == created.masterKey)
            #expect(opened.config == created.config)
            #expect(throws: RepositoryError(.wrongPassword, "")) { try Repository.open(store: store, password: Array("wrong".utf8)) }
            let empty = try LocalDirectoryStore.create(at: directory + "/empty")
            #expect(throws: RepositoryError(.noRepository, "")) { try Repository.open(store: empty, password: [1]) }
            #expect(throws: RepositoryError(.alreadyExists, "")) {
                try Repository.initialize(store: store, password: [1])
            }
        }
    }

    @Test("keys: add, change and remove passwords without touching data")
    func keys() throws {
        try withTemporaryDirectory { directory in
            let repository = try makeRepository(at: directory + "/repo", password: "one")
            let store = repository.store
            let second = try repository.addKey(password: Array("two".utf8))
            #expect(try repository.keys().count == 2)
            let viaTwo = try Repository.open(store: store, password: Array("two".utf8))
            #expect(viaTwo.keyID == second)
            #expect(viaTwo.masterKey == repository.masterKey)
            #expect(throws: RepositoryError(.io, "")) { try viaTwo.removeKey(second) }
            // A password change: the new key first, then the old one goes (what 'key passwd' does).
            let third = try viaTwo.addKey(password: Array("three".utf8))
            try store.delete("keys/\(second)")
            #expect(throws: RepositoryError(.wrongPassword, "")) { try Repository.open(store: store, password: Array("two".utf8)) }
            #expect(try Repository.open(store: store, password: Array("three".utf8)).keyID == third)
            try repository.removeKey(third)
            #expect(try repository.keys().map(\.id) == [repository.keyID])
        }
    }

    @Test("a pack's header reads back, and any flipped byte in it is detected")
    func packHeader() throws {
        try withTemporaryDirectory { directory in
            let repository = try makeRepository(at: directory + "/repo")
            let sealer = try repository.makeSealer()
            var builder = PackBuilder(type: .data, capacity: 1 << 20)
            var ids: [BlobID] = []
            for seed in 1...5 {
                let bytes = pseudoRandomBytes(count: 1000 * seed, seed: UInt64(seed))
                let id = bytes.withUnsafeBytes { sealer.id(of: $0) }
                ids.append(id)
                try bytes.withUnsafeBytes { try builder.add($0, id: id, sealer: sealer) }
            }
            let pack = try builder.finish(sealer: sealer)
            #expect(pack.id == SHA256.hash(pack.bytes))
            let header = try PackHeader.blobs(in: pack.bytes, sealer: sealer, what: "pack")
            #expect(header == pack.blobs)
            #expect(header.map(\.id) == ids)
            let headerStart = pack.blobs.last!.offset + pack.blobs.last!.storedLength
            for position in stride(from: headerStart, to: pack.bytes.count, by: 7) {
                var damaged = pack.bytes
                damaged[position] ^= 0x10
                #expect(throws: RepositoryError(.corrupted, "")) { try PackHeader.blobs(in: damaged, sealer: sealer, what: "pack") }
            }
        }
    }

    @Test("editing the middle of a 100 MB file stores only a few new chunks")
    func editStoresFewChunks() throws {
        try withTemporaryDirectory { directory in
            let repository = try makeRepository(at: directory + "/repo")
            let source = directory + "/source"
            mkdir(source, 0o755)
            var bytes = pseudoRandomBytes(count: 100_000_000, seed: 42)
            writeFile(source + "/big", bytes)
            var options = BackupOptions(source: .paths([source]))
            let first = try Backup.run(repository, options: options)
            #expect(first.summary.dataBlobs >= 60 && first.summary.dataBlobs <= 110)
            for index in 50_000_000..<50_000_100 { bytes[index] ^= 0xa5 }
            writeFile(source + "/big", bytes)
            options.parent = .snapshot(first.snapshotID.hex)
            let second = try Backup.run(repository, options: options)
            #expect(second.summary.filesChanged == 1)
            #expect(second.summary.dataBlobs >= 1 && second.summary.dataBlobs <= 3,
                    "an edit of 100 bytes stored \(second.summary.dataBlobs) new chunks")
            #expect(second.summary.dataAdded < 20_000_000)
        }
    }

    @Test("backup and restore through the API give back the same bytes and metadata")
    func backupRestore() throws {
        try withTemporaryDirectory { directory in
            let repository = try makeRepository(at: directory + "/repo")
            let source = directory + "/source"
            mkdir(source, 0o755)
            mkdir(source + "/sub", 0o700)
            mkdir(source + "/empty", 0o755)
            writeFile(source + "/sub/a", pseudoRandomBytes(count: 3 << 20, seed: 1))
            writeFile(source + "/b", Array(repeating: 7, count: 10_000))
            writeFile(source + "/zero", [])
            symlink("sub/a", source + "/link")
            chmod(source + "/b", 0o640)
            var times = [timespec(tv_sec: 1_000_000_000, tv_nsec: 5), timespec(tv_sec: 1_000_000_001, tv_nsec: 123_456_789)]
            utimensat(AT_FDCWD, source + "/b", &times, 0)
            let result = try Backup.run(repository, options: BackupOptions(source: .paths([source])))
            #expect(result.summary.filesNew == 3)
            #expect(!result.hadUnreadableData)

            let reopened = try Repository.open(store: repository.store, password: Array("test password".utf8))
            try reopened.loadIndex()
            let snapshot = try reopened.findSnapshot("latest", in: reopened.snapshots().snapshots)
            var options = RestoreOptions(target: directory + "/restore")
            options.verify = true
            let restored = try Restorer.run(reopened, snapshot: snapshot, options: options)
            #expect(restored.errors.isEmpty)
            #expect(restored.files == 3)
            #expect(restored.filesVerified == 3)
            let target = directory + "/restore" + source
            #expect(readFile(target + "/sub/a") == pseudoRandomBytes(count: 3 << 20, seed: 1))
            #expect(readFile(target + "/b") == Array(repeating: 7, count: 10_000))
            #expect(readFile(target + "/zero") == [])
            var info = stat()
            #expect(lstat(target + "/b", &info) == 0)
            #expect(info.st_mode & 0o7777 == 0o640)
            #expect(info.st_mtim.tv_sec == 1_000_000_001 && info.st_mtim.tv_nsec == 123_456_789)
            #expect(lstat(target + "/sub", &info) == 0 && info.st_mode & 0o7777 == 0o700)
            #expect(lstat(target + "/empty", &info) == 0 && info.st_mode & S_IFMT == S_IFDIR)
            var buffer = [CChar](repeating: 0, count: 64)
            let length = readlink(target + "/link", &buffer, 64)
            #expect(String(decoding: buffer[0..<max(0, length)].map { UInt8(bitPattern: $0) }, as: UTF8.self) == "sub/a")

            let report = try Checker.run(reopened, readData: .all)
            #expect(report.isClean, "\(report.errors)")
            #expect(report.packsRead == report.packs)
        }
    }

    @Test("a failing source command writes no snapshot")
    func failingCommand() throws {
        try withTemporaryDirectory { directory in
            let repository = try makeRepository(at: directory + "/repo")
            let options = BackupOptions(source: .command(["sh", "-c", "echo partial; exit 3"], filename: "dump.sql"))
            #expect(throws: RepositoryError(.sourceFailed, "")) { try Backup.run(repository, options: options) }
            #expect(try repository.snapshots().snapshots.isEmpty)
            let good = BackupOptions(source: .command(["printf", "hello"], filename: "dump.sql"))
            let result = try Backup.run(repository, options: good)
            #expect(result.summary.totalBytesProcessed == 5)
            #expect(try repository.snapshots().snapshots.count == 1)
        }
    }

    @Test("two backups at once into one repository both commit")
    func concurrentBackups() throws {
        try withTemporaryDirectory { directory in
            let repository = try makeRepository(at: directory + "/repo")
            for name in ["one", "two"] {
                mkdir(directory + "/" + name, 0o755)
                writeFile(directory + "/\(name)/shared", pseudoRandomBytes(count: 2 << 20, seed: 9))
                writeFile(directory + "/\(name)/own", pseudoRandomBytes(count: 2 << 20, seed: name == "one" ? 1 : 2))
            }
            let other = try Repository.open(store: repository.store, password: Array("test password".utf8))
            let failures = FirstError()
            runThreads(count: 2, name: "test") { number in
                do {
                    _ = try Backup.run(number == 0 ? repository : other,
                                       options: BackupOptions(source: .paths([directory + (number == 0 ? "/one" : "/two")])))
                } catch {
                    failures.record(error)
                }
            }
            #expect(failures.value == nil)
            let fresh = try Repository.open(store: repository.store, password: Array("test password".utf8))
            #expect(try fresh.snapshots().snapshots.count == 2)
            let report = try Checker.run(fresh, readData: .all)
            #expect(report.isClean, "\(report.errors)")
        }
    }
}
