import FoundationEssentials
import Glibc
import Testing

/// Several regions (DESIGN §3): two local repositories stand for two regions.
@Suite("Regions")
struct RegionTests {
    @Test("init creates one repository in two regions; backup fans out; restore reads from either")
    func fanOutAndRestore() throws {
        try Sandbox.with { sandbox in
            let a = sandbox.path("region-a"), b = sandbox.path("region-b")
            let repos = ["--repo", "a=\(a)", "--repo", "b=\(b)"]
            let initialized = try sandbox.run(["init", "--kdf-log-n", "14", "--json"] + repos)
            #expect(initialized.status == 0, "\(initialized)")
            let created = try initialized.message("initialized", as: InitMessage.self)
            #expect(created.regions.map(\.status) == ["ok", "ok"])
            #expect(try readFile(a + "/config") == readFile(b + "/config"), "one repository: the same config")
            #expect(try relativePaths(below: a + "/keys") == relativePaths(below: b + "/keys"))

            let source = sandbox.path("src")
            try makeSource(source)
            let backup = try sandbox.run(["backup", "--json", source] + repos)
            #expect(backup.status == 0, "\(backup)")
            let summary = try backup.message("summary", as: RegionBackupSummary.self)
            #expect(summary.regions.map(\.name) == ["a", "b"])
            #expect(summary.regions.map(\.status) == ["ok", "ok"])
            #expect(exists(b + "/snapshots/" + summary.snapshotID))
            #expect(try objects(in: a) == objects(in: b), "every object is in both regions")

            let target = sandbox.path("restored")
            let restored = try sandbox.run(["restore", "latest", "--region", "b", "--target", target] + repos)
            #expect(restored.status == 0, "\(restored)")
            #expect(try treeDifferences(source, target + source) == [])

            // With region a gone, read commands fall back to b by themselves and say so.
            #expect(rename(a, a + ".away") == 0)
            let fallback = try sandbox.run(["snapshots", "--json"] + repos)
            #expect(fallback.status == 0, "\(fallback)")
            #expect(try fallback.listedSnapshots().map(\.id) == [summary.snapshotID])
            #expect(fallback.out.contains("reading from region b"), "\(fallback)")
            let check = try sandbox.run(["check", "--read-data", "--region", "b"] + repos)
            #expect(check.status == 0, "\(check)")
        }
    }

    @Test("an unreachable region: backup exits 4, regions shows the lag, replicate fills it")
    func unreachableRegionCatchesUp() throws {
        try Sandbox.with { sandbox in
            let a = sandbox.path("region-a"), b = sandbox.path("region-b")
            let repos = ["--repo", "a=\(a)", "--repo", "b=\(b)"]
            try sandbox.initRepository(repos)
            let source = sandbox.path("src")
            try makeSource(source)
            let first = try sandbox.backup([source] + repos)

            #expect(rename(b, b + ".away") == 0)
            try writeFile(source + "/new.bin", randomBytes(300_000, seed: 77))
            let down = try sandbox.run(["backup", "--json", source] + repos)
            #expect(down.status == 4, "\(down)")
            let second = try down.message("summary", as: RegionBackupSummary.self)
            #expect(second.regions.map(\.status) == ["ok", "unreachable"])
            #expect(second.regions[1].error?.contains("region b") == true)
            #expect(down.out.contains("lifeboat replicate --from a --to b"), "the warning says what to do: \(down)")

            let whileDown = try sandbox.run(["regions", "--json"] + repos)
            #expect(whileDown.status == 4, "\(whileDown)")
            let downReport = try whileDown.message("summary", as: RegionsReport.self)
            #expect(downReport.regions.map(\.status) == ["ok", "unreachable"])
            #expect(downReport.regions[0].newestComplete?.id == second.snapshotID)

            // Back up again, but first give it the new snapshot object alone (as a careless
            // copy would): a snapshot without its data must not count as complete.
            #expect(rename(b + ".away", b) == 0)
            let snapshotKey = "snapshots/" + second.snapshotID
            try writeFile(b + "/" + snapshotKey, try readFile(a + "/" + snapshotKey))
            let lagging = try sandbox.run(["regions", "--json"] + repos)
            #expect(lagging.status == 0, "\(lagging)")
            let lag = try lagging.message("summary", as: RegionsReport.self)
            #expect(lag.newest?.id == second.snapshotID)
            #expect(lag.regions[0].lagSeconds == 0)
            #expect(lag.regions[0].newestComplete?.id == second.snapshotID)
            #expect(lag.regions[1].newestComplete?.id == first.snapshotID)
            #expect(lag.regions[1].incompleteSnapshots == [second.snapshotID])
            #expect(lag.regions[1].snapshotsMissing == 0)
            let expectedLag = try seconds(lag.newest!.time) - seconds(lag.regions[1].newestComplete!.time)
            #expect(expectedLag > 0)
            #expect(abs((lag.regions[1].lagSeconds ?? -1) - expectedLag) < 0.001)

            let replicate = try sandbox.run(["replicate", "--json", "--from", "a", "--to", "b"] + repos,
                                            env: ["LIFEBOAT_PASSWORD": nil])
            #expect(replicate.status == 0, "replicate needs no password: \(replicate)")
            let copied = try replicate.message("summary", as: ReplicateSummary.self)
            #expect(copied.regions.count == 1)
            #expect(copied.regions[0].status == "ok")
            #expect(copied.regions[0].objectsCopied > 0)
            #expect(copied.regions[0].snapshotsCopied == 0, "the snapshot object was there already")
            #expect(copied.regions[0].conflicts.isEmpty && copied.regions[0].failures.isEmpty)

            let caughtUp = try sandbox.run(["regions", "--json"] + repos)
            #expect(caughtUp.status == 0, "\(caughtUp)")
            let report = try caughtUp.message("summary", as: RegionsReport.self)
            for region in report.regions {
                #expect(region.newestComplete?.id == second.snapshotID, "\(region.name)")
                #expect(region.lagSeconds == 0)
                #expect(region.snapshots == 2)
                #expect(region.snapshotsMissing == 0)
                #expect(region.incompleteSnapshots.isEmpty)
            }
            #expect(try objects(in: a) == objects(in: b))

            let again = try sandbox.run(["replicate", "--json"] + repos)
            #expect(again.status == 0, "\(again)")
            let idle = try again.message("summary", as: ReplicateSummary.self)
            #expect(idle.regions[0].objectsCopied == 0, "a second run copies nothing")
            #expect(idle.regions[0].objectsPresent == (try objects(in: a)).count)

            let table = try sandbox.run(["regions"] + repos)
            #expect(table.status == 0)
            #expect(table.out.contains(String(second.snapshotID.prefix(8))))
        }
    }

    @Test("replicate brings a new empty region up to date, and exits 4 if another destination is down")
    func replicateToNewAndMissingRegions() throws {
        try Sandbox.with { sandbox in
            let a = sandbox.path("region-a"), b = sandbox.path("region-b"), c = sandbox.path("region-c")
            try sandbox.initRepository(["--repo", a])
            let source = sandbox.path("src")
            try makeSource(source)
            let snapshot = try sandbox.backup([source, "--repo", a]).snapshotID
            try makeDirectory(b, mode: 0o700)

            let repos = ["--repo", "a=\(a)", "--repo", "b=\(b)", "--repo", "c=\(c)"]
            let result = try sandbox.run(["replicate", "--json"] + repos)
            #expect(result.status == 4, "\(result)")
            let summary = try result.message("summary", as: ReplicateSummary.self)
            #expect(summary.from == "a")
            #expect(summary.regions.map(\.name) == ["b", "c"])
            #expect(summary.regions.map(\.status) == ["ok", "unreachable"])
            #expect(summary.regions[0].snapshotsCopied == 1)
            #expect(try objects(in: a) == objects(in: b))

            let target = sandbox.path("restored")
            let restored = try sandbox.run(["restore", snapshot, "--region", "b", "--target", target] + repos)
            #expect(restored.status == 0, "\(restored)")
            #expect(try treeDifferences(source, target + source) == [])

            let allDown = try sandbox.run(["replicate", "--to", "c"] + repos)
            #expect(allDown.status == 1, "\(allDown)")
            #expect(allDown.err.contains("region c"))
        }
    }

    @Test("a region that fails during the backup is reported as failed (exit 4) and caught up later")
    func regionFailsDuringBackup() throws {
        try Sandbox.with { sandbox in
            let a = sandbox.path("region-a"), b = sandbox.path("region-b")
            let repos = ["--repo", "a=\(a)", "--repo", "b=\(b)"]
            try sandbox.initRepository(repos)
            // Region b answers, but every pack write fails there: 'data' is a file.
            try writeFile(b + "/data", "not a directory\n")
            let source = sandbox.path("src")
            try makeSource(source)
            let backup = try sandbox.run(["backup", "--json", source] + repos)
            #expect(backup.status == 4, "\(backup)")
            let summary = try backup.message("summary", as: RegionBackupSummary.self)
            #expect(summary.regions.map(\.status) == ["ok", "failed"])
            #expect(summary.regions[1].error?.contains("region b") == true)
            #expect(!exists(b + "/snapshots/" + summary.snapshotID), "no snapshot where its data is missing")
            #expect(exists(a + "/snapshots/" + summary.snapshotID))

            removeTree(b + "/data")
            let replicate = try sandbox.run(["replicate"] + repos)
            #expect(replicate.status == 0, "\(replicate)")
            #expect(try objects(in: a) == objects(in: b))
        }
    }

    @Test("a region holding another repository is left alone by backup and refused by replicate")
    func differentRepository() throws {
        try Sandbox.with { sandbox in
            let a = sandbox.path("region-a"), other = sandbox.path("other")
            try sandbox.initRepository(["--repo", a])
            try sandbox.initRepository(["--repo", other])
            let before = try objects(in: other)
            let source = sandbox.path("src")
            try makeSource(source)
            let repos = ["--repo", "a=\(a)", "--repo", "o=\(other)"]
            let backup = try sandbox.run(["backup", "--json", source] + repos)
            #expect(backup.status == 4, "\(backup)")
            let summary = try backup.message("summary", as: RegionBackupSummary.self)
            #expect(summary.regions.map(\.status) == ["ok", "failed"])
            #expect(summary.regions[1].error?.contains("different repository") == true)
            #expect(try objects(in: other) == before, "nothing written to the other repository")

            let replicate = try sandbox.run(["replicate"] + repos)
            #expect(replicate.status == 1, "\(replicate)")
            #expect(replicate.err.contains("different repository"))
            #expect(try objects(in: other) == before)
        }
    }

    @Test("no region reachable: backup fails naming each region; bad names are usage errors")
    func noRegionReachable() throws {
        try Sandbox.with { sandbox in
            let source = sandbox.path("src")
            try makeSource(source)
            let repos = ["--repo", "a=\(sandbox.path("gone-a"))", "--repo", "b=\(sandbox.path("gone-b"))"]
            let backup = try sandbox.run(["backup", source] + repos)
            #expect(backup.status == 1, "\(backup)")
            #expect(backup.err.contains("region a") && backup.err.contains("region b"), "\(backup)")

            #expect(try sandbox.run(["snapshots", "--region", "c"] + repos).status == 2)
            #expect(try sandbox.run(["replicate", "--from", "a", "--to", "a"] + repos).status == 2)
            #expect(try sandbox.run(["backup", "--region", "a", source] + repos).status == 2)
            #expect(try sandbox.run(["snapshots", "--repo", "a=/x", "--repo", "a=/y"]).status == 2)
        }
    }

    @Test("one directory given twice under different spellings is refused as two regions")
    func sameDirectoryTwice() throws {
        try Sandbox.with { sandbox in
            let directory = sandbox.path("dir")
            try sandbox.initRepository(["--repo", directory])
            try makeSymlink(sandbox.path("link"), to: directory)
            let source = sandbox.path("src")
            try makeSource(source)
            let lifeboat = try Lifeboat.executable()
            // `./dir` is relative to the working directory, which the shell sets.
            for (a, b) in [("dir", "dir/"), ("dir", "./dir"), ("./dir//", directory), (directory, sandbox.path("link")),
                           ("gone", "./gone/")] {
                let result = try sandbox.runProgram("/bin/sh", ["-c", "cd \"$1\" && shift && exec \"$@\"", "sh", sandbox.root,
                                                                 lifeboat, "backup", source, "--repo", "a=\(a)", "--repo", "b=\(b)"])
                #expect(result.status == 2, "\(a) and \(b): \(result)")
                let real = a == "gone" ? sandbox.path("gone") : directory
                #expect(result.err == "lifeboat: --repo: region a and region b are the same store (\(real)); give each region its own location\n",
                        "\(a) and \(b): \(result)")
            }
            #expect(try sandbox.snapshots(env: ["LIFEBOAT_REPOSITORY": directory]).isEmpty, "nothing was backed up")
        }
    }

    @Test("one S3 prefix given twice under different spellings is refused before any request")
    func sameBucketTwice() throws {
        try Sandbox.with { sandbox in
            let source = sandbox.path("src")
            try makeSource(source)
            // Nothing listens on the port: the check needs no server, and a request would fail
            // with exit 1, not 2.
            let port = try freeLoopbackPorts(1)[0]
            let env: [String: String?] = ["AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "not-a-real-secret"]
            let pairs = [
                ("s3://reg/app?endpoint=http://127.0.0.1:\(port)", "s3://reg/app/?endpoint=http://127.0.0.1:\(port)&connections=4",
                 "s3://reg/app at http://127.0.0.1:\(port)"),
                ("s3://reg/app/x?endpoint=http://LocalHost:80&retries=2", "s3://reg/app/x//?endpoint=http://localhost/",
                 "s3://reg/app/x at http://localhost"),
            ]
            for (a, b, shown) in pairs {
                let result = try sandbox.run(["backup", source, "--repo", "a=\(a)", "--repo", "b=\(b)"], env: env)
                #expect(result.status == 2, "\(result)")
                #expect(result.err == "lifeboat: --repo: region a and region b are the same store (\(shown)); give each region its own location\n",
                        "\(result)")
            }
            // Another prefix, bucket or port is another store: the backup goes on and fails
            // only on reaching it.
            for other in ["s3://reg/app2", "s3://other/app", "s3://reg/app?endpoint=http://127.0.0.1:1"] {
                let separate = other.contains("?") ? other + "&retries=1" : other + "?endpoint=http://127.0.0.1:\(port)&retries=1"
                let result = try sandbox.run(["backup", source, "--repo", "a=s3://reg/app?endpoint=http://127.0.0.1:\(port)&retries=1",
                                              "--repo", "b=\(separate)"], env: env)
                #expect(result.status == 1, "\(result)")
                #expect(result.err.contains("no region is reachable"), "\(result)")
            }
        }
    }

    @Test("--region NAME: a region that is down is named in the error, with its exit code kept")
    func selectedRegionDown() throws {
        try Sandbox.with { sandbox in
            let a = sandbox.path("region-a")
            try sandbox.initRepository(["--repo", a])
            let gone = sandbox.path("gone-b")
            let missing = try sandbox.run(["snapshots", "--repo", "a=\(a)", "--repo", "b=\(gone)", "--region", "b"])
            #expect(missing.status == 1, "\(missing)")
            #expect(missing.err.hasPrefix("lifeboat: region b: \(gone) cannot be reached"), "\(missing)")

            let alone = try sandbox.run(["snapshots", "--repo", "b=\(gone)", "--region", "b"])
            #expect(alone.status == 10, "no repository: \(alone)")
            #expect(alone.err.hasPrefix("lifeboat: region b: \(gone): no repository here"), "\(alone)")

            // An S3 region whose server is down: opening it asks nothing, the first read fails.
            let port = try freeLoopbackPorts(1)[0]
            let s3 = "s3://reg/app?endpoint=http://127.0.0.1:\(port)&retries=1"
            let env: [String: String?] = ["AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "not-a-real-secret"]
            for command in [["snapshots"], ["restore", "latest", "--target", sandbox.path("restored")], ["key", "list"]] {
                let down = try sandbox.run(command + ["--repo", "a=\(a)", "--repo", "b=\(s3)", "--region", "b"], env: env)
                #expect(down.status == 1, "\(down)")
                #expect(down.err.hasPrefix("lifeboat: region b: s3://reg/app: cannot look up config at http://127.0.0.1:\(port)"), "\(down)")
            }
            let json = try sandbox.run(["snapshots", "--json", "--repo", "a=\(a)", "--repo", "b=\(s3)", "--region", "b"], env: env)
            #expect(json.status == 1, "\(json)")
            let error = try json.message("error", as: ErrorLine.self)
            #expect(error.message.hasPrefix("region b: ") && error.code == "store_unavailable" && error.exitCode == 1, "\(json)")

            // Region a, up, still reads.
            let up = try sandbox.run(["snapshots", "--repo", "a=\(a)", "--repo", "b=\(s3)", "--region", "a"], env: env)
            #expect(up.status == 0, "\(up)")
        }
    }

    // MARK: - Helpers

    /// An `error` line of `--json`.
    private struct ErrorLine: Decodable {
        var message: String
        var code: String?
        var exitCode: Int32?

        enum CodingKeys: String, CodingKey { case message, code, exitCode = "exit_code" }
    }

    private func makeSource(_ source: String) throws {
        try makeDirectories(source + "/sub")
        try writeFile(source + "/hello.txt", "hello, regions\n")
        try writeFile(source + "/sub/data.bin", randomBytes(2 << 20, seed: 11))
    }

    /// Every object in a local repository, key → size (without `tmp/`).
    private func objects(in repository: String) throws -> [String: Int] {
        var result: [String: Int] = [:]
        for path in try relativePaths(below: repository) where !path.hasPrefix("tmp") {
            let info = try status(repository + "/" + path)
            if info.st_mode & S_IFMT == S_IFREG { result[path] = Int(info.st_size) }
        }
        return result
    }

    /// Seconds since 1970 of an RFC 3339 UTC time with nanoseconds, as lifeboat writes them.
    private func seconds(_ time: String) throws -> Double {
        // 2026-12-03T15:53:16.123456789Z
        let parts = time.split(separator: ".")
        let fields = parts.first.map { $0.split(whereSeparator: { "-T:".contains($0) }).compactMap { Int32($0) } } ?? []
        guard parts.count == 2, fields.count == 6, let fraction = Double("0." + parts[1].dropLast()) else {
            throw HarnessError("not an RFC 3339 time: \(time)")
        }
        var broken = tm()
        broken.tm_year = fields[0] - 1900
        broken.tm_mon = fields[1] - 1
        broken.tm_mday = fields[2]
        broken.tm_hour = fields[3]
        broken.tm_min = fields[4]
        broken.tm_sec = fields[5]
        return Double(timegm(&broken)) + fraction
    }
}

// MARK: - JSON messages

struct RegionLine: Decodable {
    var name: String
    var location: String
    var status: String
    var error: String?
}

struct InitMessage: Decodable {
    var regions: [RegionLine]
}

struct RegionBackupSummary: Decodable {
    var snapshotID: String
    var regions: [RegionLine]

    enum CodingKeys: String, CodingKey { case snapshotID = "snapshot_id", regions }
}

struct RegionsReport: Decodable {
    struct Snapshot: Decodable {
        var id: String
        var time: String
    }

    struct Region: Decodable {
        var name: String
        var status: String
        var snapshots: Int?
        var snapshotsMissing: Int?
        var newestComplete: Snapshot?
        var lagSeconds: Double?
        var incompleteSnapshots: [String]

        enum CodingKeys: String, CodingKey {
            case name, status, snapshots, snapshotsMissing = "snapshots_missing", newestComplete = "newest_complete"
            case lagSeconds = "lag_seconds", incompleteSnapshots = "incomplete_snapshots"
        }
    }

    var newest: Snapshot?
    var regions: [Region]
}

struct ReplicateSummary: Decodable {
    struct Destination: Decodable {
        var name: String
        var status: String
        var objectsCopied: Int
        var objectsPresent: Int
        var snapshotsCopied: Int
        var conflicts: [Conflict]
        var failures: [Failure]

        enum CodingKeys: String, CodingKey {
            case name, status, objectsCopied = "objects_copied", objectsPresent = "objects_present"
            case snapshotsCopied = "snapshots_copied", conflicts, failures
        }
    }

    struct Conflict: Decodable { var key: String }
    struct Failure: Decodable { var key: String }

    var from: String
    var regions: [Destination]
}

/// What a mistaken `--repo` value must never do: echo a secret, or act on one region of several.
@Suite("Regions: bad --repo values")
struct RegionArgumentTests {
    @Test("a secret in an S3 --repo value is refused (exit 2) and never echoed", arguments: [
        "s3://AKIAX:SuperSecret123@mybucket/p", "s3://mybucket/p?secret_key=SuperSecret123",
        "a=s3://mybucket/p?endpoint=http://AK:SuperSecret123@127.0.0.1:9",
    ])
    func secretNeverEchoed(value: String) throws {
        try Sandbox.with { sandbox in
            let env: [String: String?] = ["LIFEBOAT_REPOSITORY": nil, "AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s"]
            for command in [["snapshots"], ["regions", "--json"], ["backup", "--json", sandbox.root]] {
                let result = try sandbox.run(command + ["--repo", value, "--repo", "b=\(sandbox.path("b"))"], env: env)
                #expect(result.status == 2, "\(result)")
                #expect(!result.out.contains("SuperSecret123") && !result.err.contains("SuperSecret123"), "\(result)")
                #expect(result.err.contains("credentials never go in the repository URL") || result.out.contains("credentials never go"), "\(result)")
            }
        }
    }

    @Test("retention and undelete act on one region: with several --repo they need --region")
    func oneRegionCommands() throws {
        try Sandbox.with { sandbox in
            let env: [String: String?] = ["LIFEBOAT_REPOSITORY": nil, "AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s"]
            let repos = ["--repo", "a=s3://bucket-a/p?endpoint=http://127.0.0.1:9", "--repo", "b=s3://bucket-b/p?endpoint=http://127.0.0.1:9"]
            for command in ["retention", "undelete"] {
                let result = try sandbox.run([command] + repos, env: env)
                #expect(result.status == 2, "\(result)")
                #expect(result.err.contains("give --region NAME, and run it for each region"), "\(result)")
            }
        }
    }
}
