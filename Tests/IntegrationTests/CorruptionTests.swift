import Glibc
import Sealing
import Testing

/// Damage a repository on disk and check that `check` finds it, names it, lists what it
/// affects, and that everything else still restores. Each test damages its own repository.
@Suite("Corruption")
struct CorruptionTests {
    /// Three snapshots of three different trees, and the index file each backup wrote.
    struct Fixture {
        var sources: [String]
        var snapshots: [String]
        var indexFiles: [String]
    }

    static func makeFixture(_ sandbox: Sandbox) throws -> Fixture {
        // Small packs (4 MiB), so each snapshot's data sits in packs of its own.
        try sandbox.initRepository(["--pack-size", "4"])
        var fixture = Fixture(sources: [], snapshots: [], indexFiles: [])
        for (number, name) in ["alpha", "bravo", "charlie"].enumerated() {
            let source = sandbox.path(name)
            let seed = UInt64(number * 10)
            try makeDirectory(source)
            try writeFile(source + "/\(name)-large.bin", randomBytes(2_500_000, seed: seed + 1))
            try writeFile(source + "/\(name)-medium.bin", randomBytes(700_000, seed: seed + 2))
            try makeDirectory(source + "/\(name)-notes")
            try writeFile(source + "/\(name)-notes/readme.txt", "notes for \(name)\n")
            let before = Set(try directoryNamesIfPresent(sandbox.repository + "/index"))
            fixture.snapshots.append(try sandbox.backup([source]).snapshotID)
            let after = Set(try directoryNamesIfPresent(sandbox.repository + "/index"))
            let new = after.subtracting(before)
            try #require(new.count == 1, "each backup writes one index file")
            fixture.indexFiles.append(new.first!)
            fixture.sources.append(source)
        }
        return fixture
    }

    static func directoryNamesIfPresent(_ path: String) throws -> [String] {
        exists(path) ? try directoryNames(path).map(display) : []
    }

    static func flipByte(_ path: String, at offset: Int) throws {
        let original = try readFile(path)
        try #require(offset < original.count)
        try overwrite(path, at: offset, with: [original[offset] ^ 0x5A])
    }

    /// Restores snapshot `index` of the fixture and checks that every file outside `damaged`
    /// (absolute source paths) is byte-identical to the source.
    static func restoreAndCompare(_ sandbox: Sandbox, _ fixture: Fixture, index: Int, damaged: Set<String>,
                                  target name: String) throws -> RunResult {
        let target = sandbox.path(name)
        let result = try sandbox.run(["restore", fixture.snapshots[index], "--target", target])
        #expect(result.endedCleanly, "\(result)")
        #expect(result.status == (damaged.isEmpty ? 0 : 1), "\(result)")
        let source = fixture.sources[index]
        for relative in try relativePaths(below: source) {
            let path = source + "/" + relative
            guard try status(path).st_mode & S_IFMT == S_IFREG, !damaged.contains(path) else { continue }
            #expect(try sameBytes(path, target + path), "\(path) should restore intact")
        }
        for path in damaged {
            #expect(result.err.contains(path), "the restore should name the damaged \(path):\n\(result)")
        }
        return result
    }

    @Test("a flipped byte in a data pack: found only by --read-data, with the snapshot and path it hits")
    func flippedByteInDataPack() throws {
        try Sandbox.with { sandbox in
            let fixture = try Self.makeFixture(sandbox)
            let oracle = try RepositoryOracle(sandbox: sandbox)
            // The pack holding the start of bravo's large file; damage the middle of the pack.
            let bravoLarge = fixture.sources[1] + "/bravo-large.bin"
            let files = try oracle.files()
            let largeFile = try #require(files.first { $0.path == bravoLarge })
            let pack = largeFile.blobs[0].location.pack.hex
            let packPath = RepositoryOracle.dataPackPath(sandbox, pack)
            let middle = Int(try status(packPath).st_size) / 2
            let hit = try #require(oracle.blob(in: pack, at: middle), "the middle of a pack lies in a blob")
            let damagedFiles = files.filter { file in file.blobs.contains { $0.id == hit } }
            try #require(!damagedFiles.isEmpty)
            try Self.flipByte(packPath, at: middle)

            // Structure only: the pack is there with the right size, so plain check passes
            // (it does not read data).
            let structural = try sandbox.run(["check"])
            #expect(structural.status == 0, "\(structural)")
            #expect(structural.out.contains("no errors found"), "\(structural)")

            let text = try sandbox.run(["check", "--read-data"])
            #expect(text.status == 1, "\(text)")
            #expect(text.out.contains("pack \(pack.prefix(8))"), "\(text)")
            #expect(text.out.contains("checksum mismatch"), "\(text)")
            #expect(text.out.contains("snapshot \(fixture.snapshots[1].prefix(8)) is damaged"), "\(text)")
            for file in damagedFiles { #expect(text.out.contains(file.path), "\(text)") }

            let json = try sandbox.run(["check", "--read-data", "--json"])
            #expect(json.status == 1)
            let summary = try json.message("summary", as: CheckSummary.self)
            // Only bravo is affected, and exactly the files holding the damaged blob are named:
            // the pack's other blobs authenticate and restore intact (the restores below prove it).
            #expect(Array(summary.affectedSnapshots.keys) == [fixture.snapshots[1]])
            let reported = Set(summary.affectedSnapshots[fixture.snapshots[1]] ?? [])
            #expect(reported == Set(damagedFiles.map(\.path)))
            #expect(summary.errors.contains { $0.contains("pack \(pack.prefix(8))") && $0.contains("checksum mismatch") })
            #expect(summary.errors.contains { $0.contains("blob \(hit.shortHex)") && $0.contains("does not authenticate") })
            #expect(summary.packsRead == summary.packs)

            // Restore: the damaged file is reported (exit 1); every other file is intact.
            let damaged = Set(damagedFiles.map(\.path))
            _ = try Self.restoreAndCompare(sandbox, fixture, index: 1, damaged: damaged, target: "restored-bravo")
            _ = try Self.restoreAndCompare(sandbox, fixture, index: 0, damaged: [], target: "restored-alpha")
            _ = try Self.restoreAndCompare(sandbox, fixture, index: 2, damaged: [], target: "restored-charlie")
        }
    }

    @Test("a truncated index file: check exits 1 and names it")
    func truncatedIndexFile() throws {
        try Sandbox.with { sandbox in
            let fixture = try Self.makeFixture(sandbox)
            let name = fixture.indexFiles[2]
            let path = sandbox.repository + "/index/" + name
            let size = Int(try status(path).st_size)
            try #require(truncate(path, off_t(size / 2)) == 0)

            let result = try sandbox.run(["check"])
            #expect(result.endedCleanly, "\(result)")
            #expect(result.status == 1, "\(result)")
            #expect(result.out.contains("index/\(name)"), "\(result)")
            let json = try sandbox.run(["check", "--json"])
            let summary = try json.message("summary", as: CheckSummary.self)
            #expect(summary.errors.contains { $0.hasPrefix("index/\(name):") })
            // The packs that index listed are still there, but nothing says what is in them:
            // charlie's snapshot is damaged, the others are not.
            #expect(Set(summary.affectedSnapshots.keys) == [fixture.snapshots[2]])

            _ = try Self.restoreAndCompare(sandbox, fixture, index: 0, damaged: [], target: "restored-alpha")
            _ = try Self.restoreAndCompare(sandbox, fixture, index: 1, damaged: [], target: "restored-bravo")
            let damaged = try sandbox.run(["restore", fixture.snapshots[2], "--target", sandbox.path("restored-charlie")])
            #expect(damaged.endedCleanly, "\(damaged)")
            #expect(damaged.status == 1, "\(damaged)")
            #expect(damaged.err.contains("not in the index"), "the restore names what it could not find:\n\(damaged)")

            // The repair the hint suggests: back up the affected data again. The automatic
            // parent is the damaged snapshot, whose root tree cannot be loaded any more; the
            // backup then reads everything again and the new snapshot is complete.
            let plain = try sandbox.run(["backup", fixture.sources[2]])
            #expect(plain.endedCleanly, "\(plain)")
            #expect(plain.status == 0, "\(plain)")
            let again = try sandbox.backup(["--force", fixture.sources[2]])
            let target = sandbox.path("restored-again")
            try sandbox.restore(again.snapshotID, to: target)
            #expect(try treeDifferences(fixture.sources[2], target + fixture.sources[2]) == [])
        }
    }

    @Test("a deleted data pack: check names it and the snapshot paths it held; the rest restores")
    func deletedDataPack() throws {
        try Sandbox.with { sandbox in
            let fixture = try Self.makeFixture(sandbox)
            let oracle = try RepositoryOracle(sandbox: sandbox)
            let files = try oracle.files()
            let largeFile = try #require(files.first { $0.path == fixture.sources[0] + "/alpha-large.bin" })
            let pack = largeFile.blobs[0].location.pack
            let lost = files.filter { file in file.blobs.contains { $0.location.pack == pack } }
            try #require(unlink(RepositoryOracle.dataPackPath(sandbox, pack.hex)) == 0)

            let result = try sandbox.run(["check"])
            #expect(result.endedCleanly, "\(result)")
            #expect(result.status == 1, "\(result)")
            #expect(result.out.contains("pack \(pack.shortHex)"), "\(result)")
            #expect(result.out.contains("missing"), "\(result)")
            #expect(result.out.contains("snapshot \(fixture.snapshots[0].prefix(8)) is damaged"), "\(result)")
            let summary = try sandbox.run(["check", "--json"]).message("summary", as: CheckSummary.self)
            #expect(summary.affectedSnapshots == [fixture.snapshots[0]: lost.map(\.path).sorted()])
            #expect(summary.errors.contains { $0.contains("pack \(pack.shortHex)") && $0.contains("missing from the store") })

            _ = try Self.restoreAndCompare(sandbox, fixture, index: 0, damaged: Set(lost.map(\.path)), target: "restored-alpha")
            _ = try Self.restoreAndCompare(sandbox, fixture, index: 1, damaged: [], target: "restored-bravo")
            _ = try Self.restoreAndCompare(sandbox, fixture, index: 2, damaged: [], target: "restored-charlie")
        }
    }

    @Test("a flipped byte in a snapshot file: check reports it, the other snapshots still list")
    func flippedByteInSnapshot() throws {
        try Sandbox.with { sandbox in
            let fixture = try Self.makeFixture(sandbox)
            let damaged = fixture.snapshots[1]
            let path = sandbox.repository + "/snapshots/" + damaged
            try Self.flipByte(path, at: Int(try status(path).st_size) / 2)

            let check = try sandbox.run(["check"])
            #expect(check.endedCleanly, "\(check)")
            #expect(check.status == 1, "\(check)")
            #expect(check.out.contains("snapshots/\(damaged)"), "\(check)")

            let listed = try sandbox.run(["snapshots", "--json"])
            #expect(listed.status == 0, "\(listed)")
            #expect(try listed.listedSnapshots().map(\.id) == [fixture.snapshots[0], fixture.snapshots[2]])
            #expect(listed.out.contains("\"message_type\":\"error\""), "\(listed)")
            let text = try sandbox.run(["snapshots"])
            #expect(text.status == 0)
            #expect(text.err.contains(damaged), "the damaged snapshot is reported:\n\(text)")

            let restore = try sandbox.run(["restore", damaged, "--target", sandbox.path("nope")])
            #expect(restore.endedCleanly, "\(restore)")
            #expect(restore.status == 1, "\(restore)")
            _ = try Self.restoreAndCompare(sandbox, fixture, index: 2, damaged: [], target: "restored-charlie")
        }
    }
}
