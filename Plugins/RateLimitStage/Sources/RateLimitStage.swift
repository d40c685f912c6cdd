import Foundation
public import GatewayCore
import Logging
public import Metrics

/// Token buckets per token, per organization and one global, so a burst from one tenant cannot swamp the backend
/// and no tenant starves another. Over a limit: 429 with `Retry-After` (whole seconds, rounded up) and a SCIM error
/// body (no `scimType`: SCIM's `tooMany` is about filters); the request never reaches the backend.
///
/// The defaults never throttle one Microsoft Entra tenant, which needs 25 requests/s sustained and treats a 429 as a
/// failed operation that may wait a whole provisioning cycle.
///
/// ```yaml
/// pipeline:
///   - use: authentication
///   - use: rate-limit
///     config:
///       perToken: { requestsPerSecond: 50, burst: 100 }
///       perOrganization: { requestsPerSecond: 100, burst: 200 }
///       global: { requestsPerSecond: 1000, burst: 2000 }
///       organizations: { "6c1e…": { requestsPerSecond: 200, burst: 400 } }
///       idleSeconds: 300
/// ```
/// Place it after `authentication`: before it, only the global bucket applies.
public struct RateLimitStage: Stage {
    /// A sustained rate and the burst allowed on top of it.
    /// A bucket's rate (kept under this name for the stage's configuration).
    public typealias Limit = RateLimit

    /// The `config:` block.
    public struct Configuration: Codable, Sendable, Hashable {
        /// Each API token. Default 50/s, burst 100.
        public var perToken = Limit(requestsPerSecond: 50, burst: 100)
        /// Each organization, all its tokens together. Default 100/s, burst 200.
        public var perOrganization = Limit(requestsPerSecond: 100, burst: 200)
        /// The whole gateway. Default 1000/s, burst 2000.
        public var global = Limit(requestsPerSecond: 1000, burst: 2000)
        /// Per-organization overrides of `perOrganization`, by organization id. Default none.
        public var organizations: [String: Limit] = [:]
        /// A bucket unused this long is forgotten (it would be full again anyway). Default 300.
        public var idleSeconds: Double = 300

        public init() {}

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            perToken = try c.decodeIfPresent(Limit.self, forKey: .perToken) ?? perToken
            perOrganization = try c.decodeIfPresent(Limit.self, forKey: .perOrganization) ?? perOrganization
            global = try c.decodeIfPresent(Limit.self, forKey: .global) ?? global
            organizations = try c.decodeIfPresent([String: Limit].self, forKey: .organizations) ?? organizations
            idleSeconds = try c.decodeIfPresent(Double.self, forKey: .idleSeconds) ?? idleSeconds
        }
    }

    public static let name: PluginName = "rate-limit"

    let configuration: Configuration
    let store: any RateLimitStore
    let clock: @Sendable () -> Double
    let rejected: [Scope: Counter]

    /// Which bucket refused a request; a bounded metric dimension.
    enum Scope: String, CaseIterable {
        case global, organization, token
    }

    public init(configuration: Configuration, context: PluginContext) async throws {
        let clock = MonotonicSeconds()
        try self.init(configuration: configuration, context: context) { clock() }
    }

    /// Builds the stage with a clock in seconds (tests drive time by hand).
    public init(configuration: Configuration, context: PluginContext, clock: @escaping @Sendable () -> Double) throws {
        try configuration.perToken.check("perToken")
        try configuration.perOrganization.check("perOrganization")
        try configuration.global.check("global")
        for (organization, limit) in configuration.organizations { try limit.check("organizations.\(organization)") }
        guard configuration.idleSeconds > 0 else { throw ConfigurationError.invalidValue("idleSeconds", "must be above 0") }
        let limits = [configuration.perToken, configuration.perOrganization, configuration.global] + configuration.organizations.values
        // A forgotten bucket must have been full: keep buckets at least as long as the slowest takes to refill.
        let refill = limits.map(\.refillSeconds).max() ?? 0
        self.configuration = configuration
        self.store = InMemoryRateLimitStore(idleSeconds: max(configuration.idleSeconds, refill))
        self.clock = clock
        self.rejected = Dictionary(
            uniqueKeysWithValues: Scope.allCases.map {
                ($0, Counter(label: "scim_gateway.rate_limit.rejected", dimensions: [("scope", $0.rawValue)], factory: context.metricsFactory))
            }
        )
    }

    public func handle(
        _ request: SCIMRequest,
        context: GatewayContext,
        next: (SCIMRequest, GatewayContext) async throws -> SCIMResponse
    ) async throws -> SCIMResponse {
        var buckets: [RateLimitKey] = [RateLimitKey(scope: "global", id: "", limit: configuration.global)]
        if let principal = context.principal {
            let organizationLimit = configuration.organizations[principal.organizationID] ?? configuration.perOrganization
            buckets.append(RateLimitKey(scope: "organization", id: principal.organizationID, limit: organizationLimit))
            buckets.append(RateLimitKey(scope: "token", id: principal.tokenID, limit: configuration.perToken))
        }
        if let denied = store.take(buckets, at: clock()) {
            rejected[Scope(rawValue: denied.key.scope) ?? .global]?.increment()
            let error = SCIMError.tooManyRequests(scope: denied.key.scope, retryAfter: denied.retryAfter)
            context.logger.debug(
                "rate limited",
                metadata: ["rate_limit.scope": "\(denied.key.scope)", "rate_limit.retry_after": "\(error.headers[.retryAfter] ?? "")"]
            )
            throw error
        }
        return try await next(request, context)
    }
}
