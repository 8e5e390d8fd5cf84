import Testing

/// Lock-free writers (DESIGN §2): backups into one repository at the same time.
@Suite("Concurrent writers")
struct ConcurrencyTests {
    @Test("two backups at once into one repository both commit and both restore")
    func twoBackupsAtOnce() throws {
        try Sandbox.with { sandbox in
            try sandbox.initRepository()
            // Two trees sharing most of their content, so both processes race to store the
            // same blobs, plus some content of their own.
            let shared = (0..<6).map { randomBytes(900_000, seed: 500 + UInt64($0)) }
            let sources = [sandbox.path("left"), sandbox.path("right")]
            for (side, source) in sources.enumerated() {
                try makeDirectory(source)
                try makeDirectory(source + "/shared")
                for (number, bytes) in shared.enumerated() { try writeFile(source + "/shared/\(number).bin", bytes) }
                try writeFile(source + "/own.bin", randomBytes(1_500_000, seed: 600 + UInt64(side)))
                try writeFile(source + "/own.txt", "side \(side)\n")
            }

            let running = try sources.map { try sandbox.start(["backup", "--json", $0]) }
            let results = try running.map { try $0.wait() }
            for result in results { #expect(result.status == 0, "\(result)") }
            let summaries = try results.map { try $0.message("summary", as: BackupSummary.self) }
            #expect(summaries.map(\.filesNew) == [8, 8])

            let listed = try sandbox.snapshots()
            #expect(Set(listed.map(\.id)) == Set(summaries.map(\.snapshotID)))
            for (source, summary) in zip(sources, summaries) {
                let target = sandbox.path("restored-\(summary.snapshotID.prefix(8))")
                try sandbox.restore(summary.snapshotID, to: target)
                #expect(try treeDifferences(source, target + source) == [])
            }

            let check = try sandbox.run(["check", "--read-data"])
            #expect(check.status == 0, "\(check)")
            #expect(check.out.contains("no errors found"), "\(check)")

            // --read-data-subset n/3 for n = 1, 2, 3 reads every pack exactly once between them.
            var packsRead = 0
            var packs = 0
            for part in 1...3 {
                let subset = try sandbox.run(["check", "--read-data-subset", "\(part)/3", "--json"])
                #expect(subset.status == 0, "\(subset)")
                let summary = try subset.message("summary", as: CheckSummary.self)
                packsRead += summary.packsRead
                packs = summary.packs
            }
            #expect(packsRead == packs)
        }
    }
}
