import Sealing
import Synchronization

/// Builds directory trees bottom-up while files are still being read on other threads.
///
/// The walker opens a directory and reserves a slot per entry; workers fill the slots in any
/// order; when the last slot of a directory is filled and its listing is done, its tree is
/// encoded and stored, and the directory's node fills its slot in the parent. The root
/// finishing ends the backup's tree work.
final class TreeAssembler: Sendable {
    typealias Handle = Int

    private struct Pending {
        var node: Node
        var children: [Node?] = []
        /// Unfilled slots, plus one while the walker is still listing.
        var remaining = 1
        var parent: Handle?
        var slot: Int
        var previousSubtree: BlobID?
    }

    private struct State {
        var pending: [Handle: Pending] = [:]
        var nextHandle = 0
        var root: BlobID?
        var directoriesNew = 0
        var directoriesChanged = 0
        var directoriesUnmodified = 0
    }

    private let state = Mutex(State())
    private let storage: BlobStorage

    init(storage: BlobStorage) { self.storage = storage }

    /// Starts a directory; `parent == nil` makes it the snapshot's root.
    func open(_ node: Node, parent: Handle?, slot: Int, previousSubtree: BlobID?) -> Handle {
        state.withLock { state in
            let handle = state.nextHandle
            state.nextHandle += 1
            state.pending[handle] = Pending(node: node, parent: parent, slot: slot, previousSubtree: previousSubtree)
            return handle
        }
    }

    /// Reserves the next slot in a directory for an entry that will be filled later.
    func reserveSlot(in directory: Handle) -> Int {
        reserveSlots(in: directory, count: 1)
    }

    /// Reserves `count` consecutive slots; returns the first.
    func reserveSlots(in directory: Handle, count: Int) -> Int {
        state.withLock { state in
            let first = state.pending[directory]!.children.count
            state.pending[directory]!.children.append(contentsOf: repeatElement(nil, count: count))
            state.pending[directory]!.remaining += count
            return first
        }
    }

    /// Fills a slot; `nil` leaves the entry out (it could not be read).
    func fill(_ directory: Handle, slot: Int, with node: Node?) throws {
        try release(directory, fills: [(slot, node)], finishingListing: false)
    }

    /// Marks the walker's listing of `directory` as complete.
    func finishListing(_ directory: Handle) throws {
        try release(directory, fills: [], finishingListing: true)
    }

    /// Fills several slots and marks the listing complete, under one lock.
    func finishListing(_ directory: Handle, filling fills: [(slot: Int, node: Node?)]) throws {
        try release(directory, fills: fills, finishingListing: true)
    }

    /// The root tree id once everything has been filled.
    var rootTree: BlobID? { state.withLock { $0.root } }

    var directoryCounts: (new: Int, changed: Int, unmodified: Int) {
        state.withLock { ($0.directoriesNew, $0.directoriesChanged, $0.directoriesUnmodified) }
    }

    private func release(_ directory: Handle, fills: [(slot: Int, node: Node?)], finishingListing: Bool) throws {
        var current: (handle: Handle, fills: [(slot: Int, node: Node?)], listing: Bool)? = (directory, fills, finishingListing)
        while let (handle, fills, listing) = current {
            let finished: Pending? = state.withLock { state in
                for (slot, node) in fills { state.pending[handle]!.children[slot] = node }
                state.pending[handle]!.remaining -= fills.count + (listing ? 1 : 0)
                guard state.pending[handle]!.remaining == 0 else { return nil }
                return state.pending.removeValue(forKey: handle)
            }
            guard var done = finished else { return }
            let id = try storage.store(Tree(nodes: done.children.compactMap { $0 }))
            done.node.subtree = id
            let isRoot = done.parent == nil
            state.withLock { state in
                if isRoot {
                    state.root = id
                } else if done.previousSubtree == nil {
                    state.directoriesNew += 1
                } else if done.previousSubtree == id {
                    state.directoriesUnmodified += 1
                } else {
                    state.directoriesChanged += 1
                }
            }
            current = done.parent.map { ($0, [(done.slot, done.node)], false) }
        }
    }
}
