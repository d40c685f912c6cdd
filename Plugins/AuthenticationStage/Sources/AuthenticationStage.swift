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
/// Place it first: stages after it see `context.principal`.
///
/// ```yaml
/// pipeline:
///   - use: authentication
/// ```
public struct AuthenticationStage: Stage {
    /// The `config:` block; this stage has no settings yet.
    public struct Configuration: Codable, Sendable, Hashable {
        public init() {}
    }

    public static let name: PluginName = "authentication"

    let backend: any BackendAdapter
    let rejected: Counter

    public init(configuration: Configuration, context: PluginContext) async throws {
        guard let backend = context.backend else {
            throw ConfigurationError.invalidValue("", "the authentication stage needs a backend")
        }
        self.backend = backend
        self.rejected = Counter(label: "scim_gateway.authentication.rejected", factory: context.metricsFactory)
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
            let principal = try await backend.authenticate(token: token, context: context)
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
