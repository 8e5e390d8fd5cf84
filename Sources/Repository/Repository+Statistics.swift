import Sealing

extension Repository {
    /// What the loaded index holds, for `lifeboat stats`.
    public struct IndexTotals: Sendable, Equatable {
        /// Packs listed by the index files, by type.
        public var dataPacks = 0
        public var treePacks = 0
        /// Distinct blobs indexed, by type.
        public var dataBlobs = 0
        public var treeBlobs = 0
        /// Sum of the stored sizes of the indexed packs (headers included), in bytes.
        public var packBytes: UInt64 = 0
        /// Sum of the blobs' stored (compressed and encrypted) lengths, in bytes.
        public var storedBlobBytes: UInt64 = 0
        /// Sum of the blobs' plaintext lengths, in bytes.
        public var plaintextBlobBytes: UInt64 = 0

        public init() {}

        public var packs: Int { dataPacks + treePacks }
        public var blobs: Int { dataBlobs + treeBlobs }
    }

    /// Totals over the in-memory index; call after ``loadIndex()``.
    ///
    /// A blob stored in two packs counts once (at the location the index keeps); both packs
    /// count in ``IndexTotals/packBytes``, as they both occupy storage until prune.
    public func indexTotals() -> IndexTotals {
        index.withLock { index in
            var totals = IndexTotals()
            for pack in index.packs {
                if pack.type == .data { totals.dataPacks += 1 } else { totals.treePacks += 1 }
                totals.packBytes += UInt64(pack.size)
            }
            index.forEach { _, location in
                if location.type == .data { totals.dataBlobs += 1 } else { totals.treeBlobs += 1 }
                totals.storedBlobBytes += UInt64(location.storedLength)
                totals.plaintextBlobBytes += UInt64(location.plaintextLength)
            }
            return totals
        }
    }
}
