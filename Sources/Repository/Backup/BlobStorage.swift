import ObjectStore
import Sealing
import Synchronization

/// The write side of a backup: deduplication of blob ids, the shared tree pack, the upload
/// threads, and the index file written after the packs (DESIGN §2 write order).
///
/// Data packs are built by each worker on its own and handed to ``submit(_:)``; uploads run
/// on their own threads with a bounded queue, so memory stays bounded whatever the input.
final class BlobStorage: Sendable {
    let repository: Repository
    private let uploads: BoundedQueue<FinishedPack>
    private let uploaders = Mutex<[BackgroundThread]>([])
    let failure = FirstError()

    private struct State {
        /// Ids sealed into a pack that is not yet stored; they count as present for dedup.
        var inFlight = Set<BlobID>()
        /// Finished packs handed to ``submit(_:)`` whose upload has not ended yet.
        var packsUnstored = 0
        var storedPacks: [IndexFile.Pack] = []
        var dataBlobs = 0
        var treeBlobs = 0
        var dataAdded: UInt64 = 0
        var dataAddedPacked: UInt64 = 0
    }
    private let state = Mutex(State())

    private struct TreePack: ~Copyable {
        var builder: PackBuilder
        let sealer: BlobSealer
    }
    private let treePack: Mutex<TreePack>
    /// The data pack being filled; workers seal on their own threads and only append here.
    private let dataPack: Mutex<PackBuilder>

    /// Packs are written to the index every this many, so an interrupted backup leaves
    /// indexed packs that the next run deduplicates against.
    private static let packsPerIndexFile = 256

    init(repository: Repository) throws {
        self.repository = repository
        let uploadThreads = repository.store.transferConcurrency
        dataPack = Mutex(PackBuilder(type: .data, capacity: repository.config.packSize))
        let uploads = BoundedQueue<FinishedPack>(capacity: 1)
        self.uploads = uploads
        let sealer = try repository.makeSealer()
        self.treePack = Mutex(TreePack(builder: PackBuilder(type: .tree, capacity: repository.config.packSize), sealer: sealer))
        uploaders.withLock { threads in
            threads = (0..<uploadThreads).map { number in
                BackgroundThread(name: "upload.\(number)") { [self] in upload() }
            }
        }
    }

    private func upload() {
        while let pack = uploads.pop() {
            defer { state.withLock { $0.packsUnstored -= 1 } }
            if failure.value != nil { continue }
            do {
                try repository.putIgnoringDuplicate(pack.bytes, as: packKey(pack.id, type: pack.type))
                repository.index.withLock { $0.add(packID: pack.id, type: pack.type, size: pack.bytes.count, blobs: pack.blobs) }
                let toIndex: [IndexFile.Pack]? = state.withLock { state in
                    for blob in pack.blobs { state.inFlight.remove(blob.id) }
                    state.storedPacks.append(IndexFile.Pack(id: pack.id, type: pack.type, size: pack.bytes.count, blobs: pack.blobs))
                    guard state.storedPacks.count >= BlobStorage.packsPerIndexFile else { return nil }
                    defer { state.storedPacks.removeAll() }
                    return state.storedPacks
                }
                if let toIndex { try repository.writeIndex(toIndex) }
            } catch {
                failure.record(error)
            }
        }
    }

    /// Claims `id` for this backup: true if no stored or in-flight blob has it, so the
    /// caller must store it; false if it is a duplicate.
    func claim(_ id: BlobID) -> Bool {
        if repository.contains(id) { return false }
        return state.withLock { $0.inFlight.insert(id).inserted }
    }

    /// Adds a sealed data blob to the shared data pack; hands the pack to the uploader when it
    /// is full. `sealer` (the caller's own) seals the pack header.
    func addData(sealed: UnsafeRawBufferPointer, id: BlobID, plaintextLength: Int, sealer: BlobSealer) throws {
        let full: FinishedPack? = try dataPack.withLock { pack in
            pack.append(sealed: sealed, id: id, plaintextLength: plaintextLength)
            guard pack.count >= repository.config.packSize else { return nil }
            return try pack.finish(sealer: sealer)
        }
        countAdded(type: .data, plaintext: plaintextLength, stored: sealed.count)
        if let full { submit(full) }
    }

    /// Counts a new blob for the summary.
    func countAdded(type: BlobType, plaintext: Int, stored: Int) {
        state.withLock { state in
            if type == .data { state.dataBlobs += 1 } else { state.treeBlobs += 1 }
            state.dataAdded += UInt64(plaintext)
            state.dataAddedPacked += UInt64(stored)
        }
    }

    /// Queues a finished pack for upload (blocks while one is already waiting).
    func submit(_ pack: FinishedPack) {
        // Counted before the push, which waits while the queue is full: a pack waiting
        // there is made but not stored.
        state.withLock { $0.packsUnstored += 1 }
        uploads.push(pack)
    }

    /// Packs made or being filled that are not stored yet: what ``finish()`` still has to
    /// upload.
    var packsUnstored: Int {
        let queued = state.withLock { $0.packsUnstored }
        let treeOpen = treePack.withLock { $0.builder.isEmpty } ? 0 : 1
        let dataOpen = dataPack.withLock { $0.isEmpty } ? 0 : 1
        return queued + treeOpen + dataOpen
    }

    /// Encodes and stores a tree unless an identical one exists; returns its id.
    func store(_ tree: Tree) throws -> BlobID {
        let encoded = tree.encoded()
        let (id, full): (BlobID, FinishedPack?) = try treePack.withLock { pack in
            let id = encoded.withUnsafeBytes { pack.sealer.id(of: $0) }
            guard claim(id) else { return (id, nil) }
            let before = pack.builder.count
            try encoded.withUnsafeBytes { try pack.builder.add($0, id: id, sealer: pack.sealer) }
            countAdded(type: .tree, plaintext: encoded.count, stored: pack.builder.count - before)
            guard pack.builder.count >= repository.config.packSize else { return (id, nil) }
            return (id, try pack.builder.finish(sealer: pack.sealer))
        }
        if let full { submit(full) }
        return id
    }

    /// Flushes the tree pack, waits for every upload and writes the remaining index.
    /// After this returns without throwing, every blob claimed is stored and indexed.
    func finish() throws {
        let last: FinishedPack? = try treePack.withLock { pack in
            pack.builder.isEmpty ? nil : try pack.builder.finish(sealer: pack.sealer)
        }
        if let last { submit(last) }
        let lastData: FinishedPack? = try treePack.withLock { tree in
            try dataPack.withLock { pack in pack.isEmpty ? nil : try pack.finish(sealer: tree.sealer) }
        }
        if let lastData { submit(lastData) }
        uploads.close()
        for uploader in uploaders.withLock({ $0 }) { uploader.wait() }
        try failure.throwIfSet()
        let remaining = state.withLock { $0.storedPacks }
        try repository.writeIndex(remaining)
        state.withLock { $0.storedPacks.removeAll() }
    }

    /// Stops after a failure or an interrupt: waits for the uploads under way and indexes
    /// the packs that were stored, so the next backup reuses them instead of storing them
    /// again. Best effort: when the store itself failed, the index may not be writable.
    func abandon() {
        uploads.close()
        for uploader in uploaders.withLock({ $0 }) { uploader.wait() }
        let stored = state.withLock { state in
            defer { state.storedPacks.removeAll() }
            return state.storedPacks
        }
        try? repository.writeIndex(stored)
    }

    var counts: (dataBlobs: Int, treeBlobs: Int, dataAdded: UInt64, dataAddedPacked: UInt64) {
        state.withLock { ($0.dataBlobs, $0.treeBlobs, $0.dataAdded, $0.dataAddedPacked) }
    }
}
