import CShims
import Glibc
import ObjectStore
import Sealing
import Synchronization

/// Restores a snapshot, or a part of it, into a directory (DESIGN §1: snapshot → tree → blob
/// locations → packs fetched in parallel, out of order → unseal → files written in place).
///
/// Never writes outside the target: entries with unsafe names (`..`, `/`, empty) are refused,
/// existing symlinks in the way are replaced rather than followed, and files are opened with
/// `O_NOFOLLOW`.
public final class Restorer: Sendable {
    private let repository: Repository
    private let options: RestoreOptions
    private let plan: Plan
    private let state: Mutex<State>
    /// Set when the target cannot take more; stops the restore.
    private let fatal = Mutex<RepositoryError?>(nil)
    // Checked for every blob written: atomics, so the workers don't queue on a lock for what
    // is almost always false (on two cores a contended lock costs more than the write).
    private let stopped = Atomic<Bool>(false)
    private let anyFileFailed = Atomic<Bool>(false)

    /// One thing to create on disk.
    private struct Planned: Sendable {
        var path: [UInt8]
        var node: Node
        /// For a second name of a hard-linked file: the index of the first.
        var linkTo: Int?
        /// The target directory standing for the snapshot's synthetic root, which has no
        /// metadata of its own: the target keeps its own.
        var isSyntheticRoot = false
    }

    /// Where each blob goes: file index and byte offset.
    private struct Target: Sendable {
        var file: Int
        var offset: UInt64
    }

    private struct Plan: Sendable {
        var entries: [Planned] = []
        var blobTargets: [BlobID: [Target]] = [:]
        var packs: [BlobID: [BlobID]] = [:]
        var blobsPerFile: [Int: Int] = [:]
        var bytesTotal: UInt64 = 0
        var filesTotal = 0
        /// Owner and group names resolved once, before the workers start: the workers read
        /// these without a lock.
        /// nil for a name this system does not know: then the stored number is used.
        var userIDs: [String: UInt32?] = [:]
        var groupIDs: [String: UInt32?] = [:]
    }

    private struct State {
        var remaining: [Int: Int] = [:]
        var failedFiles: Set<Int> = []
        var result = RestoreResult()
        var filesDone = 0
        var bytesDone: UInt64 = 0

        mutating func countFinished(size: UInt64) {
            filesDone += 1
            result.files += 1
            result.bytes += size
        }
    }

    // MARK: - Planning

    private init(repository: Repository, snapshot: SnapshotEntry, options: RestoreOptions) throws {
        self.repository = repository
        self.options = options
        guard let rootTree = snapshot.snapshot.treeID else {
            throw RepositoryError(.corrupted, "snapshot \(snapshot.id.shortHex) has no valid tree id")
        }
        let walker = TreeWalker(repository: repository)
        let start = try walker.node(at: options.subpath, in: rootTree)
        let includes = try ExcludeFilter(patterns: options.includes)
        let excludes = try ExcludeFilter(patterns: options.excludes)
        var plan = Plan()
        var errors: [String] = []
        let target = Array(Restorer.absolute(options.target).utf8)
        let subpathPrefix: [UInt8] = options.subpath.split(separator: "/").isEmpty
            ? [] : Array(("/" + options.subpath.split(separator: "/").joined(separator: "/")).utf8)

        var hardlinks: [[UInt64]: Int] = [:]
        func add(_ node: Node, diskPath: [UInt8]) {
            var planned = Planned(path: diskPath, node: node, linkTo: nil)
            if node.kind == .file && node.linkCount > 1 {
                let identity = [node.device, node.inode]
                if let first = hardlinks[identity] {
                    planned.linkTo = first
                } else {
                    hardlinks[identity] = plan.entries.count
                }
            }
            if node.kind == .file && planned.linkTo == nil {
                plan.filesTotal += 1
                plan.bytesTotal += node.size
            }
            plan.entries.append(planned)
        }

        /// Returns whether anything at or below `node` was planned.
        func visit(_ node: Node, snapshotPath: [UInt8], diskPath: [UInt8], selected: Bool) throws -> Bool {
            let name = node.name
            if excludes.excludes(path: snapshotPath, name: name) { return false }
            let isSelected = selected || includes.patterns.isEmpty || includes.excludes(path: snapshotPath, name: name)
            guard node.kind == .directory else {
                if isSelected { add(node, diskPath: diskPath) }
                return isSelected
            }
            let position = plan.entries.count
            add(node, diskPath: diskPath)
            var any = isSelected
            if let subtree = node.subtree {
                let tree: Tree
                do {
                    tree = try repository.loadTree(subtree)
                } catch {
                    errors.append("\(snapshotPath.isEmpty ? "/" : String(decoding: snapshotPath, as: UTF8.self)): contents not restored: \(error)")
                    return any
                }
                for child in tree.nodes {
                    guard Restorer.isSafe(child.name) else {
                        errors.append("\(String(decoding: snapshotPath, as: UTF8.self)): refusing entry with unsafe name '\(child.displayName)'")
                        continue
                    }
                    let childSnapshotPath = snapshotPath + [UInt8(ascii: "/")] + child.name
                    if try visit(child, snapshotPath: childSnapshotPath, diskPath: joinPath(diskPath, child.name),
                                 selected: isSelected) {
                        any = true
                    }
                }
            }
            if !any {
                plan.entries.removeSubrange(position...)
            }
            return any
        }

        if start.kind == .directory {
            var root = start
            root.name = []
            _ = try visit(root, snapshotPath: subpathPrefix, diskPath: target, selected: false)
            if let first = plan.entries.first, first.path == target, start.name.isEmpty {
                plan.entries[0].isSyntheticRoot = true
            }
        } else {
            _ = try visit(start, snapshotPath: subpathPrefix, diskPath: joinPath(target, start.name), selected: false)
        }

        for (index, entry) in plan.entries.enumerated() where entry.node.kind == .file && entry.linkTo == nil {
            var offset: UInt64 = 0
            for id in entry.node.content {
                guard let location = repository.location(of: id) else {
                    errors.append("\(String(decoding: entry.path, as: UTF8.self)): data blob \(id.shortHex) is missing from the index; the file is restored incomplete; run 'lifeboat check'")
                    offset += 0
                    continue
                }
                if plan.blobTargets[id] == nil {
                    plan.packs[location.pack, default: []].append(id)
                }
                plan.blobTargets[id, default: []].append(Target(file: index, offset: offset))
                plan.blobsPerFile[index, default: 0] += 1
                offset += UInt64(location.plaintextLength)
            }
        }
        if options.restoreOwnership {
            for entry in plan.entries {
                let node = entry.node
                if !node.user.isEmpty, plan.userIDs.index(forKey: node.user) == nil {
                    plan.userIDs[node.user] = .some(UserNames.shared.userID(named: node.user))
                }
                if !node.group.isEmpty, plan.groupIDs.index(forKey: node.group) == nil {
                    plan.groupIDs[node.group] = .some(UserNames.shared.groupID(named: node.group))
                }
            }
        }
        self.plan = plan
        var state = State()
        state.remaining = plan.blobsPerFile
        state.result.errors = errors
        self.state = Mutex(state)
        for error in errors { options.warning?(error) }
    }

    static func isSafe(_ name: [UInt8]) -> Bool {
        !name.isEmpty && name != [46] && name != [46, 46] && !name.contains(UInt8(ascii: "/")) && !name.contains(0)
    }

    static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : currentDirectory() + "/" + path
    }

    // MARK: - Running

    /// Restores `snapshot` as `options` say.
    public static func run(_ repository: Repository, snapshot: SnapshotEntry, options: RestoreOptions) throws -> RestoreResult {
        let started = Node.Timestamp.now()
        // A blob stored again after its pack was lost has two index entries; only the live one counts.
        _ = try repository.forgetLostPacks()
        let restorer = try Restorer(repository: repository, snapshot: snapshot, options: options)
        try restorer.createTarget()
        try restorer.createEntries()
        try restorer.writeContent(started: started)
        restorer.createHardlinks()
        restorer.finishDirectories()
        if options.verify { restorer.verify() }
        return restorer.state.withLock { state in
            var result = state.result
            result.secondsElapsed = Node.Timestamp.now().seconds(since: started)
            return result
        }
    }

    private func record(_ error: String) {
        state.withLock { $0.result.errors.append(error) }
        options.warning?(error)
    }

    private func createTarget() throws {
        let target = Restorer.absolute(options.target)
        var path = ""
        for component in target.split(separator: "/") {
            path += "/" + component
            if mkdir(path, 0o700) != 0 && errno != EEXIST {
                throw RepositoryError(.io, "cannot create target directory \(path): \(String(cString: strerror(errno)))")
            }
        }
        var info = stat()
        guard stat(target, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
            throw RepositoryError(.invalidArgument, "target \(target) is not a directory")
        }
        guard access(target, W_OK | X_OK) == 0 else {
            throw RepositoryError(.io, "target \(target) is not writable (\(String(cString: strerror(errno)))); choose another --target or fix its permissions")
        }
    }

    /// Makes room for a new entry at `path`: anything but a directory there is removed, so an
    /// existing symlink is never followed.
    private func clear(_ path: [UInt8], keepDirectory: Bool) -> Bool {
        var info = stat()
        let exists = withCPath(path) { lstat($0, &info) } == 0
        guard exists else { return true }
        if info.st_mode & S_IFMT == S_IFDIR {
            if keepDirectory { return true }
            record("\(String(decoding: path, as: UTF8.self)): a directory is in the way; not replaced")
            return false
        }
        guard withCPath(path, { unlink($0) }) == 0 else {
            record("\(SystemCallError("unlink", path))")
            return false
        }
        return true
    }

    private func createEntries() throws {
        for (index, entry) in plan.entries.enumerated() {
            if options.isCancelled() { throw RepositoryError(.interrupted, "restore interrupted") }
            let path = entry.path
            let node = entry.node
            switch node.kind {
            case .directory:
                guard clear(path, keepDirectory: true) else { continue }
                if withCPath(path, { mkdir($0, 0o700) }) != 0 && errno != EEXIST {
                    let errorNumber = errno
                    stopIfTargetFull(errorNumber)
                    if let fatal = fatal.withLock({ $0 }) { throw fatal }
                    record("\(SystemCallError("mkdir", path, errorNumber: errorNumber))")
                    continue
                }
                state.withLock { $0.result.directories += 1 }
            case .file:
                // Every file is created here, on one thread: concurrent creators make ext4
                // spin on its group locks (measured: several times the system time), and
                // the writers then only open existing files.
                if entry.linkTo != nil { continue }
                guard let descriptor = create(index) else { continue }
                if plan.blobsPerFile[index] == nil {
                    finishFile(index, descriptor: descriptor)
                } else {
                    close(descriptor)
                }
            case .symlink:
                guard clear(path, keepDirectory: false) else { continue }
                let created = withCPath(node.symlinkTarget) { target in withCPath(path) { symlink(target, $0) } }
                guard created == 0 else {
                    record("\(SystemCallError("symlink", path))")
                    continue
                }
                applyMetadata(node, to: path)
                state.withLock { $0.result.otherEntries += 1 }
            case .fifo, .characterDevice, .blockDevice:
                guard clear(path, keepDirectory: false) else { continue }
                let type: mode_t = node.kind == .fifo ? S_IFIFO : node.kind == .characterDevice ? S_IFCHR : S_IFBLK
                let made = withCPath(path) { mknod($0, type | 0o600, dev_t(node.deviceNumber)) }
                guard made == 0 else {
                    record("\(SystemCallError("mknod", path))")
                    continue
                }
                applyMetadata(node, to: path)
                state.withLock { $0.result.otherEntries += 1 }
            case .socket:
                // A socket belongs to the process that made it; there is nothing to restore.
                continue
            }
        }
    }

    private func writeContent(started: Node.Timestamp) throws {
        let packs = BoundedQueue<(BlobID, [BlobID])>(capacity: 64)
        let done = Mutex(false)
        let progress = options.progress.map { report in
            BackgroundThread(name: "restore.progress") { [self] in
                while !done.withLock({ $0 }) {
                    usleep(250_000)
                    let (files, bytes) = state.withLock { ($0.filesDone, $0.bytesDone) }
                    report(RestoreProgress(secondsElapsed: Node.Timestamp.now().seconds(since: started),
                                           filesDone: files, filesTotal: plan.filesTotal,
                                           bytesDone: bytes, bytesTotal: plan.bytesTotal))
                }
            }
        }
        defer {
            done.withLock { $0 = true }
            progress?.wait()
        }
        let feeder = BackgroundThread(name: "restore.feed") { [plan] in
            for pack in plan.packs { packs.push((pack.key, pack.value)) }
            packs.close()
        }
        // Fetching is I/O bound and unsealing CPU bound: more threads than cores keep both busy.
        runThreads(count: options.workers, name: "restore") { _ in
            let sealer: BlobSealer
            do {
                sealer = try self.repository.makeSealer()
            } catch {
                self.record("cannot set up decryption: \(error)")
                while packs.pop() != nil {}
                return
            }
            while let (pack, blobs) = packs.pop() {
                if self.options.isCancelled() || self.fatal.withLock({ $0 != nil }) { continue }
                self.restore(pack: pack, blobs: blobs, sealer: sealer)
            }
        }
        feeder.wait()
        if let fatal = fatal.withLock({ $0 }) { throw fatal }
        if options.isCancelled() { throw RepositoryError(.interrupted, "restore interrupted; the target holds a partial restore") }
    }

    /// Reads the needed blobs of one pack in runs of at most `maximumRead` bytes (gaps of
    /// unneeded blobs inside a run are read and skipped), so memory per thread stays small.
    private static let maximumRead = 4 << 20

    private func restore(pack: BlobID, blobs: [BlobID], sealer: BlobSealer) {
        var located = blobs.compactMap { id in repository.location(of: id).map { (id, $0) } }
        located.sort { $0.1.offset < $1.1.offset }
        var start = 0
        while start < located.count {
            var end = start + 1
            let runStart = located[start].1.offset
            while end < located.count,
                  located[end].1.offset + located[end].1.storedLength - runStart <= Restorer.maximumRead {
                end += 1
            }
            restore(run: located[start..<end], pack: pack, sealer: sealer)
            start = end
        }
    }

    private func restore(run located: ArraySlice<(BlobID, BlobLocation)>, pack: BlobID, sealer: BlobSealer) {
        guard let first = located.first, let last = located.last else { return }
        let key = packKey(pack, type: first.1.type)
        let spanStart = first.1.offset
        let spanEnd = last.1.offset + last.1.storedLength
        var bytes: [UInt8]
        do {
            bytes = try repository.store.get(key, range: spanStart..<spanEnd)
        } catch {
            for (id, _) in located { fail(blob: id, reason: "pack \(pack.shortHex) unreadable: \(error)") }
            return
        }
        // A network store can hand back bytes damaged on the way: at the first blob that does not
        // authenticate, the run is read once more, which tells that from damage at rest (which
        // fails again). One plaintext at a time is in memory.
        var readAgain = false
        for (id, location) in located {
            func authenticate() -> [UInt8]? {
                let start = location.offset - spanStart
                return try? bytes[start..<(start + location.storedLength)].withUnsafeBytes {
                    try sealer.open($0, id: id, type: BlobType.data.rawValue, plaintextLength: location.plaintextLength)
                }
            }
            var opened = authenticate()
            if opened == nil && !readAgain {
                readAgain = true
                if let again = try? repository.store.get(key, range: spanStart..<spanEnd) {
                    bytes = again
                    opened = authenticate()
                }
            }
            guard let plaintext = opened else {
                fail(blob: id, reason: "blob \(id.shortHex) in pack \(pack.shortHex) does not authenticate (corrupted)")
                continue
            }
            // Zero runs of whole 4 KiB blocks are not written: the file was sized with
            // ftruncate, so they stay holes and sparse files come back sparse.
            let runs = plaintext.withUnsafeBytes { Restorer.nonZeroRuns(in: $0) }
            if stopped.load(ordering: .relaxed) { return }
            for target in plan.blobTargets[id] ?? [] {
                if anyFileFailed.load(ordering: .relaxed), state.withLock({ $0.failedFiles.contains(target.file) }) { continue }
                guard let descriptor = openForWriting(target.file) else { continue }
                var writeError: Int32 = 0
                plaintext.withUnsafeBytes { raw in
                    for run in runs where writeError == 0 {
                        var written = 0
                        while written < run.count {
                            let count = pwrite(descriptor, raw.baseAddress! + run.lowerBound + written, run.count - written,
                                               off_t(target.offset) + off_t(run.lowerBound + written))
                            if count < 0 {
                                if errno == EINTR { continue }
                                writeError = errno
                                return
                            }
                            written += count
                        }
                    }
                }
                if writeError != 0 {
                    close(descriptor)
                    stopIfTargetFull(writeError)
                    failFile(target.file, reason: "\(SystemCallError("write", plan.entries[target.file].path, errorNumber: writeError))")
                    continue
                }
                let size = plan.entries[target.file].node.size
                let finished = state.withLock { state -> Bool in
                    state.bytesDone += UInt64(plaintext.count)
                    state.remaining[target.file]! -= 1
                    guard state.remaining[target.file]! == 0 else { return false }
                    state.countFinished(size: size)
                    return true
                }
                if finished {
                    finishFile(target.file, descriptor: descriptor, counted: true)
                } else {
                    close(descriptor)
                }
            }
        }
    }

    /// Opens an existing file (made by `createEntries`) for writing one of its blobs.
    private func openForWriting(_ index: Int) -> Int32? {
        let path = plan.entries[index].path
        let descriptor = withCPath(path) { open($0, O_WRONLY | O_NOFOLLOW | O_CLOEXEC) }
        guard descriptor >= 0 else {
            failFile(index, reason: "\(SystemCallError("open", path))")
            return nil
        }
        return descriptor
    }

    /// Creates a regular file at its full size (zero runs never written stay holes, so sparse
    /// files come back sparse). Whatever is in the way is removed first, never followed.
    private func create(_ index: Int) -> Int32? {
        let path = plan.entries[index].path
        let flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC
        var descriptor = withCPath(path) { open($0, flags, 0o600) }
        if descriptor < 0 && errno == EEXIST {
            guard clear(path, keepDirectory: false) else {
                _ = state.withLock { $0.failedFiles.insert(index) }
                anyFileFailed.store(true, ordering: .relaxed)
                return nil
            }
            descriptor = withCPath(path) { open($0, flags, 0o600) }
        }
        guard descriptor >= 0 else {
            let errorNumber = errno
            failFile(index, reason: "\(SystemCallError("create", path, errorNumber: errorNumber))")
            stopIfTargetFull(errorNumber)
            return nil
        }
        let size = plan.entries[index].node.size
        if size > 0 && ftruncate(descriptor, off_t(size)) != 0 {
            record("\(SystemCallError("ftruncate", path))")
        }
        return descriptor
    }

    /// The byte ranges of `bytes` to write: everything except zero-filled 4 KiB blocks
    /// (aligned to the start of the blob), adjacent non-zero blocks merged into one run.
    static func nonZeroRuns(in bytes: UnsafeRawBufferPointer) -> [Range<Int>] {
        let block = 4096
        var runs: [Range<Int>] = []
        var start = 0
        while start < bytes.count {
            let end = min(start + block, bytes.count)
            if !isAllZero(UnsafeRawBufferPointer(rebasing: bytes[start..<end])) {
                if let last = runs.last, last.upperBound == start {
                    runs[runs.count - 1] = last.lowerBound..<end
                } else {
                    runs.append(start..<end)
                }
            }
            start = end
        }
        return runs
    }

    static func isAllZero(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var index = 0
        let count = bytes.count
        while index + 8 <= count {
            if bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self) != 0 { return false }
            index += 8
        }
        while index < count {
            if bytes[index] != 0 { return false }
            index += 1
        }
        return true
    }

    private func fail(blob id: BlobID, reason: String) {
        for target in plan.blobTargets[id] ?? [] {
            failFile(target.file, reason: reason)
        }
    }

    /// Stops the whole restore when the target cannot take more (no space, read-only):
    /// every further file would fail the same way.
    private func stopIfTargetFull(_ errorNumber: Int32) {
        guard errorNumber == ENOSPC || errorNumber == EDQUOT || errorNumber == EROFS else { return }
        let target = Restorer.absolute(options.target)
        stopped.store(true, ordering: .relaxed)
        fatal.withLock { fatal in
            if fatal == nil {
                fatal = RepositoryError(.io, "target \(target): \(String(cString: strerror(errorNumber))); the restore stopped. Free space (or choose another --target) and run it again: it overwrites what is there")
            }
        }
    }

    private func failFile(_ file: Int, reason: String) {
        // Once the target is full, the one fatal error says it all.
        if fatal.withLock({ $0 != nil }) { return }
        let first = state.withLock { $0.failedFiles.insert(file).inserted }
        anyFileFailed.store(true, ordering: .relaxed)
        if first { record("\(String(decoding: plan.entries[file].path, as: UTF8.self)): not restored correctly: \(reason)") }
    }

    /// Applies a finished file's metadata through its descriptor and closes it.
    /// `counted`: the caller already counted the file as done, under the lock it held anyway.
    private func finishFile(_ index: Int, descriptor: Int32, counted: Bool = false) {
        let entry = plan.entries[index]
        applyMetadata(entry.node, to: entry.path, descriptor: descriptor)
        close(descriptor)
        if !counted {
            state.withLock { $0.countFinished(size: entry.node.size) }
        }
    }

    private func createHardlinks() {
        for entry in plan.entries {
            guard let first = entry.linkTo else { continue }
            if state.withLock({ $0.failedFiles.contains(first) }) { continue }
            guard clear(entry.path, keepDirectory: false) else { continue }
            let linked = withCPath(plan.entries[first].path) { source in withCPath(entry.path) { link(source, $0) } }
            if linked != 0 {
                record("\(SystemCallError("link", entry.path))")
            } else {
                state.withLock { $0.result.files += 1 }
            }
        }
    }

    private func finishDirectories() {
        for entry in plan.entries.reversed() where entry.node.kind == .directory && !entry.isSyntheticRoot {
            applyMetadata(entry.node, to: entry.path)
        }
    }

    // MARK: - Metadata

    /// Owner (when restoring ownership), extended attributes, mode, then times: in that order
    /// because chown clears setuid bits and every change updates the times. With an open
    /// `descriptor` the calls go through it instead of looking the path up again.
    private func applyMetadata(_ node: Node, to path: [UInt8], descriptor: Int32? = nil) {
        withCPath(path) { cPath in
            if options.restoreOwnership {
                let uid = plan.userIDs[node.user].flatMap { $0 } ?? node.uid
                let gid = plan.groupIDs[node.group].flatMap { $0 } ?? node.gid
                let result = descriptor.map { fchown($0, uid, gid) } ?? lchown(cPath, uid, gid)
                if result != 0 {
                    record("\(SystemCallError("chown", path))")
                }
            }
            for attribute in node.extendedAttributes {
                let result = withCPath(attribute.name) { name in
                    attribute.value.withUnsafeBytes { value in
                        descriptor.map { fsetxattr($0, name, value.baseAddress, value.count, 0) }
                            ?? lsetxattr(cPath, name, value.baseAddress, value.count, 0)
                    }
                }
                if result != 0 && errno != ENOTSUP {
                    record("\(SystemCallError("setxattr \(String(decoding: attribute.name, as: UTF8.self))", path))")
                }
            }
            if node.kind != .symlink {
                let result = descriptor.map { fchmod($0, mode_t(node.mode)) } ?? chmod(cPath, mode_t(node.mode))
                if result != 0 {
                    record("\(SystemCallError("chmod", path))")
                }
            }
            var times = [
                timespec(tv_sec: Int(node.accessTime.seconds), tv_nsec: Int(node.accessTime.nanoseconds)),
                timespec(tv_sec: Int(node.modificationTime.seconds), tv_nsec: Int(node.modificationTime.nanoseconds)),
            ]
            let result = descriptor.map { futimens($0, &times) } ?? utimensat(AT_FDCWD, cPath, &times, AT_SYMLINK_NOFOLLOW)
            if result != 0 {
                record("\(SystemCallError("utimensat", path))")
            }
        }
    }

    // MARK: - Verify

    /// Re-reads every restored file and checks each piece against its blob id.
    private func verify() {
        let files = BoundedQueue<Int>(capacity: 256)
        let feeder = BackgroundThread(name: "verify.feed") { [self] in
            for (index, entry) in plan.entries.enumerated()
            where entry.node.kind == .file && entry.linkTo == nil && !state.withLock({ $0.failedFiles.contains(index) }) {
                files.push(index)
            }
            files.close()
        }
        runThreads(count: options.workers, name: "verify") { _ in
            guard let sealer = try? self.repository.makeSealer() else {
                while files.pop() != nil {}
                return
            }
            while let index = files.pop() {
                if self.verify(index, sealer: sealer) {
                    self.state.withLock { $0.result.filesVerified += 1 }
                }
            }
        }
        feeder.wait()
    }

    private func verify(_ index: Int, sealer: BlobSealer) -> Bool {
        let entry = plan.entries[index]
        let descriptor = withCPath(entry.path) { open($0, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) }
        guard descriptor >= 0 else {
            failFile(index, reason: "verify: \(SystemCallError("open", entry.path))")
            return false
        }
        defer { close(descriptor) }
        var offset: off_t = 0
        for id in entry.node.content {
            guard let length = repository.location(of: id)?.plaintextLength else { return false }
            var buffer = [UInt8](repeating: 0, count: length)
            let read = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, length, offset) }
            guard read == length, buffer.withUnsafeBytes({ sealer.id(of: $0) }) == id else {
                failFile(index, reason: "verify: content at offset \(offset) differs from the snapshot")
                return false
            }
            offset += off_t(length)
        }
        var extra: UInt8 = 0
        guard pread(descriptor, &extra, 1, offset) == 0 else {
            failFile(index, reason: "verify: file is longer than in the snapshot")
            return false
        }
        return true
    }
}
