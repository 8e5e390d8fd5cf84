import ObjectStore
import Sealing
import Synchronization

/// Whole tree packs, kept in memory while trees are read.
///
/// Reading trees one blob at a time costs one request per directory: thousands of small
/// ranged GETs on S3 for a source tree, where the trees of a snapshot fill a pack or two.
/// The first tree read from a pack fetches the whole pack; the others come from memory. Packs
/// are immutable, so nothing here ever goes stale. Memory is bounded by `capacity` bytes (plus
/// the packs being fetched); the oldest packs go first.
final class TreePackCache: Sendable {
    /// One pack: its lock is held while it is fetched, so other readers of the same pack wait
    /// for that fetch instead of making their own.
    private final class Slot: Sendable {
        let bytes = Mutex<[UInt8]?>(nil)
    }

    private struct State {
        var slots: [BlobID: Slot] = [:]
        /// Pack ids, oldest first, with their sizes once fetched.
        var order: [(pack: BlobID, size: Int)] = []
        var cachedBytes = 0
    }

    let capacity: Int
    private let state = Mutex(State())

    init(capacity: Int) {
        self.capacity = capacity
    }

    /// The bytes of `pack`, fetched with `fetch` on first use.
    func bytes(of pack: BlobID, fetch: () throws -> [UInt8]) throws -> [UInt8] {
        let slot = state.withLock { state in
            if let slot = state.slots[pack] { return slot }
            let slot = Slot()
            state.slots[pack] = slot
            return slot
        }
        let (bytes, fetched): ([UInt8], Bool) = try slot.bytes.withLock { cached in
            if let cached { return (cached, false) }
            let bytes = try fetch()
            cached = bytes
            return (bytes, true)
        }
        if fetched { remember(pack, size: bytes.count) }
        return bytes
    }

    /// Forgets `pack` (after its bytes failed to authenticate, so the next read fetches anew).
    func forget(_ pack: BlobID) {
        state.withLock { state in
            state.slots[pack] = nil
            if let position = state.order.firstIndex(where: { $0.pack == pack }) {
                state.cachedBytes -= state.order.remove(at: position).size
            }
        }
    }

    private func remember(_ pack: BlobID, size: Int) {
        state.withLock { state in
            state.order.append((pack, size))
            state.cachedBytes += size
            while state.cachedBytes > capacity, state.order.count > 1 {
                let oldest = state.order.removeFirst()
                state.cachedBytes -= oldest.size
                state.slots[oldest.pack] = nil
            }
        }
    }
}
