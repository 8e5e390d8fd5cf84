import Testing

/// `lifeboat key`: several passwords for one repository, without re-encrypting anything.
@Suite("Keys")
struct KeyTests {
    @Test("add, list, open with the new password, remove the old key, change the password")
    func keyLifecycle() throws {
        try Sandbox.with { sandbox in
            try sandbox.initRepository()
            let source = sandbox.path("src")
            try makeDirectory(source)
            try writeFile(source + "/data.txt", "protected by several passwords\n")
            let snapshot = try sandbox.backup([source]).snapshotID

            let original = sandbox.password
            let second = "second password"
            let third = "third password"
            try writeFile(sandbox.path("second.pw"), second + "\n", mode: 0o600)
            try writeFile(sandbox.path("third.pw"), third, mode: 0o600)

            let add = try sandbox.run(["key", "add", "--new-password-file", sandbox.path("second.pw")])
            #expect(add.status == 0, "\(add)")

            let list = try sandbox.run(["key", "list", "--json"])
            #expect(list.status == 0, "\(list)")
            let keys = try list.json([ListedKey].self)
            #expect(keys.count == 2)
            #expect(keys.filter(\.current).count == 1)
            let originalKey = try #require(keys.first { $0.current }).id

            // The new password opens the repository (the trailing newline of the file is not
            // part of it) and sees the same snapshot.
            let withSecond = try sandbox.snapshots(env: ["LIFEBOAT_PASSWORD": second])
            #expect(withSecond.map(\.id) == [snapshot])
            let withFile = try sandbox.run(["snapshots"], env: ["LIFEBOAT_PASSWORD": nil,
                                                                 "LIFEBOAT_PASSWORD_FILE": sandbox.path("second.pw")])
            #expect(withFile.status == 0, "\(withFile)")

            // A key cannot remove itself.
            let removeSelf = try sandbox.run(["key", "remove", String(originalKey.prefix(8))])
            #expect(removeSelf.status == 1, "\(removeSelf)")
            #expect(removeSelf.signal == nil)

            let remove = try sandbox.run(["key", "remove", String(originalKey.prefix(8))], env: ["LIFEBOAT_PASSWORD": second])
            #expect(remove.status == 0, "\(remove)")
            let afterRemove = try sandbox.run(["key", "list", "--json"], env: ["LIFEBOAT_PASSWORD": second])
            #expect(try afterRemove.json([ListedKey].self).count == 1)
            let originalRefused = try sandbox.run(["snapshots"], env: ["LIFEBOAT_PASSWORD": original])
            #expect(originalRefused.status == 12, "\(originalRefused)")

            let passwd = try sandbox.run(["key", "passwd", "--new-password-file", sandbox.path("third.pw")],
                                         env: ["LIFEBOAT_PASSWORD": second])
            #expect(passwd.status == 0, "\(passwd)")
            let secondRefused = try sandbox.run(["snapshots"], env: ["LIFEBOAT_PASSWORD": second])
            #expect(secondRefused.status == 12, "\(secondRefused)")
            let finalKeys = try sandbox.run(["key", "list", "--json"], env: ["LIFEBOAT_PASSWORD": third])
            #expect(try finalKeys.json([ListedKey].self).count == 1)

            // The data is still readable with the only password left.
            let target = sandbox.path("restored")
            let restore = try sandbox.run(["restore", "latest", "--target", target], env: ["LIFEBOAT_PASSWORD": third])
            #expect(restore.status == 0, "\(restore)")
            #expect(try readText(target + source + "/data.txt") == "protected by several passwords\n")
        }
    }
}
