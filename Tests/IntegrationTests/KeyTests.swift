import Glibc
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

    @Test("passwd whose old key cannot be removed says the new password works and the old one still does")
    func passwdKeepsOldKey() throws {
        try Sandbox.with { sandbox in
            try sandbox.initRepository()
            let oldKey = try #require(try sandbox.run(["key", "list", "--json"]).json([ListedKey].self).first).id
            let newPassword = "the new password"
            try writeFile(sandbox.path("new.pw"), newPassword, mode: 0o600)
            // An immutable file cannot be unlinked, even by root; the directory stays writable,
            // so the new key file is stored.
            let keyFile = sandbox.repository + "/keys/" + oldKey
            let chattr = "/usr/bin/chattr"
            let locked = try sandbox.runProgram(chattr, ["+i", keyFile])
            try #require(locked.status == 0, "chattr +i is needed to make a key file undeletable: \(locked)")
            defer { _ = try? sandbox.runProgram(chattr, ["-i", keyFile]) }

            let passwd = try sandbox.run(["key", "passwd", "--new-password-file", sandbox.path("new.pw")])
            #expect(passwd.status == 1, "\(passwd)")
            let keys = try sandbox.run(["key", "list", "--json"]).json([ListedKey].self)
            #expect(keys.count == 2, "both key files are there")
            let newKey = try #require(keys.first { $0.id != oldKey }).id
            #expect(passwd.err.hasPrefix("lifeboat: the new password works (key \(newKey.prefix(8)) saved); the old key \(oldKey.prefix(8)) could not be removed: cannot delete keys/\(oldKey)"), "\(passwd)")
            #expect(passwd.err.hasSuffix("; it keeps working until it is removed ('lifeboat key remove \(oldKey.prefix(8))' with the new password once the cause is fixed)\n"), "\(passwd)")
            #expect(try sandbox.run(["snapshots"]).status == 0, "the old password still opens the repository")
            #expect(try sandbox.run(["snapshots"], env: ["LIFEBOAT_PASSWORD": newPassword]).status == 0, "and so does the new one")

            let json = try sandbox.run(["key", "passwd", "--json", "--new-password-file", sandbox.path("new.pw")])
            #expect(json.status == 1, "\(json)")
            let added = try json.message("key", as: KeyLine.self)
            #expect(added.action == "added")
            #expect(try sandbox.run(["key", "list", "--json"]).json([ListedKey].self).map(\.id).contains(added.id))

            // Once the cause is gone, the advice works.
            _ = try sandbox.runProgram(chattr, ["-i", keyFile])
            let remove = try sandbox.run(["key", "remove", String(oldKey.prefix(8))], env: ["LIFEBOAT_PASSWORD": newPassword])
            #expect(remove.status == 0, "\(remove)")
            #expect(try sandbox.run(["snapshots"]).status == 12, "the old password is gone")
        }
    }

    @Test("key passwd and key remove on an Object Lock bucket: the lock keeps the old key, and the messages say so")
    func objectLockKeepsOldKey() throws {
        try Sandbox.with { sandbox in
            let server = try SeaweedFS.start(in: sandbox.path("s3"))
            defer { server.stop() }
            try server.createBucket("locked-keys", objectLock: true)
            let env: [String: String?] = [
                "LIFEBOAT_REPOSITORY": "s3://locked-keys/r?endpoint=\(server.endpoint)&lock-mode=governance&lock-days=1",
                "AWS_ACCESS_KEY_ID": server.backup.accessKey, "AWS_SECRET_ACCESS_KEY": server.backup.secretKey,
            ]
            #expect(try sandbox.run(["init", "--kdf-log-n", "14"], env: env).status == 0)
            let oldKey = try #require(try sandbox.run(["key", "list", "--json"], env: env).json([ListedKey].self).first).id
            let newPassword = "the new password"
            try writeFile(sandbox.path("new.pw"), newPassword, mode: 0o600)

            let passwd = try sandbox.run(["key", "passwd", "--new-password-file", sandbox.path("new.pw")], env: env)
            #expect(passwd.status == 1, "\(passwd)")
            let keys = try sandbox.run(["key", "list", "--json"], env: env).json([ListedKey].self)
            #expect(keys.count == 2, "\(keys)")
            let newKey = try #require(keys.first { $0.id != oldKey }).id
            #expect(passwd.err.hasPrefix("lifeboat: the new password works (key \(newKey.prefix(8)) saved); the old key \(oldKey.prefix(8)) could not be removed: "), "\(passwd)")
            #expect(passwd.err.contains("could not be removed: its key file is under Object Lock retention (governance mode) until 20"), "\(passwd)")
            #expect(passwd.err.hasSuffix("; it keeps working until it is removed ('lifeboat key remove \(oldKey.prefix(8))' with the new password once its Object Lock retention ends)\n"), "\(passwd)")
            var both = env
            both["LIFEBOAT_PASSWORD"] = newPassword
            #expect(try sandbox.run(["snapshots"], env: env).status == 0, "the old password still works")
            #expect(try sandbox.run(["snapshots"], env: both).status == 0, "and so does the new one")

            let remove = try sandbox.run(["key", "remove", String(oldKey.prefix(8))], env: both)
            #expect(remove.status == 1, "\(remove)")
            #expect(remove.err.hasPrefix("lifeboat: key \(oldKey.prefix(8)) was not removed: its key file is under Object Lock retention (governance mode) until 20"), "\(remove)")
            #expect(remove.err.contains("; run 'lifeboat key remove \(oldKey.prefix(8))' again once it ends"), "\(remove)")
            #expect(try sandbox.run(["key", "list", "--json"], env: both).json([ListedKey].self).count == 2)
        }
    }

    /// The `message_type: key` line of `key … --json`.
    private struct KeyLine: Decodable {
        var action: String
        var id: String
    }
}
