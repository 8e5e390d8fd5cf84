import Dispatch
import Synchronization

/// A first-in first-out queue with a fixed capacity, for handing work between threads.
///
/// `push` blocks while the queue is full, `pop` blocks while it is empty; after `close()`
/// `pop` drains what is left and then returns `nil`. This is what bounds the memory of the
/// backup and restore pipelines whatever the input size.
final class BoundedQueue<Element: Sendable>: Sendable {
    private struct State {
        var items: [Element?] = []
        var head = 0
        var count = 0
        var closed = false
    }

    private let state: Mutex<State>
    private let slots: DispatchSemaphore
    private let filled = DispatchSemaphore(value: 0)
    let capacity: Int

    init(capacity: Int) {
        precondition(capacity > 0)
        self.capacity = capacity
        self.slots = DispatchSemaphore(value: capacity)
        self.state = Mutex(State(items: Array(repeating: nil, count: capacity)))
    }

    /// Appends `element`, waiting for room. Pushing onto a closed queue is a programming error.
    func push(_ element: Element) {
        slots.wait()
        state.withLock { state in
            precondition(!state.closed, "push onto a closed queue")
            state.items[(state.head + state.count) % capacity] = element
            state.count += 1
        }
        filled.signal()
    }

    /// Removes the oldest element, waiting for one; `nil` once the queue is closed and empty.
    func pop() -> Element? {
        filled.wait()
        let element: Element? = state.withLock { state in
            if state.count == 0 {
                precondition(state.closed)
                return nil
            }
            let element = state.items[state.head]
            state.items[state.head] = nil
            state.head = (state.head + 1) % capacity
            state.count -= 1
            return element
        }
        if element == nil {
            filled.signal()  // wake the next waiter so every consumer sees the end
        } else {
            slots.signal()
        }
        return element
    }

    /// Marks the end of input; consumers drain what is queued and then get `nil`.
    func close() {
        let wasOpen = state.withLock { state in
            defer { state.closed = true }
            return !state.closed
        }
        if wasOpen { filled.signal() }
    }
}
