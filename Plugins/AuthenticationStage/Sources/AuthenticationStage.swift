public import GatewayCore
import Logging
public import Metrics

/// Resolves the bearer token to a principal through the backend and enforces the plan rules: SCIM needs the
/// Enterprise plan with SSO and the Developer Pack.
///
/// - Missing, malformed, unknown or revoked token, or a token whose member is gone or no longer an Owner: 401 with
///   `WWW-Authenticate: Bearer`.
/// - An organization without Enterprise + SSO + Developer Pack: 403 naming what is missing. Nothing is written.
///
/// Before the token is looked up (a store or upstream read), every request draws from a gateway-wide bucket and one
/// per client address, so a flood of bad tokens is answered 429 from memory; a token refused with 401 is
/// remembered (by its digest) for `failedTokenSeconds` and refused again without a lookup.
///
/// Place it first: stages after it see `context.principal`.
///
/// ```yaml
/// pipeline:
///   - use: authentication
///     config:
///       beforeLookup:
///         global: { requestsPerSecond: 2000, burst: 4000 }     # every request, before its token is looked up
///         perAddress: { requestsPerSecond: 200, burst: 400 }   # each client address (the load balancer's, behind one)
///       failedTokenSeconds: 10                                 # a refused token is refused from memory this long
/// ```
public struct AuthenticationStage: Stage {
    /// The `config:` block.
    public struct Configuration: Codable, Sendable, Hashable {
        /// Buckets every request draws from before its token is looked up.
        public struct BeforeLookup: Codable, Sendable, Hashable {
            /// All requests together. Default 2000/s, burst 4000.
            public var global = RateLimit(requestsPerSecond: 2000, burst: 4000)
            /// Each client address. Default 200/s, burst 400.
            public var perAddress = RateLimit(requestsPerSecond: 200, burst: 400)

            public init() {}

            public init(from decoder: any Decoder) throws {
                let c = try decoder.container(keyedBy: CodingKeys.self)
                global = try c.decodeIfPresent(RateLimit.self, forKey: .global) ?? global
                perAddress = try c.decodeIfPresent(RateLimit.self, forKey: .perAddress) ?? perAddress
            }
        }

        public var beforeLookup = BeforeLookup()
        /// Seconds a token refused with 401 is refused again without a lookup; 0 turns the cache off. Default 10.
        public var failedTokenSeconds: Double = 10

        public init() {}

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            beforeLookup = try c.decodeIfPresent(BeforeLookup.self, forKey: .beforeLookup) ?? beforeLookup
            failedTokenSeconds = try c.decodeIfPresent(Double.self, forKey: .failedTokenSeconds) ?? failedTokenSeconds
        }
    }

    public static let name: PluginName = "authentication"

    let backend: any BackendAdapter
    let configuration: Configuration
    let buckets: InMemoryRateLimitStore
    let failures: RecentFailures?
    let clock: @Sendable () -> Double
    let rejected: Counter
    let throttled: Counter

    public init(configuration: Configuration, context: PluginContext) async throws {
        let clock = MonotonicSeconds()
        try self.init(configuration: configuration, context: context) { clock() }
    }

    /// Builds the stage with a clock in seconds (tests drive time by hand).
    public init(configuration: Configuration, context: PluginContext, clock: @escaping @Sendable () -> Double) throws {
        guard let backend = context.backend else {
            throw ConfigurationError.invalidValue("", "the authentication stage needs a backend")
        }
        try configuration.beforeLookup.global.check("beforeLookup.global")
        try configuration.beforeLookup.perAddress.check("beforeLookup.perAddress")
        guard (0...3600).contains(configuration.failedTokenSeconds) else {
            throw ConfigurationError.invalidValue("failedTokenSeconds", "must be between 0 and 3600")
        }
        self.backend = backend
        self.configuration = configuration
        let refill = max(configuration.beforeLookup.global.refillSeconds, configuration.beforeLookup.perAddress.refillSeconds)
        self.buckets = InMemoryRateLimitStore(idleSeconds: max(60, refill))
        self.failures = configuration.failedTokenSeconds > 0 ? RecentFailures(seconds: configuration.failedTokenSeconds) : nil
        self.clock = clock
        self.rejected = Counter(label: "scim_gateway.authentication.rejected", factory: context.metricsFactory)
        self.throttled = Counter(label: "scim_gateway.authentication.throttled", factory: context.metricsFactory)
    }

    public func handle(
        _ request: SCIMRequest,
        context: GatewayContext,
        next: (SCIMRequest, GatewayContext) async throws -> SCIMResponse
    ) async throws -> SCIMResponse {
        var context = context
        do {
            guard let token = request.bearerToken else {
                throw SCIMError.unauthorized("missing bearer token: send 'Authorization: Bearer <token>'")
            }
            guard token.isWellFormed else {
                throw SCIMError.unauthorized("malformed bearer token: send 'Authorization: Bearer <token>' with a Fulcrum API token")
            }
            let now = clock()
            var admission = [RateLimitKey(scope: "gateway", id: "", limit: configuration.beforeLookup.global)]
            if let address = context.clientAddress {
                admission.append(RateLimitKey(scope: "address", id: address, limit: configuration.beforeLookup.perAddress))
            }
            if let denied = buckets.take(admission, at: now) {
                throttled.increment()
                throw SCIMError.tooManyRequests(scope: denied.key.scope, retryAfter: denied.retryAfter)
            }
            let digest = FulcrumRules.digest(token.secret)
            if let failures, failures.contains(digest, at: now) {
                throw SCIMError.unauthorized(
                    "the bearer token is not valid (it was refused less than \(Int(configuration.failedTokenSeconds)) seconds ago)"
                )
            }
            let principal: Principal
            do {
                principal = try await backend.authenticate(token: token, context: context)
            } catch let error as SCIMError where error.status == .unauthorized {
                failures?.insert(digest, at: now)
                throw error
            }
            let missing = principal.features.missingForSCIM
            guard missing.isEmpty else {
                throw SCIMError.forbidden(
                    "SCIM provisioning needs the Enterprise plan with single sign-on (SSO) and the Developer Pack; "
                        + "organization \(principal.organizationName) is missing \(missing.joined(separator: " and "))"
                )
            }
            context.principal = principal
            context.logger[metadataKey: "scim.organization"] = .string(principal.organizationID)
            context.logger[metadataKey: "scim.token_id"] = .string(principal.tokenID)
        } catch let error as SCIMError {
            rejected.increment()
            context.logger.debug("request refused", metadata: ["scim.status": "\(error.status.code)", "scim.detail": "\(error.detail)"])
            throw error
        }
        return try await next(request, context)
    }
}
