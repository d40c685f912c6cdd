public import HTTPTypes
public import SCIMCore
import Synchronization

/// A token bucket's rate: `requestsPerSecond` sustained, `burst` at once. Shared by the rate-limit stage and the
/// buckets the authentication stage puts before the token lookup.
public struct RateLimit: Codable, Sendable, Hashable {
    public var requestsPerSecond: Double
    public var burst: Int

    public init(requestsPerSecond: Double, burst: Int) {
        self.requestsPerSecond = requestsPerSecond
        self.burst = burst
    }

    /// Refuses a rate that could never let a request through.
    public func check(_ path: String) throws(ConfigurationError) {
        guard requestsPerSecond > 0 else { throw .invalidValue("\(path).requestsPerSecond", "must be above 0") }
        guard burst >= 1 else { throw .invalidValue("\(path).burst", "must be at least 1") }
    }

    /// Seconds an empty bucket takes to fill.
    public var refillSeconds: Double { Double(burst) / requestsPerSecond }
}

/// One bucket a request draws from.
public struct RateLimitKey: Sendable, Hashable {
    /// What the bucket limits: `global`, `organization`, `token`, `address`; a bounded metric dimension.
    public var scope: String
    public var id: String
    public var limit: RateLimit

    public init(scope: String, id: String, limit: RateLimit) {
        self.scope = scope
        self.id = id
        self.limit = limit
    }

    var storageKey: String { "\(scope):\(id)" }
}

/// Where buckets live. In memory now; a shared store (PostgreSQL, Redis) can hold them later for several instances.
public protocol RateLimitStore: Sendable {
    /// Takes one token from every bucket, or from none: returns `nil` when all had one, else the first bucket that
    /// did not and how many seconds until it will.
    func take(_ keys: [RateLimitKey], at now: Double) -> (key: RateLimitKey, retryAfter: Double)?
}

/// Token buckets in process memory. Memory stays flat however many distinct keys pass: buckets live in two
/// generations that rotate every `idleSeconds`, so a bucket unused for a whole generation (and so full again) is
/// dropped with it.
public final class InMemoryRateLimitStore: RateLimitStore {
    struct Bucket {
        var tokens: Double
        var updated: Double
    }

    struct State {
        var current: [String: Bucket] = [:]
        var previous: [String: Bucket] = [:]
        var rotated: Double?
    }

    let idleSeconds: Double
    private let state = Mutex(State())

    public init(idleSeconds: Double) {
        self.idleSeconds = idleSeconds
    }

    /// Buckets held now (for tests and metrics).
    public var count: Int { state.withLock { $0.current.count + $0.previous.count } }

    public func take(_ keys: [RateLimitKey], at now: Double) -> (key: RateLimitKey, retryAfter: Double)? {
        state.withLock { state in
            let rotated = state.rotated ?? now
            if now - rotated >= 2 * idleSeconds {
                state.previous = [:]
                state.current = [:]
                state.rotated = now
            } else if now - rotated >= idleSeconds {
                state.previous = state.current
                state.current = [:]
                state.rotated = now
            } else if state.rotated == nil {
                state.rotated = now
            }
            var refilled: [Bucket] = []
            for key in keys {
                let storageKey = key.storageKey
                let capacity = Double(key.limit.burst)
                var bucket = state.current[storageKey] ?? state.previous[storageKey] ?? Bucket(tokens: capacity, updated: now)
                bucket.tokens = min(capacity, bucket.tokens + max(0, now - bucket.updated) * key.limit.requestsPerSecond)
                bucket.updated = now
                if bucket.tokens < 1 {
                    // Nothing is taken from any bucket when one refuses.
                    state.current[storageKey] = bucket
                    state.previous[storageKey] = nil
                    return (key, (1 - bucket.tokens) / key.limit.requestsPerSecond)
                }
                refilled.append(bucket)
            }
            for (key, var bucket) in zip(keys, refilled) {
                bucket.tokens -= 1
                state.current[key.storageKey] = bucket
                state.previous[key.storageKey] = nil
            }
            return nil
        }
    }
}

extension SCIMError {
    /// 429 with `Retry-After` in whole seconds, rounded up, at least 1.
    public static func tooManyRequests(scope: String, retryAfter: Double) -> SCIMError {
        let seconds = max(1, Int(retryAfter.rounded(.up)))
        var headers = HTTPFields()
        headers[.retryAfter] = String(seconds)
        return SCIMError(
            status: .tooManyRequests,
            detail: "too many requests for this \(scope); retry after \(seconds) second\(seconds == 1 ? "" : "s")",
            headers: headers
        )
    }
}

/// Seconds since the clock was made, monotonic: the time base of token buckets.
public struct MonotonicSeconds: Sendable {
    let start = ContinuousClock.now

    public init() {}

    public func callAsFunction() -> Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }
}
