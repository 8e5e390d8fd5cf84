import Glibc
import Testing

/// Back up a tree, restore it elsewhere, and compare everything a restore must give back.
@Suite("Round trip")
struct RoundTripTests {
    /// What the generated tree could hold on this machine.
    struct Capabilities {
        var devices = true
        var extendedAttributes = true
    }

    static let sparseSize = 50 << 20

    /// A tree with every kind of entry lifeboat stores (see the comments inside).
    static func makeEveryKindTree(at source: String) throws -> Capabilities {
        var capabilities = Capabilities()
        try makeDirectory(source)

        // Regular files: empty, small, 3 MiB random, 20 MiB of one repeated 1 MiB block.
        try writeFile(source + "/empty.txt", [])
        try writeFile(source + "/small.txt", "hello, lifeboat\n")
        try writeFile(source + "/random.bin", randomBytes(3 << 20, seed: 1))
        let block = randomBytes(1 << 20, seed: 2)
        try writeFile(source + "/repeated.bin", Array([[UInt8]](repeating: block, count: 20).joined()))

        // Nested and empty directories.
        try makeDirectories(source + "/sub/deeper/deepest")
        try writeFile(source + "/sub/deeper/deepest/leaf.txt", "a leaf\n")
        try writeFile(source + "/sub/small.txt", "another small file\n")
        try writeFile(source + "/sub/data.bin", randomBytes(64 << 10, seed: 3))
        try makeDirectory(source + "/empty-dir", mode: 0o700)

        // Symlinks: relative, absolute, dangling.
        try makeSymlink(source + "/link-relative", to: "small.txt")
        try makeSymlink(source + "/link-absolute", to: source + "/sub/small.txt")
        try makeSymlink(source + "/link-dangling", to: "does/not/exist")

        // A hard-link pair across directories.
        try writeFile(source + "/hard-a", "two names, one inode\n")
        try makeHardlink(source + "/sub/hard-b", to: source + "/hard-a")

        // A sparse file: 50 MiB with 9 bytes written.
        try makeSparseFile(source + "/sparse.img", size: sparseSize, pieces: [
            (0, Array("abc".utf8)), (25 << 20, Array("def".utf8)), (sparseSize - 3, Array("ghi".utf8)),
        ])

        // Special files. We run as root, so mknod should work; in a container without
        // CAP_MKNOD it fails with EPERM, and then the device checks are left out.
        try makeFIFO(source + "/fifo")
        let characterDevice = makeDevice(source + "/char-device", character: true, major: 1, minor: 3)
        let blockDevice = makeDevice(source + "/block-device", character: false, major: 7, minor: 200)
        if characterDevice == EPERM || blockDevice == EPERM {
            capabilities.devices = false
            removeTree(source + "/char-device")
            removeTree(source + "/block-device")
        } else if characterDevice != 0 || blockDevice != 0 {
            throw HarnessError("mknod: \(String(cString: strerror(characterDevice != 0 ? characterDevice : blockDevice)))")
        }

        // Owners that exist in no passwd file, and setuid/setgid/sticky bits (chown first:
        // it clears setuid and setgid).
        try writeFile(source + "/setuid", "#!/bin/sh\n", mode: 0o755)
        try setOwner(source + "/setuid", uid: 1234, gid: 2345)
        try setMode(source + "/setuid", 0o4755)
        try writeFile(source + "/setgid", "#!/bin/sh\n", mode: 0o755)
        try setMode(source + "/setgid", 0o2755)
        try makeDirectory(source + "/sticky", mode: 0o1777)
        try writeFile(source + "/sticky/note.txt", "in a sticky directory\n")
        try makeDirectory(source + "/owned", mode: 0o750)
        try writeFile(source + "/owned/owned.txt", "owned by 1234:2345\n", mode: 0o640)
        try setOwner(source + "/owned/owned.txt", uid: 1234, gid: 2345)
        try setOwner(source + "/owned", uid: 1234, gid: 2345)
        try setOwner(source + "/link-relative", uid: 1234, gid: 2345)

        // User extended attributes on a file and a directory (values with NUL bytes too).
        try writeFile(source + "/xattr.txt", "has extended attributes\n")
        let attributeResult = setExtendedAttribute(source + "/xattr.txt", name: "user.test", value: Array("value".utf8))
        if attributeResult == ENOTSUP || attributeResult == EOPNOTSUPP {
            // This file system has no user xattrs: the comparison skips them.
            capabilities.extendedAttributes = false
        } else {
            #expect(attributeResult == 0)
            #expect(setExtendedAttribute(source + "/xattr.txt", name: "user.binary", value: [0, 1, 2, 255]) == 0)
            #expect(setExtendedAttribute(source + "/sub", name: "user.directory", value: Array("on a dir".utf8)) == 0)
            // A namespace only root may write (restored after chown, which would clear some).
            #expect(setExtendedAttribute(source + "/setuid", name: "trusted.lifeboat", value: Array("root only".utf8)) == 0)
        }

        // Names: not UTF-8, with spaces, with a newline.
        try writeFile(join(source, [0x62, 0x61, 0x64, 0xFF, 0xFE, 0x2E, 0x74, 0x78, 0x74]), "a non-UTF-8 name\n")
        try makeDirectory(source + "/with space")
        try writeFile(source + "/with space/new\nline", "a newline in the name\n")

        // Modification times in the past, with nanoseconds, on everything; one before 1970.
        try writeFile(source + "/sub/ancient.txt", "from 1938\n")
        try setPastTimes(below: source, base: 1_300_000_000)
        try setTimes(source + "/sub/ancient.txt", seconds: -1_000_000_000, nanoseconds: 987_654_321)
        return capabilities
    }

    @Test("every file kind survives backup and restore")
    func everyFileKind() throws {
        try Sandbox.with { sandbox in
            let source = sandbox.path("src")
            let capabilities = try Self.makeEveryKindTree(at: source)
            try sandbox.initRepository()
            let summary = try sandbox.backup([source])
            // 18 regular file names; the hard-linked file counts under both of its names.
            #expect(summary.filesNew == 18)
            #expect(summary.errors == 0)

            let target = sandbox.path("restored")
            try sandbox.restore("latest", to: target)
            let restored = target + source
            var options = ComparisonOptions()
            options.extendedAttributes = capabilities.extendedAttributes
            #expect(try treeDifferences(source, restored, options: options) == [])

            // Spot checks on top of the walk, so a comparison bug cannot hide everything.
            #expect(try readLink(restored + "/link-absolute") == Array((source + "/sub/small.txt").utf8))
            #expect(try readLink(restored + "/link-dangling") == Array("does/not/exist".utf8))
            #expect(try status(restored + "/hard-a").st_ino == status(restored + "/sub/hard-b").st_ino)
            #expect(try status(restored + "/hard-a").st_nlink == 2)
            #expect(try status(restored + "/fifo").st_mode & S_IFMT == S_IFIFO)
            #expect(try status(restored + "/setuid").st_mode & 0o7777 == 0o4755)
            #expect(try status(restored + "/setuid").st_uid == 1234)
            #expect(try status(restored + "/setuid").st_gid == 2345)
            #expect(try status(restored + "/sticky").st_mode & 0o7777 == 0o1777)
            #expect(try readText(join(restored, [0x62, 0x61, 0x64, 0xFF, 0xFE, 0x2E, 0x74, 0x78, 0x74])) == "a non-UTF-8 name\n")
            #expect(try readText(restored + "/with space/new\nline") == "a newline in the name\n")
            let mtime = try status(restored + "/sub/deeper/deepest/leaf.txt").st_mtim
            let originalMtime = try status(source + "/sub/deeper/deepest/leaf.txt").st_mtim
            #expect(mtime.tv_sec == originalMtime.tv_sec && mtime.tv_nsec == originalMtime.tv_nsec)
            #expect(mtime.tv_nsec != 0)
            if capabilities.devices {
                #expect(try status(restored + "/char-device").st_rdev == deviceNumber(major: 1, minor: 3))
                #expect(try status(restored + "/block-device").st_mode & S_IFMT == S_IFBLK)
            }
            if capabilities.extendedAttributes {
                let attributes = try extendedAttributes(restored + "/xattr.txt")
                #expect(attributes.map { display($0.name) } == ["user.binary", "user.test"])
                #expect(attributes.map(\.value) == [[0, 1, 2, 255], Array("value".utf8)])
            }

            // The sparse file comes back with the same bytes and as holes: restore writes only
            // the 4 KiB blocks that hold non-zero bytes, so the three written pieces allocate
            // a few blocks each (64 KiB leaves room for file systems with larger allocation units).
            let sparse = try status(restored + "/sparse.img")
            #expect(sparse.st_size == Self.sparseSize)
            #expect(Int(sparse.st_blocks) * 512 <= 64 << 10, "sparse file allocates \(Int(sparse.st_blocks) * 512) bytes")

            // Restoring again over the first restore replaces everything in place, and
            // --verify re-reads every file (17 contents: the hard link is one file).
            let again = try sandbox.run(["restore", "latest", "--target", target, "--verify", "--json"])
            #expect(again.status == 0, "\(again)")
            struct RestoreSummary: Decodable {
                var files: Int
                var verified: Int?
                var errors: Int
                enum CodingKeys: String, CodingKey { case files = "files_restored", verified = "files_verified", errors }
            }
            let restoreSummary = try again.message("summary", as: RestoreSummary.self)
            #expect(restoreSummary.files == 18)
            #expect(restoreSummary.verified == 17)
            #expect(restoreSummary.errors == 0)
            #expect(try treeDifferences(source, restored, options: options) == [])
        }
    }

    @Test("restore of a subpath and with --include/--exclude gives exactly the selected entries")
    func partialRestores() throws {
        try Sandbox.with { sandbox in
            let source = sandbox.path("src")
            let capabilities = try Self.makeEveryKindTree(at: source)
            try sandbox.initRepository()
            let snapshot = try sandbox.backup([source]).snapshotID

            // ID:/path/sub puts the contents of sub straight into the target.
            let subTarget = sandbox.path("sub-only")
            try sandbox.restore("\(snapshot.prefix(8)):\(source)/sub", to: subTarget)
            var options = ComparisonOptions()
            options.extendedAttributes = capabilities.extendedAttributes
            #expect(try treeDifferences(source + "/sub", subTarget, options: options) == [])
            #expect(try relativePaths(below: subTarget) == [
                "deeper", "deeper/deepest", "deeper/deepest/leaf.txt", "small.txt", "data.bin", "hard-b", "ancient.txt",
            ])

            // ID:/path/file puts that one file into the target.
            let fileTarget = sandbox.path("one-file")
            try sandbox.restore("\(snapshot):\(source)/random.bin", to: fileTarget)
            #expect(try relativePaths(below: fileTarget) == ["random.bin"])
            #expect(try sameBytes(fileTarget + "/random.bin", source + "/random.bin"))

            let missing = try sandbox.run(["restore", "\(snapshot):\(source)/no/such/path", "--target", sandbox.path("none")])
            #expect(missing.status == 1, "\(missing)")
            #expect(missing.err.contains("not in the snapshot"), "\(missing)")

            // Prefix of every restored path: the snapshot keeps the absolute source path.
            let prefix = String(source.dropFirst())
            var ancestors: Set<String> = []
            var partial = ""
            for component in prefix.split(separator: "/") {
                partial += partial.isEmpty ? String(component) : "/" + component
                ancestors.insert(partial)
            }

            // --include a directory, --exclude a pattern inside it.
            let included = sandbox.path("included")
            try sandbox.restore("latest", to: included, ["--include", source + "/sub", "--exclude", "*.bin"])
            #expect(try relativePaths(below: included) == ancestors.union([
                "sub", "sub/deeper", "sub/deeper/deepest", "sub/deeper/deepest/leaf.txt", "sub/small.txt", "sub/hard-b",
                "sub/ancient.txt",
            ].map { prefix + "/" + $0 }))
            #expect(try readText(included + source + "/sub/hard-b") == "two names, one inode\n")

            // --include by name matches at any depth.
            let byName = sandbox.path("by-name")
            try sandbox.restore("latest", to: byName, ["--include", "small.txt"])
            #expect(try relativePaths(below: byName) == ancestors.union([
                "small.txt", "sub", "sub/small.txt",
            ].map { prefix + "/" + $0 }))
            #expect(try sameBytes(byName + source + "/sub/small.txt", source + "/sub/small.txt"))
        }
    }

    @Test("a directory with mode 000 keeps its mode, owner and mtime")
    func modeZeroDirectory() throws {
        try Sandbox.with { sandbox in
            let source = sandbox.path("src")
            try makeDirectory(source)
            try makeDirectory(source + "/closed")
            try writeFile(source + "/closed/inside.txt", "behind mode 000\n")
            try setOwner(source + "/closed", uid: 1234, gid: 2345)
            try setMode(source + "/closed", 0)
            try setPastTimes(below: source, base: 1_400_000_000)
            try sandbox.initRepository()
            try sandbox.backup([source])
            let target = sandbox.path("restored")
            try sandbox.restore("latest", to: target)
            #expect(try readText(target + source + "/closed/inside.txt") == "behind mode 000\n")
            // The restorer uses mode 0 to mark the target directory itself ("leave its
            // metadata alone"), so a real directory with mode 000 is skipped when directory
            // metadata is applied: it comes back as 0700, root-owned, with the restore's mtime.
            let differences = try treeDifferences(source, target + source)
            #expect(differences == [])
        }
    }

    @Test("a real tree (/usr/share/doc) restores with identical bytes, modes, owners and mtimes")
    func realTree() throws {
        let tree = "/usr/share/doc"
        try #require(exists(tree), "\(tree) is needed as a real-world tree")
        try Sandbox.with { sandbox in
            try sandbox.initRepository()
            let summary = try sandbox.backup([tree])
            #expect(summary.errors == 0)
            #expect(summary.filesNew > 100)
            let target = sandbox.path("restored")
            try sandbox.restore("latest", to: target)
            #expect(try treeDifferences(tree, target + tree) == [])
            // And an independent opinion on the bytes and symlinks.
            let diff = try sandbox.runProgram("/usr/bin/diff", ["-r", "--no-dereference", tree, target + tree])
            #expect(diff.status == 0, "\(diff)")
        }
    }
}
