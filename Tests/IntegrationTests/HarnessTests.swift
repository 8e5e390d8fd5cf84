import Glibc
import Testing

/// The comparison the round-trip tests rely on must see every kind of difference, or a
/// passing round trip would prove nothing.
@Suite("Harness")
struct HarnessTests {
    @Test("treeDifferences reports each kind of difference")
    func comparisonSeesDifferences() throws {
        try Sandbox.with { sandbox in
            let (a, b) = (sandbox.path("a"), sandbox.path("b"))
            for root in [a, b] {
                try makeDirectory(root)
                try writeFile(root + "/content", "same size 1")
                try writeFile(root + "/mode", "x", mode: 0o644)
                try writeFile(root + "/owner", "x")
                try writeFile(root + "/time", "x")
                try writeFile(root + "/xattr", "x")
                try writeFile(root + "/linked", "x")
                try makeSymlink(root + "/symlink", to: "target-1")
                try writeFile(root + "/only-in-a", "x")
            }
            try writeFile(b + "/content", "same size 2")
            try setMode(b + "/mode", 0o4644)
            try setOwner(b + "/owner", uid: 1, gid: 1)
            try setTimes(a + "/time", seconds: 1_000_000_000, nanoseconds: 1)
            try setTimes(b + "/time", seconds: 1_000_000_000, nanoseconds: 2)
            _ = setExtendedAttribute(b + "/xattr", name: "user.extra", value: [1])
            try makeHardlink(a + "/second-name", to: a + "/linked")
            try writeFile(b + "/second-name", "x")
            removeTree(b + "/symlink")
            try makeSymlink(b + "/symlink", to: "target-2")
            removeTree(b + "/only-in-a")
            try writeFile(b + "/only-in-b", "x")
            for root in [a, b] { try setTimes(root, seconds: 1_500_000_000, nanoseconds: 0) }
            for name in ["content", "mode", "owner", "xattr", "linked", "second-name"] {
                try setTimes(a + "/" + name, seconds: 1_200_000_000, nanoseconds: 5)
                try setTimes(b + "/" + name, seconds: 1_200_000_000, nanoseconds: 5)
            }

            let differences = try treeDifferences(a, b)
            #expect(differences.contains("./content: content differs"))
            #expect(differences.contains("./mode: mode 644 restored as 4644"))
            #expect(differences.contains("./owner: owner 0:0 restored as 1:1"))
            #expect(differences.contains("./time: mtime 1000000000.1 restored as 1000000000.2"))
            #expect(differences.contains { $0.hasPrefix("./xattr: extended attributes") })
            #expect(differences.contains("./second-name: hard link broken (restored as a separate file)"))
            #expect(differences.contains("./symlink: symlink target 'target-1' restored as 'target-2'"))
            #expect(differences.contains("./only-in-a: missing from the restore"))
            #expect(differences.contains("./only-in-b: not in the original"))
            #expect(try treeDifferences(a, a) == [])
        }
    }
}
