import CShims
import Glibc
import Sealing
import Synchronization

/// Runs one backup (DESIGN §1 data flow): walk the source, read and chunk files on worker
/// threads, store new blobs in packs, build trees bottom-up, write the index, and commit by
/// writing the snapshot last.
public final class Backup: Sendable {
    private let repository: Repository
    private let options: BackupOptions
    private let storage: BlobStorage
    private let assembler: TreeAssembler
    private let excludes: ExcludeFilter
    private let jobs: BoundedQueue<FileJob>
    private let directories = WorkStack<DirectoryJob>()

    private struct Counters {
        var currentPath: [UInt8] = []
        var warnings: [BackupWarning] = []
    }
    private let counters = Mutex(Counters())
    // Counted by every thread for every file: atomics, not a contended lock.
    private let filesNew = Atomic<Int>(0)
    private let filesChanged = Atomic<Int>(0)
    private let filesUnmodified = Atomic<Int>(0)
    private let filesProcessed = Atomic<Int>(0)
    private let bytesProcessed = Atomic<UInt64>(0)

    private struct FileJob: Sendable {
        var path: [UInt8]
        /// Opened by the scanner, which also asked the kernel to start reading it ahead.
        var descriptor: Int32
        var node: Node
        var directory: TreeAssembler.Handle
        var slot: Int
        var isNew: Bool
    }

    private init(repository: Repository, options: BackupOptions) throws {
        self.repository = repository
        self.options = options
        storage = try BlobStorage(repository: repository)
        assembler = TreeAssembler(storage: storage)
        excludes = try ExcludeFilter(patterns: options.excludes)
        // Each queued job holds an open file; 128 stays well inside the default limit of 1024.
        jobs = BoundedQueue(capacity: 128)
    }

    /// Backs up `options.source` into `repository` and returns the new snapshot.
    ///
    /// Unreadable items are reported through `options.warning`, left out, and flagged in the
    /// result (exit code 3). A failing source command, a storage error or cancellation throws
    /// and writes no snapshot; packs already stored are kept for the next run to reuse.
    public static func run(_ repository: Repository, options: BackupOptions) throws -> BackupResult {
        try Backup(repository: repository, options: options).run()
    }

    private func run() throws -> BackupResult {
        let start = Node.Timestamp.now()
        for key in try repository.forgetLostPacks() {
            warn(.repository, Array(key.utf8), "pack \(key) is listed in the index but missing or truncated in the store; its data is stored again if it is still in the source")
        }
        let (snapshots, _) = try repository.snapshots()
        let parent = try selectParent(from: snapshots)
        let finished = Mutex(false)
        let progressThread = options.progress.map { report in
            BackgroundThread(name: "progress") { [self] in
                while !finished.withLock({ $0 }) {
                    usleep(250_000)
                    let snapshot = (filesProcessed.load(ordering: .relaxed), bytesProcessed.load(ordering: .relaxed),
                                    counters.withLock { $0.currentPath })
                    report(BackupProgress(secondsElapsed: Node.Timestamp.now().seconds(since: start),
                                          filesProcessed: snapshot.0, bytesProcessed: snapshot.1,
                                          bytesAdded: storage.counts.dataAdded,
                                          currentPath: String(decoding: snapshot.2, as: UTF8.self),
                                          packsUnstored: storage.packsUnstored))
                }
            }
        }
        defer {
            finished.withLock { $0 = true }
            progressThread?.wait()
        }

        let paths: [String]
        let command: [String]?
        do {
            switch options.source {
            case .paths(let given):
                paths = try Backup.normalize(given)
                command = nil
                try backUpFiles(paths, parentTree: parent?.snapshot.treeID)
            case .command(let arguments, let filename):
                paths = [filename]
                command = arguments
                try backUpCommand(arguments, filename: filename)
            }
            try storage.finish()
        } catch {
            jobs.close()
            if (error as? RepositoryError)?.code == .interrupted {
                // Everything read so far is sealed already: store and index it for the next run.
                try? storage.finish()
            } else {
                storage.abandon()
            }
            throw error
        }
        guard let root = assembler.rootTree else {
            throw RepositoryError(.io, "backup ended without a root tree (internal error); nothing was committed")
        }
        if options.isCancelled() {
            throw RepositoryError(.interrupted, "backup interrupted; no snapshot was written (stored data is reused by the next run)")
        }

        let end = Node.Timestamp.now()
        let blobCounts = storage.counts
        let directoryCounts = assembler.directoryCounts
        let fileCounts = (filesNew.load(ordering: .relaxed), filesChanged.load(ordering: .relaxed),
                          filesUnmodified.load(ordering: .relaxed), filesProcessed.load(ordering: .relaxed),
                          bytesProcessed.load(ordering: .relaxed))
        let warnings = counters.withLock { $0.warnings }
        let summary = Snapshot.Summary(
            backupStart: start.rfc3339, backupEnd: end.rfc3339,
            filesNew: fileCounts.0, filesChanged: fileCounts.1, filesUnmodified: fileCounts.2,
            directoriesNew: directoryCounts.new, directoriesChanged: directoryCounts.changed,
            directoriesUnmodified: directoryCounts.unmodified,
            dataBlobs: blobCounts.dataBlobs, treeBlobs: blobCounts.treeBlobs,
            dataAdded: blobCounts.dataAdded, dataAddedPacked: blobCounts.dataAddedPacked,
            totalFilesProcessed: fileCounts.3, totalBytesProcessed: fileCounts.4,
            errors: warnings.filter { $0.kind == .unreadable }.count)
        let snapshot = Snapshot(
            time: start.rfc3339, host: options.host, username: currentUserName(), paths: paths,
            tags: options.tags, tree: root.hex, parent: parent?.id.hex,
            sourceKind: command == nil ? "files" : "command", command: command, policy: options.policy,
            excludes: options.excludes.isEmpty ? nil : options.excludes,
            programVersion: Repository.programVersion, summary: summary)
        let id = try repository.saveSnapshot(snapshot)
        return BackupResult(snapshotID: id, snapshot: snapshot, summary: summary, warnings: warnings,
                            secondsElapsed: end.seconds(since: start))
    }

    // MARK: - Parent

    private func selectParent(from snapshots: [SnapshotEntry]) throws -> SnapshotEntry? {
        switch options.parent {
        case .none:
            return nil
        case .snapshot(let spec):
            return try repository.findSnapshot(spec, in: snapshots)
        case .automatic:
            guard case .paths(let given) = options.source else { return nil }
            let paths = try Backup.normalize(given)
            return snapshots.last { $0.snapshot.host == options.host && $0.snapshot.paths == paths && $0.snapshot.sourceKind == "files" }
        }
    }

    // MARK: - Paths

    /// Absolute paths without `.`/`..`/double slashes, sorted, with paths inside other given
    /// paths dropped (they are backed up as part of their ancestor).
    static func normalize(_ given: [String]) throws -> [String] {
        guard !given.isEmpty else {
            throw RepositoryError(.invalidArgument, "no paths to back up; give at least one file or directory")
        }
        let base = currentDirectory()
        var result: [String] = []
        for path in given {
            guard !path.isEmpty else { throw RepositoryError(.invalidArgument, "an empty path was given") }
            let absolute = path.hasPrefix("/") ? path : base + "/" + path
            var parts: [Substring] = []
            for part in absolute.split(separator: "/") {
                if part == "." { continue }
                if part == ".." { _ = parts.popLast(); continue }
                parts.append(part)
            }
            result.append("/" + parts.joined(separator: "/"))
        }
        result = Array(Set(result)).sorted()
        return result.filter { path in
            !result.contains { other in other != path && (other == "/" || path.hasPrefix(other + "/")) }
        }
    }

    // MARK: - Files

    /// A directory whose entries a scanner thread is to list.
    private struct DirectoryJob: Sendable {
        var path: [UInt8]
        var handle: TreeAssembler.Handle
        var previousSubtree: BlobID?
        /// The device of the backed-up path it lies in, for `--one-file-system`.
        var device: UInt64
    }

    private func backUpFiles(_ paths: [String], parentTree: BlobID?) throws {
        for path in paths {
            var info = stat()
            guard lstat(path, &info) == 0 else {
                throw RepositoryError(.notFound, "\(path): \(String(cString: strerror(errno))); check the path")
            }
        }
        let workers = (0..<options.workers).map { number in
            BackgroundThread(name: "backup.\(number)") { [self] in work() }
        }
        defer {
            jobs.close()
            for worker in workers { worker.wait() }
        }
        let previousRoot = loadPreviousTree(parentTree)
        let root = assembler.open(Node(name: [], kind: .directory), parent: nil, slot: 0, previousSubtree: parentTree)
        let handedOff = try addPrefixes(of: paths.map { Array($0.utf8.dropFirst()) }, under: [], directory: root,
                                         previous: previousRoot, previousID: parentTree)
        if !handedOff { try assembler.finishListing(root) }
        // Directories are listed by several threads at once: on a cold cache each lstat may
        // wait for the disk, and parallel requests keep it busy.
        runThreads(count: options.scanners, name: "scan") { [self] _ in
            var names = NameCache()
            while let job = directories.pop() {
                do {
                    try scan(job, names: &names)
                } catch {
                    storage.failure.record(error)
                    directories.cancel()
                }
                directories.done()
            }
        }
        try storage.failure.throwIfSet()
        if options.isCancelled() {
            throw RepositoryError(.interrupted, "backup interrupted; no snapshot was written (stored data is reused by the next run)")
        }
    }

    /// Adds the given paths under `prefix` (e.g. for /usr/share/doc: the directory `usr`, in
    /// it `share`, in it `doc` with everything below), each level with its real metadata.
    /// Returns true if the listing of `directory` itself was handed to a scanner (path `/`).
    private func addPrefixes(of relativePaths: [[UInt8]], under prefix: [UInt8], directory: TreeAssembler.Handle,
                             previous: Tree?, previousID: BlobID?) throws -> Bool {
        var groups: [[UInt8]: [[UInt8]]] = [:]
        var order: [[UInt8]] = []
        for path in relativePaths {
            let parts = path.split(separator: UInt8(ascii: "/"), maxSplits: 1)
            let first = parts.isEmpty ? [] : Array(parts[0])
            if groups[first] == nil { order.append(first) }
            groups[first, default: []].append(parts.count > 1 ? Array(parts[1]) : [])
        }
        if order == [[]] {
            // The path is "/" itself: its children are the root's children.
            let info = try FileMetadata.status(of: [UInt8(ascii: "/")])
            directories.push(DirectoryJob(path: [UInt8(ascii: "/")], handle: directory,
                                          previousSubtree: previousID,
                                          device: UInt64(info.st_dev)))
            return true
        }
        for name in order {
            let path = prefix + [UInt8(ascii: "/")] + name
            let rest = groups[name]!.filter { !$0.isEmpty }
            // A directory on the way to a given path may be a symlink (/bin -> usr/bin on
            // Debian 12): it is followed and recorded as the directory it leads to.
            let info = rest.isEmpty ? try FileMetadata.status(of: path) : try FileMetadata.statusFollowingLinks(of: path)
            var nameCache = NameCache()
            let node = FileMetadata.node(name: name, path: path, info: info, names: &nameCache,
                                         warn: { self.warn(.unreadable, path, $0) })
            let previousNode = previous?.nodes.first { $0.name == name }
            if rest.isEmpty {
                try addEntry(node, path: path, directory: directory, previous: previousNode, device: node.device)
            } else {
                guard node.kind == .directory else {
                    throw RepositoryError(.invalidArgument, "\(String(decoding: path, as: UTF8.self)) is not a directory")
                }
                let slot = assembler.reserveSlot(in: directory)
                let child = assembler.open(node, parent: directory, slot: slot, previousSubtree: previousNode?.subtree)
                let previousTree = loadPreviousTree(previousNode?.subtree)
                if try !addPrefixes(of: rest, under: path, directory: child, previous: previousTree,
                                    previousID: previousNode?.subtree) {
                    try assembler.finishListing(child)
                }
            }
        }
        return false
    }

    /// The parent snapshot's tree for the files cache. A tree that cannot be read (damaged
    /// repository) only means its files are read again, so it is not an error.
    private func loadPreviousTree(_ id: BlobID?) -> Tree? {
        guard let id else { return nil }
        return try? repository.loadTree(id)
    }

    /// Lists one directory: every entry gets a slot; subdirectories become new jobs, changed
    /// files go to the readers, and everything else is filled at once, under one lock.
    private func scan(_ job: DirectoryJob, names nameCache: inout NameCache) throws {
        counters.withLock { $0.currentPath = job.path }
        if options.isCancelled() {
            directories.cancel()
            return
        }
        try storage.failure.throwIfSet()
        let previousTree = loadPreviousTree(job.previousSubtree)
        let names: [[UInt8]]
        do {
            names = try FileMetadata.directoryEntries(job.path)
        } catch {
            warn(.unreadable, job.path, "\(error)")
            try assembler.finishListing(job.handle)
            return
        }
        var previousNodes: [[UInt8]: Node] = [:]
        if let previousTree {
            previousNodes.reserveCapacity(previousTree.nodes.count)
            for node in previousTree.nodes { previousNodes[node.name] = node }
        }
        var entries: [(node: Node, path: [UInt8])] = []
        entries.reserveCapacity(names.count)
        for name in names {
            let childPath = joinPath(job.path, name)
            if excludes.excludes(path: childPath, name: name) { continue }
            let info: stat
            do {
                info = try FileMetadata.status(of: childPath)
            } catch {
                warn(.unreadable, childPath, "\(error)")
                continue
            }
            entries.append((FileMetadata.node(name: name, path: childPath, info: info, names: &nameCache,
                                              warn: { self.warn(.unreadable, childPath, $0) }), childPath))
        }
        let first = assembler.reserveSlots(in: job.handle, count: entries.count)
        var fills: [(slot: Int, node: Node?)] = []
        fills.reserveCapacity(entries.count)
        for (offset, entry) in entries.enumerated() {
            if let node = try place(entry.node, path: entry.path, directory: job.handle, slot: first + offset,
                                    previous: previousNodes[entry.node.name], device: job.device) {
                fills.append((first + offset, node))
            }
        }
        try assembler.finishListing(job.handle, filling: fills)
    }

    /// Adds one entry in its own slot (for the given paths themselves).
    private func addEntry(_ node: Node, path: [UInt8], directory: TreeAssembler.Handle, previous: Node?,
                          device: UInt64) throws {
        let slot = assembler.reserveSlot(in: directory)
        if let filled = try place(node, path: path, directory: directory, slot: slot, previous: previous, device: device) {
            try assembler.fill(directory, slot: slot, with: filled)
        }
    }

    /// Decides what happens to an entry whose slot is reserved. Returns what to fill the slot
    /// with now (`.some(nil)` leaves the entry out), or `nil` when a scanner or reader fills it later.
    private func place(_ node: Node, path: [UInt8], directory: TreeAssembler.Handle, slot: Int, previous: Node?,
                       device: UInt64) throws -> Node?? {
        switch node.kind {
        case .directory:
            let child = assembler.open(node, parent: directory, slot: slot, previousSubtree: previous?.subtree)
            if options.oneFileSystem && node.device != device {
                // A mount point: recorded, its contents are on another file system.
                try assembler.finishListing(child)
            } else {
                directories.push(DirectoryJob(path: path, handle: child, previousSubtree: previous?.subtree, device: device))
            }
            return nil
        case .file:
            if let previous, node.hasSameContentMetadata(as: previous), repository.containsAll(previous.content) {
                var unchanged = node
                unchanged.content = previous.content
                filesUnmodified.add(1, ordering: .relaxed)
                filesProcessed.add(1, ordering: .relaxed)
                bytesProcessed.add(node.size, ordering: .relaxed)
                return .some(unchanged)
            }
            guard let descriptor = openForReading(path) else { return .some(nil) }
            // Start the disk read now, so that by the time a worker gets to this file
            // first megabyte is in memory: many files in flight keep a cold disk busy (the
            // kernel's sequential readahead takes over from there).
            posix_fadvise(descriptor, 0, off_t(min(node.size, 1 << 20)), POSIX_FADV_WILLNEED)
            jobs.push(FileJob(path: path, descriptor: descriptor, node: node, directory: directory, slot: slot,
                              isNew: previous == nil))
            return nil
        default:
            return .some(node)
        }
    }

    // MARK: - Workers

    private func work() {
        let writer: ContentWriter
        do {
            writer = try ContentWriter(storage: storage)
        } catch {
            storage.failure.record(error)
            while let job = jobs.pop() { close(job.descriptor) }
            return
        }
        while let job = jobs.pop() {
            if storage.failure.value != nil {
                close(job.descriptor)
                continue
            }
            do {
                try assembler.fill(job.directory, slot: job.slot, with: read(job, writer: writer))
            } catch {
                storage.failure.record(error)
            }
        }
    }

    /// Opens a file for a backup read without changing its access time, or reports it unreadable.
    private func openForReading(_ path: [UInt8]) -> Int32? {
        var descriptor = withCPath(path) { open($0, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | CShims_O_NOATIME()) }
        if descriptor < 0 && errno == EPERM {
            // O_NOATIME is only allowed on one's own files.
            descriptor = withCPath(path) { open($0, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) }
        }
        guard descriptor >= 0 else {
            warn(.unreadable, path, "\(SystemCallError("open", path))")
            return nil
        }
        return descriptor
    }

    /// Reads one file; returns its node with content, or `nil` if it could not be read.
    private func read(_ job: FileJob, writer: ContentWriter) throws -> Node? {
        let descriptor = job.descriptor
        defer { close(descriptor) }
        let stored: ContentWriter.Stored
        do {
            stored = try writer.store(descriptor: descriptor, path: job.path, isRegularFile: true)
        } catch let error as SystemCallError {
            warn(.unreadable, job.path, "\(error)")
            return nil
        }
        // The node holds what the scanner's lstat saw just before the open; if the file is
        // not exactly that any more, it changed while it was read.
        var after = stat()
        fstat(descriptor, &after)
        var node = job.node
        node.content = stored.content
        let changed = node.modificationTime != Node.Timestamp(seconds: Int64(after.st_mtim.tv_sec), nanoseconds: UInt32(after.st_mtim.tv_nsec))
            || node.changeTime != Node.Timestamp(seconds: Int64(after.st_ctim.tv_sec), nanoseconds: UInt32(after.st_ctim.tv_nsec))
            || node.inode != UInt64(after.st_ino) || node.size != stored.bytes || UInt64(after.st_size) != stored.bytes
        node.size = stored.bytes
        if changed {
            warn(.changedWhileReading, job.path, "\(String(decoding: job.path, as: UTF8.self)): file changed while it was read; the snapshot holds what was read")
            // Make the files cache read it again next time.
            node.changeTime = Node.Timestamp(seconds: 0, nanoseconds: 0)
        }
        if job.isNew {
            filesNew.add(1, ordering: .relaxed)
        } else {
            filesChanged.add(1, ordering: .relaxed)
        }
        filesProcessed.add(1, ordering: .relaxed)
        bytesProcessed.add(stored.bytes, ordering: .relaxed)
        return node
    }

    private func warn(_ kind: BackupWarning.Kind, _ path: [UInt8], _ message: String) {
        let warning = BackupWarning(kind: kind, path: String(decoding: path, as: UTF8.self), message: message)
        counters.withLock { $0.warnings.append(warning) }
        options.warning?(warning)
    }

    // MARK: - Command output

    private func backUpCommand(_ arguments: [String], filename: String) throws {
        guard !arguments.isEmpty else {
            throw RepositoryError(.invalidArgument, "--stdin-from-command needs a command after '--'")
        }
        guard !filename.isEmpty, !filename.contains("/"), filename != ".", filename != ".." else {
            throw RepositoryError(.invalidArgument, "--stdin-filename '\(filename)' must be a plain file name without '/'")
        }
        let process = try ChildProcess(arguments: arguments)
        // An interrupt aimed at lifeboat alone (systemctl stop, kill PID) must also stop the
        // command, or lifeboat would wait for it to finish on its own.
        let reading = Mutex(true)
        let pid = process.pid
        let watcher = BackgroundThread(name: "command.watch") { [options] in
            while reading.withLock({ $0 }) {
                if options.isCancelled() {
                    kill(pid, SIGTERM)
                    return
                }
                usleep(100_000)
            }
        }
        defer {
            reading.withLock { $0 = false }
            watcher.wait()
        }
        let writer = try ContentWriter(storage: storage)
        let stored: ContentWriter.Stored
        do {
            stored = try writer.store(descriptor: process.output, path: Array(filename.utf8), isRegularFile: false)
        } catch {
            process.terminate()
            _ = process.wait()
            throw error
        }
        let status = process.wait()
        if options.isCancelled() {
            throw RepositoryError(.interrupted, "backup interrupted; the command was stopped and no snapshot was written")
        }
        guard status == 0 else {
            throw RepositoryError(.sourceFailed, "command '\(arguments.joined(separator: " "))' \(ChildProcess.describe(status)); no snapshot was written")
        }
        if options.isCancelled() {
            throw RepositoryError(.interrupted, "backup interrupted; no snapshot was written")
        }
        let now = Node.Timestamp.now()
        var node = Node(name: Array(filename.utf8), kind: .file)
        node.mode = 0o600
        node.uid = getuid()
        node.gid = getgid()
        node.user = UserNames.shared.user(node.uid) ?? ""
        node.group = UserNames.shared.group(node.gid) ?? ""
        node.modificationTime = now
        node.accessTime = now
        node.changeTime = now
        node.size = stored.bytes
        node.content = stored.content
        filesNew.add(1, ordering: .relaxed)
        filesProcessed.add(1, ordering: .relaxed)
        bytesProcessed.add(stored.bytes, ordering: .relaxed)
        let root = assembler.open(Node(name: [], kind: .directory), parent: nil, slot: 0, previousSubtree: nil)
        let slot = assembler.reserveSlot(in: root)
        try assembler.fill(root, slot: slot, with: node)
        try assembler.finishListing(root)
    }
}
