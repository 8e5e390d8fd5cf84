import Dispatch
import Synchronization

/// Runs `count` threads executing `body(workerIndex)` and waits for all of them.
///
/// The pipelines block on file and store I/O, so they use their own threads rather than
/// the cooperative pool of Swift concurrency, which must never block.
public func runThreads(count: Int, name: String, _ body: @escaping @Sendable (Int) -> Void) {
    let group = DispatchGroup()
    for index in 0..<count {
        group.enter()
        let thread = DispatchQueue(label: "lifeboat.\(name).\(index)")
        thread.async {
            body(index)
            group.leave()
        }
    }
    group.wait()
}

/// A thread that runs in the background and can be waited for.
final class BackgroundThread: Sendable {
    private let group = DispatchGroup()

    init(name: String, _ body: @escaping @Sendable () -> Void) {
        group.enter()
        DispatchQueue(label: "lifeboat.\(name)").async { [group] in
            body()
            group.leave()
        }
    }

    func wait() { group.wait() }
}

/// The first error any of several threads hit; later errors are dropped because the first
/// one is what the operator needs to see.
final class FirstError: Sendable {
    private let error = Mutex<(any Error)?>(nil)

    func record(_ newError: any Error) {
        error.withLock { if $0 == nil { $0 = newError } }
    }

    var value: (any Error)? { error.withLock { $0 } }

    func throwIfSet() throws {
        if let value { throw value }
    }
}
