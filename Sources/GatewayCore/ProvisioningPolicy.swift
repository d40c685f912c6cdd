public import SCIMCore

/// What the stages hand the ``ResourceService`` for one request: Fulcrum's rules as configured (the
/// `managed-namespace` stage), the attribute mapping (the `attribute-mapping` stage) and the validation stage's
/// storage and size choices. Without those stages the defaults apply.
public struct ProvisioningPolicy: Sendable {
    /// Fulcrum's rules; ``FulcrumRules/default`` without the `managed-namespace` stage.
    public var rules: FulcrumRules = .default
    /// Keep attributes the schemas do not define, as sent (the `validation` stage's `unsupportedAttributes: store`).
    public var storeUnsupportedAttributes = false
    /// The most group members one PATCH may add or remove, counted on the change it really makes (the `validation`
    /// stage's `maxMembersPerPatch`); `nil`: no limit.
    public var maxMembersPerPatch: Int?
    /// Rewrites a user as it is about to be stored and names the Fulcrum member fields it sets (the
    /// `attribute-mapping` stage). Called with the final representation of every create, replace and patch.
    public var mapping: (@Sendable (_ user: JSONValue, _ organizationID: String) throws -> (JSONValue, MemberFields))?

    public init(rules: FulcrumRules = .default) {
        self.rules = rules
    }

    /// The defaults of a pipeline without the stages that set a policy.
    public static let `default` = ProvisioningPolicy()
}

/// Fulcrum member fields set by an attribute mapping; `nil` leaves the service's own derivation (primary or work
/// email, `name.givenName`, `name.familyName`).
public struct MemberFields: Sendable, Hashable {
    public var email: String?
    public var firstName: String?
    public var lastName: String?

    public init(email: String? = nil, firstName: String? = nil, lastName: String? = nil) {
        self.email = email
        self.firstName = firstName
        self.lastName = lastName
    }
}
