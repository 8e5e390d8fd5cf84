import Glibc
import Testing

/// `lifeboat dump`: a file's bytes exactly, and a directory as a tar stream that GNU tar
/// lists and extracts into the original tree.
///
/// Not tested here: the refusal to write to a terminal (`isatty(1)`), which needs a
/// pseudo-terminal as stdout that the posix_spawn harness does not set up, and `dump | head`
/// ending by SIGPIPE, which needs a pipe the reader closes early (the harness sends stdout
/// to a file).
@Suite("Dump")
struct DumpTests {
    static let tar = "/usr/bin/tar"

    /// Whether the tree could get devices and user extended attributes on this machine.
    struct Capabilities {
        var devices = true
        var extendedAttributes = true
    }

    /// Relative names that stretch the tar format (see makeArchiveTree).
    static let longName = String(repeating: "n", count: 120)
    static let deepDirectories = (1...4).map { String(repeating: Character(String($0)), count: 60) }
    static let splitDirectory = "split-" + String(repeating: "p", count: 80)
    static let splitFile = String(repeating: "f", count: 60) + ".txt"
    static let nonASCII = "héllo wörld ✓.txt"
    static let notUTF8: [UInt8] = [0x62, 0x61, 0x64, 0xFF, 0xFE, 0x2E, 0x74, 0x78, 0x74]

    /// A tree with everything tar has to carry for a faithful extraction.
    static func makeArchiveTree(at source: String) throws -> Capabilities {
        var capabilities = Capabilities()
        try makeDirectory(source)
        try writeFile(source + "/plain.txt", "plain text\n")
        try writeFile(source + "/empty.txt", [])
        // Several blobs, and a size that is not a multiple of the 512-byte tar block.
        try writeFile(source + "/random.bin", randomBytes((3 << 20) + 77, seed: 41))
        try writeFile(source + "/exec.sh", "#!/bin/sh\necho hi\n", mode: 0o755)
        try writeFile(source + "/setuid", "#!/bin/sh\n", mode: 0o755)
        try setOwner(source + "/setuid", uid: 1234, gid: 2345)
        try setMode(source + "/setuid", 0o4755)
        // Ids too large for the 7 octal digits of a ustar header: pax uid/gid records.
        try writeFile(source + "/big-ids.txt", "owned by 3000000:3000001\n", mode: 0o640)
        try setOwner(source + "/big-ids.txt", uid: 3_000_000, gid: 3_000_001)
        try makeDirectory(source + "/sticky", mode: 0o1777)
        try writeFile(source + "/sticky/note.txt", "in a sticky directory\n")

        // Symlinks: relative, dangling, and one whose target is too long for the header.
        try makeSymlink(source + "/link-relative", to: "plain.txt")
        try makeSymlink(source + "/link-dangling", to: "does/not/exist")
        try makeSymlink(source + "/link-long", to: String(repeating: "t/", count: 75) + "end")

        // Hardlinks: a pair across directories, and a pair whose first name (the link
        // target in the archive) is longer than 100 bytes.
        try makeDirectory(source + "/sub")
        try writeFile(source + "/hard-a", "two names, one inode\n")
        try makeHardlink(source + "/sub/hard-b", to: source + "/hard-a")
        try writeFile(source + "/" + longName, "a name of 120 bytes\n")
        try makeHardlink(source + "/zz-hard-to-long", to: source + "/" + longName)

        // A path of more than 255 bytes (pax path record), and one of more than 100 bytes
        // that fits the ustar prefix and name fields.
        var deep = source
        for directory in deepDirectories {
            deep += "/" + directory
            try makeDirectory(deep)
        }
        try writeFile(deep + "/deep.txt", "more than 255 bytes down\n")
        try makeDirectory(source + "/" + splitDirectory)
        try writeFile(source + "/" + splitDirectory + "/" + splitFile, "ustar prefix and name\n")

        // Names: UTF-8 beyond ASCII, and bytes that are not UTF-8 at all.
        try writeFile(source + "/" + nonASCII, "non-ASCII name\n")
        try writeFile(join(source, notUTF8), "non-UTF-8 name\n")

        try makeFIFO(source + "/fifo", mode: 0o600)
        let device = makeDevice(source + "/char-device", character: true, major: 1, minor: 3)
        if device == EPERM {
            capabilities.devices = false
        } else if device != 0 {
            throw HarnessError("mknod: \(String(cString: strerror(device)))")
        }

        let attribute = setExtendedAttribute(source + "/plain.txt", name: "user.test", value: Array("value".utf8))
        if attribute == ENOTSUP || attribute == EOPNOTSUPP {
            capabilities.extendedAttributes = false
        } else {
            #expect(attribute == 0)
            #expect(setExtendedAttribute(source + "/sub", name: "user.directory", value: [0, 1, 2, 255]) == 0)
        }

        // Past times with nanoseconds everywhere, and one before 1970 (a negative pax mtime).
        try writeFile(source + "/sub/ancient.txt", "from 1938\n")
        try setPastTimes(below: source, base: 1_300_000_000)
        try setTimes(source + "/sub/ancient.txt", seconds: -1_000_000_000, nanoseconds: 987_654_321)
        return capabilities
    }

    @Test("dump of a file writes exactly its bytes: a 20 MiB multi-blob file, a small and an empty one")
    func fileDumps() throws {
        try Sandbox.with { sandbox in
            let source = sandbox.path("src")
            try makeDirectory(source)
            let big = randomBytes(20 << 20, seed: 40)
            try writeFile(source + "/big.bin", big)
            try writeFile(source + "/small.txt", "small\n")
            try writeFile(source + "/empty.txt", [])
            try sandbox.initRepository()
            let summary = try sandbox.backup([source])
            #expect(summary.dataBlobs > 2, "the 20 MiB file should be split into several blobs")

            let whole = try sandbox.run(["dump", "latest", source + "/big.bin"])
            #expect(whole.status == 0, "\(whole.arguments) → \(whole.status): \(whole.err)")
            #expect(whole.err.isEmpty, "\(whole.err)")
            #expect(whole.stdout.count == big.count)
            #expect(whole.stdout.count == big.count && whole.stdout.withUnsafeBytes { out in
                big.withUnsafeBytes { memcmp(out.baseAddress!, $0.baseAddress!, big.count) == 0 }
            }, "the dumped bytes differ from the file")

            let colonForm = try sandbox.run(["dump", "\(summary.snapshotID.prefix(8)):\(source)/small.txt"])
            #expect(colonForm.status == 0, "\(colonForm)")
            #expect(colonForm.out == "small\n")

            let empty = try sandbox.run(["dump", "latest", source + "/empty.txt"])
            #expect(empty.status == 0, "\(empty)")
            #expect(empty.stdout.isEmpty)

            let missing = try sandbox.run(["dump", "latest", source + "/missing.txt"])
            #expect(missing.status == 1, "\(missing)")
            #expect(missing.err.contains("is not in the snapshot"), "\(missing)")
            #expect(missing.stdout.isEmpty)

            // Usage mistakes, all exit 2 with nothing on stdout.
            for arguments in [
                ["dump", "--archive", "zip", "latest", source],
                ["dump", "latest:\(source)", source + "/small.txt"],
                ["dump", "latest"],
            ] {
                let result = try sandbox.run(arguments)
                #expect(result.status == 2, "\(result)")
                #expect(result.stdout.isEmpty, "\(result)")
            }
            let zip = try sandbox.run(["dump", "--archive", "zip", "latest", source])
            #expect(zip.err.contains("only 'tar' is supported"), "\(zip)")
            // --json is refused too: the error itself is then a JSON line on stdout.
            struct ErrorLine: Decodable {
                var code: String?
                var exitCode: Int32?
                enum CodingKeys: String, CodingKey { case code, exitCode = "exit_code" }
            }
            let json = try sandbox.run(["dump", "--json", "latest", source + "/small.txt"])
            #expect(json.status == 2, "\(json)")
            let error = try json.message("error", as: ErrorLine.self)
            #expect(error.code == "usage")
            #expect(error.exitCode == 2)
        }
    }

    @Test("dump of a directory is a tar that GNU tar lists and extracts into the original tree")
    func directoryAsTar() throws {
        try Sandbox.with { sandbox in
            let source = sandbox.path("src")
            let capabilities = try Self.makeArchiveTree(at: source)
            try sandbox.initRepository()
            try sandbox.backup([source])

            // The archive is the dump's stdout file.
            let dump = try sandbox.start(["dump", "--archive", "tar", "latest", source])
            let dumped = try dump.wait()
            #expect(dumped.status == 0, "\(dumped.arguments) → \(dumped.status): \(dumped.err)")
            #expect(dumped.err.isEmpty, "\(dumped.err)")
            let archive = dump.stdoutPath
            #expect(dumped.stdout.count % 512 == 0, "a tar stream is whole 512-byte blocks")

            // Member names are snapshot paths without the leading '/'; directories end in '/'.
            let memberPrefix = String(source.dropFirst())
            // (Walked as raw bytes: one name is not UTF-8.)
            var expectedNames: Set<String> = [memberPrefix + "/"]
            func collect(_ relative: [UInt8]) throws {
                for name in try directoryNames(join(source, relative)) {
                    let child = relative.isEmpty ? name : join(relative, name)
                    let isDirectory = try status(join(source, child)).st_mode & S_IFMT == S_IFDIR
                    expectedNames.insert(display(join(memberPrefix, child)) + (isDirectory ? "/" : ""))
                    if isDirectory { try collect(child) }
                }
            }
            try collect([])
            let listing = try sandbox.runProgram(Self.tar, ["--quoting-style=literal", "-tf", archive])
            #expect(listing.status == 0, "\(listing)")
            #expect(listing.err.isEmpty, "\(listing)")
            #expect(Set(listing.out.split(separator: "\n").map(String.init)) == expectedNames)
            #expect(listing.out.split(separator: "\n").count == expectedNames.count, "every entry exactly once")
            #expect(listing.out.hasPrefix(memberPrefix + "/\n"), "the directory itself comes first")

            let verbose = try sandbox.runProgram(Self.tar, ["-tvf", archive])
            #expect(verbose.status == 0, "\(verbose)")
            #expect(verbose.err.isEmpty, "\(verbose)")
            let verboseLines = verbose.out.split(separator: "\n").map(String.init)
            #expect(verboseLines.contains { $0.hasPrefix("-rwsr-xr-x 1234/2345 ") && $0.hasSuffix("/setuid") }, "\(verbose.out)")
            #expect(verboseLines.contains { $0.hasPrefix("lrwxrwxrwx ") && $0.hasSuffix("/link-relative -> plain.txt") })
            #expect(verboseLines.contains { $0.hasPrefix("hrw-r--r-- ") && $0.hasSuffix("/sub/hard-b link to \(memberPrefix)/hard-a") })
            #expect(verboseLines.contains { $0.hasPrefix("prw------- ") && $0.hasSuffix("/fifo") })
            #expect(verboseLines.contains { $0.hasPrefix("drwxrwxrwt ") && $0.hasSuffix("/sticky/") })

            // Extract as root: owners and modes are kept; --xattrs for the user.* attributes.
            let target = sandbox.path("extracted")
            try makeDirectory(target)
            let extract = try sandbox.runProgram(Self.tar, ["--xattrs", "--xattrs-include=user.*", "-xf", archive, "-C", target])
            #expect(extract.status == 0, "\(extract)")
            // GNU tar warns about any time before 1970 ("implausibly old time stamp"), and
            // prints it wrongly (a negative time rounded towards zero), but sets it exactly,
            // as the comparison below checks.
            let warnings = extract.err.split(separator: "\n").filter { !$0.hasSuffix("/sub/ancient.txt: implausibly old time stamp 1938-04-24 22:13:21.012345679") }
            #expect(warnings.isEmpty, "\(extract)")
            var options = ComparisonOptions()
            options.extendedAttributes = capabilities.extendedAttributes
            // Contents, types, modes with setuid/sticky, owners (including ids above 2^21),
            // mtimes to the nanosecond (also before 1970), symlink targets, device numbers,
            // xattrs and hardlinks as hardlinks.
            #expect(try treeDifferences(source, target + source, options: options) == [])

            // Spot checks, so that a comparison bug cannot hide everything.
            let extracted = target + source
            #expect(try status(extracted + "/hard-a").st_ino == status(extracted + "/sub/hard-b").st_ino)
            #expect(try status(extracted + "/" + Self.longName).st_ino == status(extracted + "/zz-hard-to-long").st_ino)
            #expect(try status(extracted + "/" + Self.longName).st_nlink == 2)
            #expect(try readText(extracted + "/" + Self.deepDirectories.joined(separator: "/") + "/deep.txt") == "more than 255 bytes down\n")
            #expect(try readText(extracted + "/" + Self.splitDirectory + "/" + Self.splitFile) == "ustar prefix and name\n")
            #expect(try readText(extracted + "/" + Self.nonASCII) == "non-ASCII name\n")
            #expect(try readText(join(extracted, Self.notUTF8)) == "non-UTF-8 name\n")
            #expect(try readLink(extracted + "/link-long") == Array((String(repeating: "t/", count: 75) + "end").utf8))
            #expect(try status(extracted + "/big-ids.txt").st_uid == 3_000_000)
            #expect(try status(extracted + "/sub/ancient.txt").st_mtim.tv_sec == -1_000_000_000)
            #expect(try status(extracted + "/sub/ancient.txt").st_mtim.tv_nsec == 987_654_321)
            #expect(try status(extracted + "/fifo").st_mode & S_IFMT == S_IFIFO)
            if capabilities.devices {
                #expect(try status(extracted + "/char-device").st_rdev == deviceNumber(major: 1, minor: 3))
            }
            #expect((Self.deepDirectories.joined(separator: "/") + "/deep.txt").utf8.count + memberPrefix.utf8.count > 255)

            // The whole snapshot ('/'): the directories above the source come first.
            let everything = try sandbox.start(["dump", "latest", "/"])
            let everythingResult = try everything.wait()
            #expect(everythingResult.status == 0, "\(everythingResult.err)")
            let all = try sandbox.runProgram(Self.tar, ["--quoting-style=literal", "-tf", everything.stdoutPath])
            #expect(all.status == 0, "\(all)")
            let ancestors = ListingTests.ancestors(of: source).map { String($0.dropFirst()) + "/" }
            #expect(Array(all.out.split(separator: "\n").prefix(ancestors.count).map(String.init)) == ancestors)
            #expect(Set(all.out.split(separator: "\n").map(String.init)) == expectedNames.union(ancestors))
        }
    }
}
