import Glibc
import Testing

/// What a backup leaves out: exclude patterns, exclude files, other file systems.
@Suite("Excludes")
struct ExcludeTests {
    @Test("--exclude by name and by absolute path, and --exclude-file, leave out exactly what they match")
    func excludePatterns() throws {
        try Sandbox.with { sandbox in
            let source = sandbox.path("src")
            try makeDirectory(source)
            for path in ["keep.txt", "app.log", "sub/keep.txt", "sub/deep.log", "sub/not.log.txt",
                         "skip-me/inside.txt", "sub/skip-me/kept-because-the-path-is-absolute.txt",
                         "cache/blob.bin", "sub/cache/blob.bin", "notes.tmp", "sub/notes.tmp.keep"] {
                let full = source + "/" + path
                try makeDirectories(String(full[..<full.lastIndex(of: "/")!]))
                try writeFile(full, "content of \(path)\n")
            }
            let excludeFile = sandbox.path("excludes.txt")
            try writeFile(excludeFile, "# caches are rebuilt\ncache\n\n   *.tmp\n")
            try sandbox.initRepository()
            let summary = try sandbox.backup(["--exclude", "*.log", "--exclude", source + "/skip-me",
                                              "--exclude-file", excludeFile, source])
            #expect(summary.errors == 0)

            let target = sandbox.path("restored")
            try sandbox.restore("latest", to: target)
            #expect(try relativePaths(below: target + source) == [
                "keep.txt", "sub", "sub/keep.txt", "sub/not.log.txt", "sub/skip-me",
                "sub/skip-me/kept-because-the-path-is-absolute.txt", "sub/notes.tmp.keep",
            ])
            let listed = try sandbox.snapshots()
            #expect(listed.first?.excludes == ["*.log", source + "/skip-me", "cache", "*.tmp"])
        }
    }

    @Test("a missing --exclude-file is a usage error and writes no snapshot")
    func missingExcludeFile() throws {
        try Sandbox.with { sandbox in
            try sandbox.initRepository()
            try makeDirectory(sandbox.path("src"))
            let result = try sandbox.run(["backup", "--exclude-file", sandbox.path("no-such-file"), sandbox.path("src")])
            #expect(result.status == 2, "\(result)")
            #expect(result.err.contains("no-such-file"), "\(result)")
            #expect(try sandbox.snapshots().isEmpty)
        }
    }

    /// A tmpfs mounted inside the source tree (we run as root; where mounting is not
    /// permitted the test says so and checks nothing else).
    @Test("--one-file-system records a mount point but not what is mounted there")
    func oneFileSystem() throws {
        try Sandbox.with { sandbox in
            let source = sandbox.path("src")
            try makeDirectory(source)
            try writeFile(source + "/local.txt", "on the root file system\n")
            let mountPoint = source + "/mounted"
            try makeDirectory(mountPoint)
            try mountTemporaryFileSystem(at: mountPoint, options: "size=4m,mode=0750")
            defer { umount2(mountPoint, Int32(MNT_DETACH)) }
            try writeFile(mountPoint + "/on-tmpfs.txt", "on another file system\n")
            try makeDirectory(mountPoint + "/dir")

            try sandbox.initRepository()
            let crossing = try sandbox.backup([source])
            let staying = try sandbox.backup(["--one-file-system", source])
            #expect(crossing.filesNew == 2)
            #expect(staying.totalFilesProcessed == 1)

            let all = sandbox.path("all")
            try sandbox.restore(crossing.snapshotID, to: all)
            #expect(try relativePaths(below: all + source) == ["local.txt", "mounted", "mounted/on-tmpfs.txt", "mounted/dir"])
            let one = sandbox.path("one")
            try sandbox.restore(staying.snapshotID, to: one)
            #expect(try relativePaths(below: one + source) == ["local.txt", "mounted"])
            // The mount point keeps the metadata of the mounted root.
            #expect(try status(one + source + "/mounted").st_mode & 0o7777 == 0o750)
        }
    }
}
