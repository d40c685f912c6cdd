/// The Fulcrum side of a backend: what an organization's administrators do in Fulcrum itself (here, through the
/// `scim-gateway` admin commands). Objects made here are *unmanaged*; managed objects refuse changes that only the
/// identity provider may make.
public protocol DirectoryAdministration: Sendable {
    func createOrganization(name: String, features: PlanFeatures) async throws -> Organization
    func updateOrganization(id: String, plan: Plan?, sso: Bool?, developerPack: Bool?) async throws -> Organization
    func listOrganizations() async throws -> [Organization]

    func addMember(organizationID: String, email: String, firstName: String?, lastName: String?, role: MemberRole) async throws -> Member
    func removeMember(organizationID: String, email: String) async throws
    /// Changes a member. A managed member's email and names belong to the identity provider and are refused;
    /// its role may change (an Owner who is demoted loses its tokens).
    func updateMember(
        organizationID: String,
        email: String,
        newEmail: String?,
        firstName: String?,
        lastName: String?,
        role: MemberRole?
    ) async throws -> Member
    /// Active members only: a deactivated SCIM user is not a member of the organization.
    func listMembers(organizationID: String) async throws -> [Member]

    /// Issues a token for an Owner; the secret is in the result and nowhere else.
    func createToken(organizationID: String, memberEmail: String, description: String?) async throws -> IssuedToken
    func listTokens(organizationID: String) async throws -> [TokenInfo]
    func revokeToken(organizationID: String, tokenID: String) async throws

    func createGroup(organizationID: String, name: String) async throws -> DirectoryGroup
    func listGroups(organizationID: String) async throws -> [DirectoryGroup]
    func addGroupMember(organizationID: String, groupID: String, email: String) async throws
    func removeGroupMember(organizationID: String, groupID: String, email: String) async throws
    func deleteGroup(organizationID: String, groupID: String) async throws
    func renameGroup(organizationID: String, groupID: String, name: String) async throws
}

/// A Fulcrum organization.
public struct Organization: Sendable, Hashable, Codable {
    public var id: String
    public var name: String
    public var features: PlanFeatures

    public init(id: String, name: String, features: PlanFeatures) {
        self.id = id
        self.name = name
        self.features = features
    }
}

/// A member of an organization, as the Fulcrum side lists it.
public struct Member: Sendable, Hashable, Codable {
    public var id: String
    public var email: String
    public var firstName: String?
    public var lastName: String?
    public var role: MemberRole
    /// Created (or adopted) through SCIM.
    public var managed: Bool
    public var active: Bool

    public init(id: String, email: String, firstName: String?, lastName: String?, role: MemberRole, managed: Bool, active: Bool) {
        self.id = id
        self.email = email
        self.firstName = firstName
        self.lastName = lastName
        self.role = role
        self.managed = managed
        self.active = active
    }
}

/// A group, as the Fulcrum side lists it.
public struct DirectoryGroup: Sendable, Hashable, Codable {
    public var id: String
    public var name: String
    public var managed: Bool
    /// Active members only.
    public var memberCount: Int

    public init(id: String, name: String, managed: Bool, memberCount: Int) {
        self.id = id
        self.name = name
        self.managed = managed
        self.memberCount = memberCount
    }
}

/// A newly issued API token. ``secret`` exists only here: the store keeps a SHA-256 digest.
public struct IssuedToken: Sendable {
    public var info: TokenInfo
    public var secret: String

    public init(info: TokenInfo, secret: String) {
        self.info = info
        self.secret = secret
    }
}

/// What the store knows about a token: never the token itself.
public struct TokenInfo: Sendable, Hashable, Codable {
    public var id: String
    public var description: String?
    public var memberEmail: String
    public var createdAt: String
    public var lastUsedAt: String?
    public var revoked: Bool

    public init(id: String, description: String?, memberEmail: String, createdAt: String, lastUsedAt: String?, revoked: Bool) {
        self.id = id
        self.description = description
        self.memberEmail = memberEmail
        self.createdAt = createdAt
        self.lastUsedAt = lastUsedAt
        self.revoked = revoked
    }
}

/// A refused or failed administrative action, with a message meant to be printed as is.
public struct DirectoryError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, RawRepresentable {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public static let notFound = Self(rawValue: "notFound")
        public static let conflict = Self(rawValue: "conflict")
        /// The object is managed by the identity provider.
        public static let managed = Self(rawValue: "managed")
        public static let invalid = Self(rawValue: "invalid")
        public static let notAllowed = Self(rawValue: "notAllowed")
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
