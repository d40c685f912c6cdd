internal import Foundation
public import SCIMCore

/// One transaction on a backend's directory: what a backend implements so that the ``ResourceService`` (the SCIM
/// protocol) and ``FulcrumRules`` (Fulcrum's rules) can run on it.
///
/// The interface is records, not SCIM: members and groups with their versions, membership changes as deltas, lookups
/// by the normalised keys of ``DirectoryKey``, organizations and tokens. Every read inside a write transaction sees
/// the transaction's own writes; everything written in one transaction commits together or not at all.
///
/// Implementations translate their own failures at this boundary: a unique-key violation is ``SCIMError`` 409
/// `uniqueness`, a busy store 503 with `Retry-After`.
public protocol DirectoryTransaction: Sendable {
    // MARK: Organizations
    func organization(id: String) async throws -> Organization?
    func organizations() async throws -> [Organization]
    func insert(_ organization: Organization) async throws
    func update(_ organization: Organization) async throws

    // MARK: Members (users)
    /// Any member of the organization, managed or not.
    func member(id: String, organizationID: String) async throws -> MemberRecord?
    /// The member whose ``MemberRecord/emailKey`` or ``MemberRecord/userNameKey`` is `key`.
    func member(organizationID: String, _ key: MemberLookup) async throws -> MemberRecord?
    /// Every member of the organization, in creation order.
    func members(organizationID: String) async throws -> [MemberRecord]
    func insert(_ member: MemberRecord) async throws
    /// Writes every field of `member` (its version included, as given).
    func update(_ member: MemberRecord) async throws
    /// Deletes the member, its group memberships and its tokens.
    func deleteMember(id: String) async throws

    // MARK: Groups
    func group(id: String, organizationID: String) async throws -> GroupRecord?
    /// The group of the namespace (`managed`) whose ``GroupRecord/nameKey`` is `nameKey`.
    func group(organizationID: String, managed: Bool, nameKey: String) async throws -> GroupRecord?
    /// Every group of the organization.
    func groups(organizationID: String) async throws -> [GroupRecord]
    func insert(_ group: GroupRecord) async throws
    func update(_ group: GroupRecord) async throws
    /// Deletes the group and its memberships.
    func deleteGroup(id: String) async throws

    // MARK: Membership
    /// Member ids of each group, in the order the members were created.
    func memberIDs(ofGroups groupIDs: [String]) async throws -> [String: [String]]
    /// The managed groups of each member, by name.
    func managedGroups(ofMembers memberIDs: [String]) async throws -> [String: [GroupReference]]
    /// Adds and removes members of one group; ids already in (or not in) the group are ignored.
    func changeMembers(ofGroup groupID: String, adding: [String], removing: [String]) async throws
    /// Raises the version of each member (its `groups` changed) and sets its modification time.
    func touchMembers(_ ids: [String], at time: String) async throws
    /// Raises the version of each group (its `members` changed) and sets its modification time.
    func touchGroups(_ ids: [String], at time: String) async throws

    // MARK: Tokens
    func token(digest: String) async throws -> TokenRecord?
    /// The token with `digest`, the member who made it and its organization, in one lookup: authentication runs on
    /// every request.
    func credential(digest: String) async throws -> Credential?
    func tokens(organizationID: String) async throws -> [TokenRecord]
    func insert(_ token: TokenRecord) async throws
    func update(_ token: TokenRecord) async throws
    /// Records that SCIM took over a member made in Fulcrum.
    func recordAdoption(memberID: String, organizationID: String, tokenID: String, userName: String, at time: String) async throws

    // MARK: Upstream links
    /// Which object of an upstream system (Fulcrum's API) a member or group record stands for; kept by a directory
    /// that fronts one, empty elsewhere.
    func upstreamLink(id: String) async throws -> UpstreamLink?
    func upstreamLinks(organizationID: String) async throws -> [UpstreamLink]
    func save(_ link: UpstreamLink) async throws
    func deleteUpstreamLink(id: String) async throws

    // MARK: Outbox (queued delivery to an upstream system)
    /// Marks a record as changed since its last delivery: a new entry at the end of the organization's queue, or,
    /// when one is pending (not parked) for the record, that entry with its revision raised and its place kept.
    func enqueue(_ entry: OutboxEntry) async throws
    /// Pending and parked entries, oldest first; `organizationID` and `parked` narrow the list when given.
    func outboxEntries(organizationID: String?, parked: Bool?) async throws -> [OutboxEntry]
    /// One entry by its queue position (a point lookup: the worker checks every delivered entry).
    func outboxEntry(sequence: Int) async throws -> OutboxEntry?
    func update(_ entry: OutboxEntry) async throws
    func deleteOutboxEntry(sequence: Int) async throws

    // MARK: SCIM search
    /// One page of the organization's managed members (or groups) matching `query.filter`, sorted and paged, and the
    /// number of matches. A filter on an attribute the type does not have matches nothing.
    func searchMembers(organizationID: String, query: SearchQuery, schemas: SchemaCatalog) async throws -> (total: Int, page: [MemberRecord])
    func searchGroups(organizationID: String, query: SearchQuery, schemas: SchemaCatalog) async throws -> (total: Int, page: [GroupRecord])
}

/// What authentication needs of a token, its member and its organization: no more, since it is read on every request.
public struct Credential: Sendable, Hashable {
    public var tokenID: String
    public var revoked: Bool
    public var lastUsedAt: String?
    public var memberID: String
    public var role: MemberRole
    /// The member is in the organization (not deactivated through SCIM).
    public var memberActive: Bool
    public var organization: Organization

    public init(
        tokenID: String,
        revoked: Bool,
        lastUsedAt: String?,
        memberID: String,
        role: MemberRole,
        memberActive: Bool,
        organization: Organization
    ) {
        self.tokenID = tokenID
        self.revoked = revoked
        self.lastUsedAt = lastUsedAt
        self.memberID = memberID
        self.role = role
        self.memberActive = memberActive
        self.organization = organization
    }
}

/// A record's counterpart upstream: for a member, the Fulcrum membership id (`nil` while deactivated: it is not a
/// member then) and the global user id; for a group, the Fulcrum group id.
public struct UpstreamLink: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable {
        case member
        case group
    }

    /// The record's id (the SCIM id).
    public var id: String
    public var organizationID: String
    public var kind: Kind
    public var upstreamID: String?
    public var userID: String?
    /// What the upstream system holds, as last delivered (queued delivery diffs the record against it).
    public var delivered: JSONValue?

    public init(id: String, organizationID: String, kind: Kind, upstreamID: String?, userID: String? = nil, delivered: JSONValue? = nil) {
        self.id = id
        self.organizationID = organizationID
        self.kind = kind
        self.upstreamID = upstreamID
        self.userID = userID
        self.delivered = delivered
    }
}

/// A record whose change waits for delivery upstream. One pending entry per record: later changes raise
/// ``revision`` and keep the entry's place, so the delivery sends the record's state at that time, coalesced.
public struct OutboxEntry: Sendable, Hashable {
    /// The queue position, assigned by the store; 0 before.
    public var sequence: Int
    public var organizationID: String
    public var kind: UpstreamLink.Kind
    /// The record's id (the SCIM id).
    public var resourceID: String
    /// For a record deleted before its deletion was delivered: the upstream id to delete.
    public var deletedUpstreamID: String?
    /// Raised by every change while pending.
    public var revision: Int
    public var createdAt: String
    public var attempts: Int
    /// No attempt before this time (ISO 8601).
    public var notBefore: String?
    public var parked: Bool
    public var lastError: String?

    public init(
        sequence: Int = 0,
        organizationID: String,
        kind: UpstreamLink.Kind,
        resourceID: String,
        deletedUpstreamID: String? = nil,
        revision: Int = 1,
        createdAt: String,
        attempts: Int = 0,
        notBefore: String? = nil,
        parked: Bool = false,
        lastError: String? = nil
    ) {
        self.sequence = sequence
        self.organizationID = organizationID
        self.kind = kind
        self.resourceID = resourceID
        self.deletedUpstreamID = deletedUpstreamID
        self.revision = revision
        self.createdAt = createdAt
        self.attempts = attempts
        self.notBefore = notBefore
        self.parked = parked
        self.lastError = lastError
    }
}

/// How a member is looked up by a normalised key.
public enum MemberLookup: Sendable, Hashable {
    case email(key: String)
    case userName(key: String)
}

/// A member of an organization as the directory stores it: the Fulcrum fields and, for a managed member, its SCIM
/// state.
public struct MemberRecord: Sendable, Hashable {
    public var id: String
    public var organizationID: String
    /// The Fulcrum member email; `nil` until the identity provider sends one (the user is then not yet a member).
    public var email: String?
    public var firstName: String?
    public var lastName: String?
    public var role: MemberRole
    /// Created (or adopted) through SCIM.
    public var managed: Bool
    /// `nil` when SCIM unassigned it: the member stays active.
    public var active: Bool?
    public var userName: String?
    public var externalID: String?
    /// The stored SCIM attributes other than the ones kept in fields.
    public var attributes: [String: JSONValue]
    /// `meta.version`: raised by every change to the SCIM representation, membership included.
    public var version: Int
    public var createdAt: String
    public var updatedAt: String

    public init(
        id: String,
        organizationID: String,
        email: String?,
        firstName: String?,
        lastName: String?,
        role: MemberRole,
        managed: Bool,
        active: Bool?,
        userName: String? = nil,
        externalID: String? = nil,
        attributes: [String: JSONValue] = [:],
        version: Int = 1,
        createdAt: String,
        updatedAt: String
    ) {
        self.id = id
        self.organizationID = organizationID
        self.email = email
        self.firstName = firstName
        self.lastName = lastName
        self.role = role
        self.managed = managed
        self.active = active
        self.userName = userName
        self.externalID = externalID
        self.attributes = attributes
        self.version = version
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    /// A member is in the organization unless SCIM deactivated it (`active == false`).
    public var isActive: Bool { active ?? true }
    /// Listed as a Fulcrum member: active and with an email.
    public var isListed: Bool { isActive && email != nil }
    public var emailKey: String? { email.map(DirectoryKey.fold) }
    public var userNameKey: String? { userName.map(DirectoryKey.fold) }

    /// The member as the Fulcrum side lists it.
    public var member: Member {
        Member(id: id, email: email ?? "", firstName: firstName, lastName: lastName, role: role, managed: managed, active: isActive)
    }
}

/// A group as the directory stores it.
public struct GroupRecord: Sendable, Hashable {
    public var id: String
    public var organizationID: String
    public var name: String
    public var managed: Bool
    public var externalID: String?
    public var attributes: [String: JSONValue]
    public var version: Int
    public var createdAt: String
    public var updatedAt: String

    public init(
        id: String,
        organizationID: String,
        name: String,
        managed: Bool,
        externalID: String? = nil,
        attributes: [String: JSONValue] = [:],
        version: Int = 1,
        createdAt: String,
        updatedAt: String
    ) {
        self.id = id
        self.organizationID = organizationID
        self.name = name
        self.managed = managed
        self.externalID = externalID
        self.attributes = attributes
        self.version = version
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    public var nameKey: String { DirectoryKey.fold(name) }
}

/// An API token as the directory stores it: a SHA-256 digest, never the secret.
public struct TokenRecord: Sendable, Hashable {
    public var id: String
    public var organizationID: String
    public var memberID: String
    public var digest: String
    public var description: String?
    public var createdAt: String
    public var lastUsedAt: String?
    public var revokedAt: String?

    public init(
        id: String,
        organizationID: String,
        memberID: String,
        digest: String,
        description: String?,
        createdAt: String,
        lastUsedAt: String? = nil,
        revokedAt: String? = nil
    ) {
        self.id = id
        self.organizationID = organizationID
        self.memberID = memberID
        self.digest = digest
        self.description = description
        self.createdAt = createdAt
        self.lastUsedAt = lastUsedAt
        self.revokedAt = revokedAt
    }
}

/// The normalised form of a case-insensitive unique value (`userName`, emails, group names): Unicode canonical
/// composition (NFC), then full case folding, computed in Swift so every store compares the same way:
/// `Émile@example.com`, `émile@example.com` and `E\u{301}mile@example.com` share one key.
public enum DirectoryKey {
    public static func fold(_ text: String) -> String { CaseFolding.fold(text) }
}
