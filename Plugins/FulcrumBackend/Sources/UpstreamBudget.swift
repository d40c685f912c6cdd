import Foundation
import Synchronization

/// Fulcrum's rate limit, kept on this side: at most `callsPerHour` calls in any sliding hour per token, so the
/// gateway never provokes a 429. Writes stop `reserve` calls short of the limit, leaving room for the reads and
/// the reconcile an operator needs while a sync runs.
final class UpstreamBudget: Sendable {
    let callsPerHour: Int
    let reserve: Int
    private let calls = Mutex<[String: [ContinuousClock.Instant]]>([:])

    init(callsPerHour: Int, reserve: Int) {
        self.callsPerHour = callsPerHour
        self.reserve = min(reserve, callsPerHour - 1)
    }

    /// Counts one call for `key`, or returns the whole seconds until one is allowed.
    func spend(_ key: String, write: Bool, now: ContinuousClock.Instant = .now) -> Int? {
        let limit = write ? callsPerHour - reserve : callsPerHour
        return calls.withLock { calls in Self.spend(in: &calls[key, default: []], limit: limit, now: now) }
    }

    /// On the log in place: a copy per call would make a sync's calls quadratic in the calls of the hour.
    private static func spend(in log: inout [ContinuousClock.Instant], limit: Int, now: ContinuousClock.Instant) -> Int? {
        let hourAgo = now - .seconds(3600)
        if let kept = log.firstIndex(where: { $0 > hourAgo }) {
            if kept > 0 { log.removeFirst(kept) }
        } else {
            log.removeAll(keepingCapacity: true)
        }
        guard log.count >= limit else {
            log.append(now)
            return nil
        }
        // The call that frees the slot leaves the window an hour after it was made.
        let freeing = log[log.count - limit]
        let wait = freeing - hourAgo
        return max(1, Int(wait.components.seconds) + (wait.components.attoseconds > 0 ? 1 : 0))
    }

    /// Calls left in the current hour for `key` (writes' share).
    func remaining(_ key: String, now: ContinuousClock.Instant = .now) -> Int {
        calls.withLock { calls in
            let hourAgo = now - .seconds(3600)
            return max(0, callsPerHour - reserve - (calls[key]?.filter { $0 > hourAgo }.count ?? 0))
        }
    }
}
