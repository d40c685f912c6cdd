public import GatewayCore
import Logging
public import Metrics

/// Declarative rules between what the identity provider sends and the Fulcrum member's fields, without code.
///
/// Each rule reads one or more SCIM attribute paths (core, enterprise, or an extension declared under
/// `scim.extensions`, filtered paths included) and writes either a Fulcrum member field (`member.email`,
/// `member.firstName`, `member.lastName`) or another SCIM attribute, through transforms. Rules run on the final
/// representation of every create, replace and patch, in dependency order; the user is stored as the client sent it
/// (plus any SCIM attributes the rules wrote), so the client reads back what it wrote.
///
/// ```yaml
/// scim:
///   extensions:
///     - id: urn:example:params:scim:schemas:extension:fulcrum:2.0:User
///       name: FulcrumUser
///       attributes: [ { name: crewEmail }, { name: surname } ]
/// pipeline:
///   - use: attribute-mapping
///     config:
///       rules:
///         - { from: "urn:example:params:scim:schemas:extension:fulcrum:2.0:User:crewEmail", to: member.email, transform: [trim, lowercase] }
///         - { from: [name.givenName, name.familyName], to: displayName, template: "{name.givenName} {name.familyName}" }
///         - { from: title, to: member.lastName, map: { Lead: Crew Lead }, default: Unknown }
///       organizations:
///         "6c1e…": { rules: [] }     # this organization uses no mapping
/// ```
/// A rule that cannot work (an unknown source or target, two rules writing one target, a cycle) is refused at start.
public struct AttributeMappingStage: Stage {
    /// A value transform, applied in the order listed.
    public enum Transform: String, Codable, Sendable, Hashable {
        case trim, lowercase, uppercase
    }

    /// One rule.
    public struct Rule: Codable, Sendable, Hashable {
        /// Source paths; a single string is accepted. The first non-empty one is the value (unless `template`).
        public var from: [String]
        /// `member.email`, `member.firstName`, `member.lastName`, or a SCIM attribute path.
        public var to: String
        /// Transforms applied to the value. Default none.
        public var transform: [Transform] = []
        /// Joins several attributes: `{path}` placeholders are replaced by their values.
        public var template: String?
        /// Value map applied after the transforms; values not listed pass through. Default none.
        public var map: [String: String] = [:]
        /// The value when the sources are absent or empty. Default none (the target is left alone).
        public var `default`: String?

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            if let single = try? c.decode(String.self, forKey: .from) {
                from = [single]
            } else {
                from = try c.decodeIfPresent([String].self, forKey: .from) ?? []
            }
            to = try c.decode(String.self, forKey: .to)
            transform = try c.decodeIfPresent([Transform].self, forKey: .transform) ?? transform
            template = try c.decodeIfPresent(String.self, forKey: .template)
            map = try c.decodeIfPresent([String: String].self, forKey: .map) ?? map
            self.default = try c.decodeIfPresent(String.self, forKey: .default)
        }
    }

    /// A set of rules (for per-organization overrides).
    public struct RuleSet: Codable, Sendable, Hashable {
        public var rules: [Rule]
    }

    /// The `config:` block.
    public struct Configuration: Codable, Sendable, Hashable {
        /// The rules for every organization. Default none.
        public var rules: [Rule] = []
        /// Rules that replace ``rules`` for one organization, by organization id. Default none.
        public var organizations: [String: RuleSet] = [:]

        public init() {}

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            rules = try c.decodeIfPresent([Rule].self, forKey: .rules) ?? rules
            organizations = try c.decodeIfPresent([String: RuleSet].self, forKey: .organizations) ?? organizations
        }
    }

    public static let name: PluginName = "attribute-mapping"

    let standard: CompiledRules
    let perOrganization: [String: CompiledRules]

    public init(configuration: Configuration, context: PluginContext) async throws {
        let engine = PatchEngine(schemas: context.schemas.schemas(.user), coreSchema: SCIMSchema.user)
        standard = try CompiledRules(configuration.rules, path: "rules", schemas: context.schemas, engine: engine)
        var overrides: [String: CompiledRules] = [:]
        for (organization, set) in configuration.organizations {
            overrides[organization] = try CompiledRules(
                set.rules,
                path: "organizations.\(organization).rules",
                schemas: context.schemas,
                engine: engine
            )
        }
        perOrganization = overrides
    }

    public func handle(
        _ request: SCIMRequest,
        context: GatewayContext,
        next: (SCIMRequest, GatewayContext) async throws -> SCIMResponse
    ) async throws -> SCIMResponse {
        guard request.operation.resourceType == .user, request.operation.isWrite else { return try await next(request, context) }
        var context = context
        let standard = self.standard
        let perOrganization = self.perOrganization
        context.policy.mapping = { user, organizationID in
            try (perOrganization[organizationID] ?? standard).apply(to: user)
        }
        return try await next(request, context)
    }
}
