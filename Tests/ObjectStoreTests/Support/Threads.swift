import Glibc
import Synchronization

/// Runs `body(index)` on `count` real POSIX threads that start together, and returns each
/// thread's outcome in index order.
///
/// Real threads rather than tasks: the store's calls block, and Swift's cooperative pool has only
/// as many threads as cores (two here), which would hide races.
func onThreads<T: Sendable>(_ count: Int, _ body: @escaping @Sendable (Int) throws -> T) -> [Result<T, any Error>] {
    let shared = ThreadRun<T>(count: count, body: body)
    var threads: [pthread_t] = []
    for index in 0..<count {
        let context = Unmanaged.passRetained(ThreadContext(run: shared, index: index)).toOpaque()
        var thread = pthread_t()
        let created = pthread_create(&thread, nil, { raw in
            let context = Unmanaged<AnyObject>.fromOpaque(raw!).takeRetainedValue() as! any ThreadStarting
            context.start()
            return nil
        }, context)
        precondition(created == 0, "pthread_create failed: \(created)")
        threads.append(thread)
    }
    for thread in threads { pthread_join(thread, nil) }
    return shared.results.withLock { $0.map { $0! } }
}

private protocol ThreadStarting: AnyObject { func start() }

private final class ThreadRun<T: Sendable>: Sendable {
    let count: Int
    let body: @Sendable (Int) throws -> T
    let ready = Atomic<Int>(0)
    let results: Mutex<[Result<T, any Error>?]>

    init(count: Int, body: @escaping @Sendable (Int) throws -> T) {
        self.count = count
        self.body = body
        self.results = Mutex(Array(repeating: nil, count: count))
    }
}

private final class ThreadContext<T: Sendable>: ThreadStarting, Sendable {
    let run: ThreadRun<T>
    let index: Int

    init(run: ThreadRun<T>, index: Int) {
        self.run = run
        self.index = index
    }

    func start() {
        // A start line: every thread spins until all have arrived, so the work overlaps.
        run.ready.add(1, ordering: .acquiringAndReleasing)
        while run.ready.load(ordering: .acquiring) < run.count { sched_yield() }
        let outcome = Result { try run.body(index) }
        run.results.withLock { $0[index] = outcome }
    }
}
