import Synchronization

/// Keys that failed recently, remembered for `seconds` in bounded memory: two generations that rotate every
/// `seconds` (or sooner when one fills), so an entry lives between one and two periods and at most `2 × capacity`
/// are held. The authentication stage keeps the digests of refused tokens here, so a client retrying a bad token
/// costs no store read.
public final class RecentFailures: Sendable {
    struct State {
        var current: Set<String> = []
        var previous: Set<String> = []
        var rotated: Double = 0
    }

    let seconds: Double
    let capacity: Int
    private let state = Mutex(State())

    public init(seconds: Double, capacity: Int = 100_000) {
        self.seconds = seconds
        self.capacity = capacity
    }

    /// Whether `key` failed within the period.
    public func contains(_ key: String, at now: Double) -> Bool {
        state.withLock { state in
            rotate(&state, now: now)
            return state.current.contains(key) || state.previous.contains(key)
        }
    }

    /// Remembers that `key` failed.
    public func insert(_ key: String, at now: Double) {
        state.withLock { state in
            rotate(&state, now: now)
            if state.current.count >= capacity {
                state.previous = state.current
                state.current = []
                state.rotated = now
            }
            state.current.insert(key)
        }
    }

    /// Entries held now (for tests).
    public var count: Int { state.withLock { $0.current.count + $0.previous.count } }

    private func rotate(_ state: inout State, now: Double) {
        if now - state.rotated >= 2 * seconds {
            state = State(rotated: now)
        } else if now - state.rotated >= seconds {
            state.previous = state.current
            state.current = []
            state.rotated = now
        }
    }
}
