import Testing

/// `backup --stdin-from-command`: a command's output saved as one file.
@Suite("Command sources")
struct CommandSourceTests {
    @Test("the command's output restores byte for byte, binary bytes included")
    func outputRestoresExactly() throws {
        try Sandbox.with { sandbox in
            try sandbox.initRepository()
            let script = #"printf 'CREATE TABLE t (x int);\n\001\377\000\nend\n'"#
            let summary = try sandbox.backup(["--stdin-from-command", "--stdin-filename", "app.sql", "--", "sh", "-c", script])
            #expect(summary.filesNew == 1)
            let expected = Array("CREATE TABLE t (x int);\n".utf8) + [1, 255, 0, 10] + Array("end\n".utf8)
            #expect(summary.totalBytesProcessed == UInt64(expected.count))

            let listed = try sandbox.snapshots()
            #expect(listed.count == 1)
            #expect(listed.first?.sourceKind == "command")
            #expect(listed.first?.paths == ["app.sql"])
            #expect(listed.first?.command == ["sh", "-c", script])

            let target = sandbox.path("restored")
            try sandbox.restore("latest", to: target)
            #expect(try readFile(target + "/app.sql") == expected)
            #expect(try relativePaths(below: target) == ["app.sql"])
        }
    }

    @Test("a large output (several chunks) restores byte for byte")
    func largeOutput() throws {
        try Sandbox.with { sandbox in
            try sandbox.initRepository()
            let copy = sandbox.path("copy")
            // The command writes the same random bytes to lifeboat and to a file we compare with.
            try sandbox.backup(["--stdin-from-command", "--stdin-filename", "dump.bin", "--",
                                "sh", "-c", "head -c 6000000 /dev/urandom | tee \(copy)"])
            let target = sandbox.path("restored")
            try sandbox.restore("latest", to: target)
            #expect(try status(target + "/dump.bin").st_size == 6_000_000)
            #expect(try sameBytes(target + "/dump.bin", copy))
        }
    }

    @Test("a failing command: non-zero exit, the command is named, no snapshot")
    func failingCommandWritesNoSnapshot() throws {
        try Sandbox.with { sandbox in
            try sandbox.initRepository()
            try sandbox.backup(["--stdin-from-command", "--stdin-filename", "ok.sql", "--", "sh", "-c", "echo fine"])
            let result = try sandbox.run(["backup", "--stdin-from-command", "--stdin-filename", "app.sql", "--",
                                          "sh", "-c", "printf partial-output; exit 3"])
            #expect(result.status == 1, "\(result)")
            #expect(result.signal == nil)
            #expect(result.err.contains("sh -c printf partial-output; exit 3"), "\(result)")
            #expect(result.err.contains("exited with status 3"), "\(result)")
            #expect(result.err.contains("no snapshot was written"), "\(result)")
            let listed = try sandbox.snapshots()
            #expect(listed.map(\.paths) == [["ok.sql"]])

            // A command that cannot even start fails the same way.
            let missing = try sandbox.run(["backup", "--stdin-from-command", "--", "/nonexistent/dump-tool"])
            #expect(missing.status == 1, "\(missing)")
            #expect(missing.err.contains("/nonexistent/dump-tool"), "\(missing)")
            #expect(try sandbox.snapshots().count == 1)
        }
    }
}
