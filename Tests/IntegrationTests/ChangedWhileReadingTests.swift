import Glibc
import Synchronization
import Testing

/// A file that grows while the backup reads it: a warning, not an error, and the snapshot
/// holds a consistent prefix of the file.
///
/// Not tested: a file that disappears between the directory listing and the read. The
/// window is a few microseconds inside the scanner, and no outside timing hits it reliably;
/// the unreadable-file path it would take is covered by the tests of unreadable files.
@Suite("Changed while reading")
struct ChangedWhileReadingTests {
    static let initialSize = 64 << 20

    /// Appends to a file from its own thread until told to stop, `cap` bytes are written, or
    /// 30 s pass. The rate is held to about 16 MB/s (16 KiB, then a 1 ms pause): an
    /// unthrottled writer outruns the backup's reader, which then never reaches the end of
    /// the file while the writer runs.
    final class Appender: Sendable {
        let path: String
        let cap: Int
        let stop = Atomic<Bool>(false)
        let appended = Atomic<Int>(0)
        let failure = Atomic<Int32>(0)

        init(path: String, cap: Int) {
            self.path = path
            self.cap = cap
        }

        func run() {
            let descriptor = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
            guard descriptor >= 0 else {
                failure.store(errno, ordering: .relaxed)
                return
            }
            defer { close(descriptor) }
            let block = randomBytes(16 << 10, seed: 71)
            let deadline = monotonicSeconds() + 30
            while !stop.load(ordering: .acquiring) && appended.load(ordering: .relaxed) < cap
                && monotonicSeconds() < deadline {
                let count = block.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
                if count < 0 {
                    if errno == EINTR { continue }
                    failure.store(errno, ordering: .relaxed)
                    return
                }
                appended.add(count, ordering: .relaxed)
                usleep(1_000)
            }
        }
    }

    private final class ThreadBody {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }

    /// Runs `body` on a new POSIX thread (the test blocks in waitpid meanwhile, so this work
    /// stays off Swift's cooperative pool).
    static func startThread(_ body: @escaping @Sendable () -> Void) throws -> pthread_t {
        let context = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(&thread, nil, { raw in
            Unmanaged<ThreadBody>.fromOpaque(raw!).takeRetainedValue().body()
            return nil
        }, context)
        guard result == 0 else {
            Unmanaged<ThreadBody>.fromOpaque(context).release()
            throw HarnessError("pthread_create: \(String(cString: strerror(result)))")
        }
        return thread
    }

    /// Whether the first `count` bytes of two files are equal (read in 1 MiB blocks).
    static func samePrefix(_ a: String, _ b: String, count: Int) throws -> Bool {
        let first = open(a, O_RDONLY | O_CLOEXEC), second = open(b, O_RDONLY | O_CLOEXEC)
        defer {
            if first >= 0 { close(first) }
            if second >= 0 { close(second) }
        }
        guard first >= 0, second >= 0 else { throw HarnessError("open \(a) or \(b): \(String(cString: strerror(errno)))") }
        var left = [UInt8](repeating: 0, count: 1 << 20), right = left
        var offset = 0
        while offset < count {
            let length = min(left.count, count - offset)
            let got = left.withUnsafeMutableBytes { pread(first, $0.baseAddress, length, off_t(offset)) }
            let gotRight = right.withUnsafeMutableBytes { pread(second, $0.baseAddress, length, off_t(offset)) }
            guard got == length, gotRight == length else { return false }
            if memcmp(left, right, length) != 0 { return false }
            offset += length
        }
        return true
    }

    @Test("a file appended to during the backup: exit 0, a 'changed while reading' warning naming it, a consistent prefix stored")
    func growingFile() throws {
        try Sandbox.with { sandbox in
            let source = sandbox.path("src")
            try makeDirectory(source)
            let big = source + "/growing.bin"
            try writeFile(big, randomBytes(Self.initialSize, seed: 70))
            try writeFile(source + "/still.txt", "not touched\n")
            try sandbox.initRepository()

            let appender = Appender(path: big, cap: 256 << 20)
            let thread = try Self.startThread { appender.run() }
            // Wait until the writer is under way, so the file changes during the whole read.
            let started = monotonicSeconds()
            while appender.appended.load(ordering: .relaxed) == 0 && appender.failure.load(ordering: .relaxed) == 0
                && monotonicSeconds() - started < 10 {
                usleep(1_000)
            }
            let result: RunResult
            do {
                defer {
                    appender.stop.store(true, ordering: .releasing)
                    pthread_join(thread, nil)
                }
                result = try sandbox.run(["backup", source])
            }
            #expect(appender.failure.load(ordering: .relaxed) == 0, "the appender failed: \(String(cString: strerror(appender.failure.load(ordering: .relaxed))))")
            let appended = appender.appended.load(ordering: .relaxed)
            #expect(appended > 0)

            // A file that changed is a warning: the snapshot is complete, the exit code 0.
            #expect(result.status == 0, "\(result)")
            #expect(result.err.contains("warning: changed while reading \(big): file changed while it was read"), "\(result)")
            #expect(!result.err.contains("cannot read"), "\(result)")
            #expect(!result.err.contains("still.txt"), "\(result)")
            let snapshots = try sandbox.snapshots()
            #expect(snapshots.count == 1)
            #expect(snapshots.first?.summary?.errors == 0)

            // The snapshot holds what was read: at least the size before the writer started,
            // at most everything written, and byte for byte the file's prefix of that length.
            struct NodeLine: Decodable { var size: Int }
            let listing = try sandbox.run(["ls", "--json", "latest:\(big)"])
            let stored = try listing.message("node", as: NodeLine.self).size
            #expect(stored >= Self.initialSize)
            #expect(stored <= Self.initialSize + appended)
            let target = sandbox.path("restored")
            try sandbox.restore("latest", to: target)
            #expect(try status(target + big).st_size == stored)
            #expect(try Self.samePrefix(target + big, big, count: stored), "the restored file is not a prefix of the source")
            #expect(try readText(target + source + "/still.txt") == "not touched\n")
        }
    }
}
