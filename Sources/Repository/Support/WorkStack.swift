import Glibc

/// A last-in first-out pool of work items that workers may add to while they take from it,
/// for walking directory trees in parallel. `pop` returns `nil` once the stack is empty and
/// no worker is still processing an item (which could add more).
///
/// Uses a pthread mutex and condition variable: `Synchronization.Mutex` has no way to wait
/// for a condition, and this is the one place that needs it. The pthread objects live at
/// fixed addresses for the lifetime of the stack, and all access to `items` and `active`
/// happens with the mutex held, hence `@unchecked Sendable`.
final class WorkStack<Element: Sendable>: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>
    private var items: [Element] = []
    /// Items popped and not yet reported done.
    private var active = 0
    private var cancelled = false

    init() {
        mutex = .allocate(capacity: 1)
        condition = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        condition.deallocate()
    }

    func push(_ element: Element) {
        pthread_mutex_lock(mutex)
        items.append(element)
        pthread_cond_signal(condition)
        pthread_mutex_unlock(mutex)
    }

    /// The next item, or `nil` when all work is done (or cancelled). Call ``done()`` after
    /// processing each item returned.
    func pop() -> Element? {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while true {
            if cancelled { return nil }
            if let element = items.popLast() {
                active += 1
                return element
            }
            if active == 0 {
                pthread_cond_broadcast(condition)
                return nil
            }
            pthread_cond_wait(condition, mutex)
        }
    }

    func done() {
        pthread_mutex_lock(mutex)
        active -= 1
        if active == 0 && items.isEmpty { pthread_cond_broadcast(condition) }
        pthread_mutex_unlock(mutex)
    }

    /// Makes every current and future `pop` return `nil`.
    func cancel() {
        pthread_mutex_lock(mutex)
        cancelled = true
        items.removeAll()
        pthread_cond_broadcast(condition)
        pthread_mutex_unlock(mutex)
    }
}
