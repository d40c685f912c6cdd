public import GatewayCore
import Logging
public import Metrics

/// Configures Fulcrum's organization rules (``FulcrumRules``) for every backend: how identity-provider roles map to
/// Fulcrum roles, and what a new user whose email belongs to a member made in Fulcrum does. The rules themselves
/// (group members are managed users, the token's own member is never changed, no mapping grants Owner, deactivation
/// is leaving the organization) run in the ``ResourceService``, inside each write's transaction, whatever the
/// request's spelling; this stage hands them the configuration as the request's ``ProvisioningPolicy/rules``.
///
/// ```yaml
/// pipeline:
///   - use: managed-namespace
///     config:
///       onUnmanagedConflict: reject     # reject | adopt
///       defaultRole: standard           # manager | standard
///       roleMapping: { Manager: manager, "Field Worker": standard }
/// ```
public struct ManagedNamespaceStage: Stage {
    /// The `config:` block.
    public struct Configuration: Codable, Sendable, Hashable {
        /// What a new user whose email belongs to a member made in Fulcrum does: `reject` (409) or `adopt`. Default `reject`.
        public var onUnmanagedConflict: FulcrumRules.UnmanagedConflict = .reject
        /// The role of a user who sends no role, or one the mapping does not know. Default `standard`.
        public var defaultRole: MemberRole = .standard
        /// Identity-provider role names (Entra app roles) to Fulcrum roles, compared case-insensitively. Default `{}`,
        /// where every user gets ``defaultRole``. Roles are mapped when a user is created and whenever its `roles`
        /// change; a role set in Fulcrum stands until then.
        public var roleMapping: [String: MemberRole] = [:]

        public init() {}

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            onUnmanagedConflict = try c.decodeIfPresent(FulcrumRules.UnmanagedConflict.self, forKey: .onUnmanagedConflict) ?? onUnmanagedConflict
            defaultRole = try c.decodeIfPresent(MemberRole.self, forKey: .defaultRole) ?? defaultRole
            roleMapping = try c.decodeIfPresent([String: MemberRole].self, forKey: .roleMapping) ?? roleMapping
        }
    }

    public static let name: PluginName = "managed-namespace"

    /// The rules every request of this pipeline is served with.
    public let rules: FulcrumRules

    public init(configuration: Configuration, context: PluginContext) async throws {
        guard configuration.defaultRole != .owner else {
            throw ConfigurationError.invalidValue("defaultRole", "SCIM cannot grant the Owner role")
        }
        var mapping: [String: MemberRole] = [:]
        for (name, role) in configuration.roleMapping {
            guard role != .owner else { throw ConfigurationError.invalidValue("roleMapping.\(name)", "SCIM cannot grant the Owner role") }
            guard mapping.updateValue(role, forKey: name.lowercased()) == nil else {
                throw ConfigurationError.invalidValue("roleMapping.\(name)", "maps a role name twice (names compare case-insensitively)")
            }
        }
        let defaultRole = configuration.defaultRole
        let logger = context.logger
        let unknownRoles = Counter(label: "scim_gateway.managed_namespace.unknown_role", factory: context.metricsFactory)
        self.rules = FulcrumRules(
            onUnmanagedConflict: configuration.onUnmanagedConflict,
            defaultRole: defaultRole,
            roleMapping: mapping
        ) { name in
            unknownRoles.increment()
            logger.notice("unknown role; using the default role", metadata: ["scim.role": "\(name)", "fulcrum.role": "\(defaultRole.rawValue)"])
        }
    }

    public func handle(
        _ request: SCIMRequest,
        context: GatewayContext,
        next: (SCIMRequest, GatewayContext) async throws -> SCIMResponse
    ) async throws -> SCIMResponse {
        var context = context
        context.policy.rules = rules
        return try await next(request, context)
    }
}
