public import Foundation
public import Logging
public import Metrics
public import SCIMCore

/// What a plugin gets at construction: where to log, where to count, and how to resolve paths it is given.
public struct PluginContext: Sendable {
    public var logger: Logger
    public var metricsFactory: any MetricsFactory
    /// The directory of the configuration file; relative paths in it resolve against this.
    public var configurationDirectory: URL
    /// The backend, built before any stage, for stages that call it directly (authentication).
    public var backend: (any BackendAdapter)?
    /// The schemas the gateway serves, declared extensions included.
    public var schemas: SchemaCatalog
    /// The client's IP address as the connection shows it (no `X-Forwarded-For`), for limits before authentication.
    public var clientAddress: String?

    public init(
        logger: Logger,
        metricsFactory: any MetricsFactory,
        configurationDirectory: URL,
        backend: (any BackendAdapter)? = nil,
        schemas: SchemaCatalog = .standard
    ) {
        self.logger = logger
        self.metricsFactory = metricsFactory
        self.configurationDirectory = configurationDirectory
        self.backend = backend
        self.schemas = schemas
    }

    /// Resolves `path` against the configuration file's directory unless it is absolute.
    public func resolve(path: String) -> URL {
        if path.hasPrefix("/") { return URL(fileURLWithPath: path) }
        return configurationDirectory.appendingPathComponent(path)
    }
}

/// Per-request state shared by the stages and the backend.
public struct GatewayContext: Sendable {
    /// The id logged with every line of this request and named in opaque 500s.
    public var requestID: String
    /// Set by the `authentication` stage; a backend refuses to act without one.
    public var principal: Principal?
    public var logger: Logger
    /// The absolute URL of the SCIM base (`https://host:8443/scim/v2`), for `meta.location`.
    public var baseURL: String
    /// Fulcrum rules for the backend, set by the `managed-namespace` stage.
    public var policy: ProvisioningPolicy
    /// The schemas the gateway serves, declared extensions included.
    public var schemas: SchemaCatalog
    /// The client's IP address as the connection shows it (no `X-Forwarded-For`), for limits before authentication.
    public var clientAddress: String?

    public init(
        requestID: String,
        principal: Principal? = nil,
        logger: Logger,
        baseURL: String,
        policy: ProvisioningPolicy = .default,
        schemas: SchemaCatalog = .standard
    ) {
        self.requestID = requestID
        self.principal = principal
        self.logger = logger
        self.baseURL = baseURL
        self.policy = policy
        self.schemas = schemas
    }

    /// The principal, or 401 when no authentication stage ran.
    public func requirePrincipal() throws -> Principal {
        guard let principal else {
            throw SCIMError.unauthorized("this request was not authenticated: the pipeline has no authentication stage")
        }
        return principal
    }
}
