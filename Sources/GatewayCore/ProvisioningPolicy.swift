public import SCIMCore

/// Fulcrum rules a stage hands to the backend for one request: how SCIM roles become a Fulcrum role, and what to do
/// when a new user's email belongs to a member made in Fulcrum. Set by the `managed-namespace` stage; without it a
/// backend keeps its defaults (new members are `standard`, roles are not mapped, conflicts are refused).
public struct ProvisioningPolicy: Sendable {
    /// What happens when a created (or re-emailed) user's email belongs to an unmanaged member.
    public enum UnmanagedConflict: String, Codable, Sendable, Hashable {
        /// 409 `uniqueness`, naming the conflict and how to adopt.
        case reject
        /// The unmanaged member becomes managed, keeps its Fulcrum id, and the adoption is recorded.
        case adopt
    }

    public var onUnmanagedConflict: UnmanagedConflict
    /// Keep attributes the schemas do not define, as sent (the `validation` stage's `unsupportedAttributes: store`).
    public var storeUnsupportedAttributes = false
    /// Maps a user's `roles` (as stored) to a Fulcrum role; never returns `.owner`. `nil`: roles are not mapped.
    public var role: (@Sendable (_ roles: JSONValue?) -> MemberRole)?
    /// Rewrites a user as it is about to be stored and names the Fulcrum member fields it sets (the
    /// `attribute-mapping` stage). Called with the final representation of every create, replace and patch.
    public var mapping: (@Sendable (_ user: JSONValue, _ organizationID: String) throws -> (JSONValue, MemberFields))?

    public init(onUnmanagedConflict: UnmanagedConflict = .reject, role: (@Sendable (_ roles: JSONValue?) -> MemberRole)? = nil) {
        self.onUnmanagedConflict = onUnmanagedConflict
        self.role = role
    }

    /// The defaults of a pipeline without the `managed-namespace` stage.
    public static let `default` = ProvisioningPolicy()
}

/// Fulcrum member fields set by an attribute mapping; `nil` leaves the backend's own derivation (primary or work
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
