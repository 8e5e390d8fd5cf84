import Glibc
import Synchronization

/// Caches user and group names both ways: backups record names beside numeric ids, and a
/// restore as root maps names back to this machine's ids (as tar and restic do).
public final class UserNames: Sendable {
    public static let shared = UserNames()

    private struct State {
        var users: [UInt32: String?] = [:]
        var groups: [UInt32: String?] = [:]
        var userIDs: [String: UInt32?] = [:]
        var groupIDs: [String: UInt32?] = [:]
    }
    private let state = Mutex(State())

    public func user(_ uid: UInt32) -> String? {
        if let cached = state.withLock({ $0.users[uid] }) { return cached }
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 4096)
        let name: String? = getpwuid_r(uid, &entry, &buffer, buffer.count, &result) == 0 && result != nil
            ? String(cString: entry.pw_name) : nil
        state.withLock { $0.users[uid] = name }
        return name
    }

    public func group(_ gid: UInt32) -> String? {
        if let cached = state.withLock({ $0.groups[gid] }) { return cached }
        var entry = Glibc.group()
        var result: UnsafeMutablePointer<Glibc.group>?
        var buffer = [CChar](repeating: 0, count: 4096)
        let name: String? = getgrgid_r(gid, &entry, &buffer, buffer.count, &result) == 0 && result != nil
            ? String(cString: entry.gr_name) : nil
        state.withLock { $0.groups[gid] = name }
        return name
    }

    public func userID(named name: String) -> UInt32? {
        if let cached = state.withLock({ $0.userIDs[name] }) { return cached }
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 4096)
        let id: UInt32? = getpwnam_r(name, &entry, &buffer, buffer.count, &result) == 0 && result != nil ? entry.pw_uid : nil
        state.withLock { $0.userIDs[name] = id }
        return id
    }

    public func groupID(named name: String) -> UInt32? {
        if let cached = state.withLock({ $0.groupIDs[name] }) { return cached }
        var entry = Glibc.group()
        var result: UnsafeMutablePointer<Glibc.group>?
        var buffer = [CChar](repeating: 0, count: 4096)
        let id: UInt32? = getgrnam_r(name, &entry, &buffer, buffer.count, &result) == 0 && result != nil ? entry.gr_gid : nil
        state.withLock { $0.groupIDs[name] = id }
        return id
    }
}

/// One thread's memo of the last user and group names it looked up: files in a tree mostly
/// share a few owners, and asking the shared cache for every file contends on its lock.
struct NameCache {
    private var lastUID: UInt32?
    private var lastUser = ""
    private var lastGID: UInt32?
    private var lastGroup = ""

    mutating func user(_ uid: UInt32) -> String {
        if uid != lastUID {
            lastUID = uid
            lastUser = UserNames.shared.user(uid) ?? ""
        }
        return lastUser
    }

    mutating func group(_ gid: UInt32) -> String {
        if gid != lastGID {
            lastGID = gid
            lastGroup = UserNames.shared.group(gid) ?? ""
        }
        return lastGroup
    }
}
