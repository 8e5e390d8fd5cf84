import CShims

/// Call once at program start. Packs are 16 MiB or more; a fixed mmap threshold of 8 MiB
/// makes each its own mapping that goes back to the system when freed. glibc's default
/// threshold rises after the first free and then keeps freed packs in the heap, which made
/// a backup's peak memory about half again as large. Smaller buffers that come and go
/// (zstd's workspace) stay in the heap: mapping them afresh each time cost 15% of a
/// backup's CPU in page faults.
public func configureMemoryAllocator() {
    CShims_set_mmap_threshold(8 << 20)
}
