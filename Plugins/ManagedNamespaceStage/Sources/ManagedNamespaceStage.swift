public import GatewayCore
import Logging
public import Metrics

/// Fulcrum's namespace rules, for every backend:
/// - group members are managed users of the organization: an unknown or unmanaged id, or a group, is 400
///   `invalidValue` naming it, and nothing of the request is applied;
/// - SCIM never changes or deletes the member whose token is in use;
/// - `roles` map to Fulcrum roles through ``Configuration/roleMapping`` (case-insensitive), an unknown role falls back
///   to ``Configuration/defaultRole`` and is logged, and no mapping can grant Owner;
/// - a new user whose email belongs to an unmanaged member is refused or adopted (``Configuration/onUnmanagedConflict``).
///
/// The backend keeps unmanaged objects out of every SCIM result (``BackendAdapter``'s contract); this stage hands it
/// the rules above as the request's ``ProvisioningPolicy``.
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
        public var onUnmanagedConflict: ProvisioningPolicy.UnmanagedConflict = .reject
        /// The role of a user who sends no role, or one the mapping does not know. Default `standard`.
        public var defaultRole: MemberRole = .standard
        /// Identity-provider role names (Entra app roles) to Fulcrum roles, compared case-insensitively. Default `{}`,
        /// where every user gets ``defaultRole``.
        public var roleMapping: [String: MemberRole] = [:]

        public init() {}

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            onUnmanagedConflict =
                try c.decodeIfPresent(ProvisioningPolicy.UnmanagedConflict.self, forKey: .onUnmanagedConflict) ?? onUnmanagedConflict
            defaultRole = try c.decodeIfPresent(MemberRole.self, forKey: .defaultRole) ?? defaultRole
            roleMapping = try c.decodeIfPresent([String: MemberRole].self, forKey: .roleMapping) ?? roleMapping
        }
    }

    public static let name: PluginName = "managed-namespace"

    let backend: any BackendAdapter
    let policy: ProvisioningPolicy
    let refused: Counter

    public init(configuration: Configuration, context: PluginContext) async throws {
        guard let backend = context.backend else { throw ConfigurationError.invalidValue("", "the managed-namespace stage needs a backend") }
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
        let roles = mapping
        let defaultRole = configuration.defaultRole
        let logger = context.logger
        let unknownRoles = Counter(label: "scim_gateway.managed_namespace.unknown_role", factory: context.metricsFactory)
        self.backend = backend
        self.refused = Counter(label: "scim_gateway.managed_namespace.refused", factory: context.metricsFactory)
        self.policy = ProvisioningPolicy(onUnmanagedConflict: configuration.onUnmanagedConflict) { sent in
            guard let name = Self.primaryRole(sent) else { return defaultRole }
            if let role = roles[name.lowercased()] { return role }
            unknownRoles.increment()
            logger.notice("unknown role; using the default role", metadata: ["scim.role": "\(name)", "fulcrum.role": "\(defaultRole.rawValue)"])
            return defaultRole
        }
    }

    /// The primary role's value (Entra sends `[{"primary": "True", "value": "Manager"}]`), else the first one's.
    static func primaryRole(_ roles: JSONValue?) -> String? {
        guard let roles else { return nil }
        let entries = roles.arrayValue ?? [roles]
        let chosen = entries.first { $0[attribute: "primary"]?.scimBoolean == true } ?? entries.first
        let name = chosen?[attribute: "value"]?.stringValue ?? chosen?.stringValue
        return name.flatMap { $0.isEmpty ? nil : $0 }
    }

    public func handle(
        _ request: SCIMRequest,
        context: GatewayContext,
        next: (SCIMRequest, GatewayContext) async throws -> SCIMResponse
    ) async throws -> SCIMResponse {
        var context = context
        context.policy.onUnmanagedConflict = policy.onUnmanagedConflict
        context.policy.role = policy.role
        do {
            try await check(request, context: context)
        } catch let error as SCIMError {
            refused.increment()
            throw error
        }
        return try await next(request, context)
    }

    func check(_ request: SCIMRequest, context: GatewayContext) async throws {
        switch request.operation {
        case .replace(.user, let id), .patch(.user, let id), .delete(.user, let id):
            if let principal = context.principal, id == principal.memberID {
                throw SCIMError.forbidden("SCIM cannot change the member whose token is in use (\(id)); change it in Fulcrum")
            }
        case .create(.group), .replace(.group, _):
            try await checkMembers(ResourceCodecLite.memberIDs(in: request.body?[attribute: "members"]), context: context)
        case .patch(.group, _):
            guard let body = request.body else { return }
            let operations = try PatchOperation.operations(fromBody: body)
            var added: [String] = []
            for operation in operations where operation.op != .remove {
                if let path = operation.path {
                    guard path.lowercased().hasPrefix("members") else { continue }
                    added += ResourceCodecLite.memberIDs(in: operation.value)
                } else {
                    added += ResourceCodecLite.memberIDs(in: operation.value?[attribute: "members"])
                }
            }
            try await checkMembers(added, context: context)
        default:
            return
        }
    }

    /// Every id must be a user the backend shows to SCIM (so a managed user of this organization).
    func checkMembers(_ ids: [String], context: GatewayContext) async throws {
        for id in Set(ids).sorted() {
            do {
                _ = try await backend.get(id: id, in: .user, projection: .init(attributes: ["id"], excludedAttributes: []), context: context)
                continue
            } catch let error as SCIMError where error.status == .notFound {}
            if (try? await backend.get(id: id, in: .group, projection: .init(attributes: ["id"], excludedAttributes: []), context: context)) != nil {
                throw SCIMError.invalidValue("member \(id) is a Group: nested groups are not supported")
            }
            throw SCIMError.invalidValue("member \(id) is not a User provisioned in this organization")
        }
    }
}

/// The member ids of a `members` value: `[{"value": id}]`, `{"value": id}` or bare ids.
enum ResourceCodecLite {
    static func memberIDs(in value: JSONValue?) -> [String] {
        guard let value, !value.isNull else { return [] }
        return (value.arrayValue ?? [value]).compactMap { $0[attribute: "value"]?.stringValue ?? $0.stringValue }
    }
}
