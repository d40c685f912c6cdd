internal import Crypto
public import Foundation

/// The emulator's data: Fulcrum's organizations, user accounts, memberships, roles, groups and API tokens, as
/// `FULCRUM_API.md` describes them. Pure values; ``Emulator`` guards one instance with a lock.
public struct EmulatorModel: Sendable {
    public struct Role: Sendable, Hashable {
        public var id: String
        public var name: String
        public var isDefault: Bool
        public var isOwner: Bool { name == "Owner" }
    }

    public struct Organization: Sendable, Hashable {
        public var id: String
        public var name: String
        public var developerPack: Bool
        public var roles: [Role]
    }

    /// A global Fulcrum user account; a membership puts it in an organization.
    public struct User: Sendable, Hashable {
        public var id: String
        public var email: String
        public var firstName: String
        public var lastName: String
    }

    public struct Membership: Sendable, Hashable {
        public var id: String
        public var organizationID: String
        public var userID: String
        public var roleID: String
        /// Provisioned through SSO/SCIM; visible only with `managed_info=1`.
        public var managed: Bool
        public var createdAt: String
        public var updatedAt: String
    }

    public struct Group: Sendable, Hashable {
        public var id: String
        public var organizationID: String
        public var name: String
        public var description: String?
        /// Membership ids, in the order they were added.
        public var memberIDs: [String]
        public var managed: Bool
    }

    public struct Token: Sendable, Hashable {
        public var secret: String
        public var userID: String
        public var organizationID: String
        public var revoked: Bool
    }

    public var organizations: [String: Organization] = [:]
    /// Organization ids in creation order.
    public var organizationOrder: [String] = []
    public var users: [String: User] = [:]
    public var memberships: [String: Membership] = [:]
    /// Membership ids in creation order.
    public var membershipOrder: [String] = []
    public var groups: [String: Group] = [:]
    public var groupOrder: [String] = []
    public var tokens: [String: Token] = [:]
    /// Lowercased email to user id, and "user|organization" to membership id: kept by the methods below, checked
    /// against the tables on every read (a membership removed directly reads as absent).
    var userIDByEmail: [String: String] = [:]
    var membershipIDByUser: [String: String] = [:]
    var idCounter = 0

    public init() {}

    /// Reproducible ids: the same seed gives the same ids in every run (UUID-shaped, from SHA-256 of a counter).
    mutating func newID(_ kind: String) -> String {
        idCounter += 1
        let digest = Array(SHA256.hash(data: Data("fulcrum-emulator/\(kind)/\(idCounter)".utf8)))
        var bytes = Array(digest.prefix(16))
        bytes[6] = (bytes[6] & 0x0F) | 0x40
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        return UUID(
            uuid: (
                bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7], bytes[8], bytes[9], bytes[10], bytes[11], bytes[12],
                bytes[13], bytes[14], bytes[15]
            )
        ).uuidString.lowercased()
    }

    // MARK: Organizations

    @discardableResult
    public mutating func addOrganization(name: String, developerPack: Bool) -> Organization {
        let id = newID("organization")
        let roles = ["Owner", "Manager", "Standard User", "Record Creator"].map {
            Role(id: newID("role"), name: $0, isDefault: $0 == "Standard User")
        }
        let organization = Organization(id: id, name: name, developerPack: developerPack, roles: roles)
        organizations[id] = organization
        organizationOrder.append(id)
        return organization
    }

    public func role(named name: String, in organizationID: String) -> Role? {
        organizations[organizationID]?.roles.first { $0.name.lowercased() == name.lowercased() }
    }

    public func defaultRole(of organizationID: String) -> Role? {
        organizations[organizationID]?.roles.first(where: \.isDefault)
    }

    // MARK: Users and memberships

    public func user(email: String) -> User? {
        let key = email.lowercased()
        guard let id = userIDByEmail[key], let user = users[id], user.email.lowercased() == key else { return nil }
        return user
    }

    public func memberships(of organizationID: String) -> [Membership] {
        membershipOrder.compactMap { memberships[$0] }.filter { $0.organizationID == organizationID }
    }

    public func membership(userID: String, organizationID: String) -> Membership? {
        guard let id = membershipIDByUser["\(userID)|\(organizationID)"], let membership = memberships[id],
            membership.userID == userID, membership.organizationID == organizationID
        else { return nil }
        return membership
    }

    public func membership(email: String, organizationID: String) -> Membership? {
        user(email: email).flatMap { membership(userID: $0.id, organizationID: organizationID) }
    }

    /// Adds `email` to the organization: an existing account is linked (its names kept), else a new one is made.
    public mutating func addMembership(
        organizationID: String,
        email: String,
        firstName: String?,
        lastName: String?,
        roleID: String?,
        managed: Bool
    ) throws(EmulatorError) -> Membership {
        let email = email.trimmingCharacters(in: .whitespaces)
        guard email.contains("@"), !email.contains(" "), email.split(separator: "@").count == 2 else {
            throw .validation(resource: "membership", field: "email", message: email.isEmpty ? "can't be blank" : "is invalid")
        }
        guard let organization = organizations[organizationID] else { throw .notFound }
        let role: Role
        if let roleID {
            guard let found = organization.roles.first(where: { $0.id == roleID }) else {
                throw .validation(resource: "membership", field: "role_id", message: "does not exist or you don't have access to it")
            }
            role = found
        } else {
            guard let found = organization.roles.first(where: \.isDefault) else { throw .notFound }
            role = found
        }
        let user: User
        if let existing = self.user(email: email) {
            if membership(userID: existing.id, organizationID: organizationID) != nil {
                throw .validation(resource: "membership", field: "email", message: "has already been taken")
            }
            user = existing  // the account exists elsewhere: its names stay
        } else {
            user = User(id: newID("user"), email: email, firstName: firstName ?? "", lastName: lastName ?? "")
            users[user.id] = user
            userIDByEmail[email.lowercased()] = user.id
        }
        let now = Self.timestamp()
        let membership = Membership(
            id: newID("membership"),
            organizationID: organizationID,
            userID: user.id,
            roleID: role.id,
            managed: managed,
            createdAt: now,
            updatedAt: now
        )
        memberships[membership.id] = membership
        membershipOrder.append(membership.id)
        membershipIDByUser["\(user.id)|\(organizationID)"] = membership.id
        return membership
    }

    /// Changes a member's account fields and role. Fails for an account in several organizations (Fulcrum's rule) and
    /// for an Owner's role.
    public mutating func updateMembership(
        id: String,
        organizationID: String,
        email: String?,
        firstName: String?,
        lastName: String?,
        roleID: String?
    ) throws(EmulatorError) -> Membership {
        guard var membership = memberships[id], membership.organizationID == organizationID, var user = users[membership.userID] else {
            throw .notFound
        }
        if email != nil || firstName != nil || lastName != nil {
            let organizationsOfUser = Set(memberships.values.filter { $0.userID == user.id }.map(\.organizationID))
            if organizationsOfUser.count > 1 {
                throw .validation(resource: "membership", field: "base", message: "cannot be updated: the member belongs to multiple organizations")
            }
        }
        if let email {
            let trimmed = email.trimmingCharacters(in: .whitespaces)
            guard trimmed.contains("@"), !trimmed.contains(" ") else {
                throw .validation(resource: "membership", field: "email", message: "is invalid")
            }
            if let other = self.user(email: trimmed), other.id != user.id {
                throw .validation(resource: "membership", field: "email", message: "has already been taken")
            }
            userIDByEmail[user.email.lowercased()] = nil
            userIDByEmail[trimmed.lowercased()] = user.id
            user.email = trimmed
        }
        if let firstName { user.firstName = firstName }
        if let lastName { user.lastName = lastName }
        if let roleID, roleID != membership.roleID {
            guard let organization = organizations[organizationID], let role = organization.roles.first(where: { $0.id == roleID }) else {
                throw .validation(resource: "membership", field: "role_id", message: "does not exist or you don't have access to it")
            }
            if organization.roles.first(where: { $0.id == membership.roleID })?.isOwner == true {
                throw .validation(resource: "membership", field: "role_id", message: "cannot be changed for an Owner")
            }
            membership.roleID = role.id
        }
        membership.updatedAt = Self.timestamp()
        users[user.id] = user
        memberships[id] = membership
        return membership
    }

    /// Removes the member from the organization and from its groups; the account stays.
    public mutating func removeMembership(id: String, organizationID: String, actingUserID: String?) throws(EmulatorError) {
        guard let membership = memberships[id], membership.organizationID == organizationID else { throw .notFound }
        if membership.userID == actingUserID {
            throw .validation(resource: "membership", field: "base", message: "you cannot remove your own membership")
        }
        if isOwner(membership) {
            throw .validation(resource: "membership", field: "base", message: "an Owner cannot be removed")
        }
        memberships[id] = nil
        membershipOrder.removeAll { $0 == id }
        for groupID in groupOrder where groups[groupID]?.organizationID == organizationID {
            groups[groupID]?.memberIDs.removeAll { $0 == id }
        }
    }

    public func isOwner(_ membership: Membership) -> Bool {
        organizations[membership.organizationID]?.roles.first { $0.id == membership.roleID }?.isOwner == true
    }

    // MARK: Groups

    public func groups(of organizationID: String) -> [Group] {
        groupOrder.compactMap { groups[$0] }.filter { $0.organizationID == organizationID }
    }

    public mutating func addGroup(organizationID: String, name: String, description: String?, managed: Bool) throws(EmulatorError) -> Group {
        guard !name.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw .validation(resource: "group", field: "name", message: "can't be blank")
        }
        let group = Group(id: newID("group"), organizationID: organizationID, name: name, description: description, memberIDs: [], managed: managed)
        groups[group.id] = group
        groupOrder.append(group.id)
        return group
    }

    /// Adds and removes members of a group, all or nothing: every id is checked first.
    public mutating func changeGroupMembers(
        groupID: String,
        organizationID: String,
        adding: [String],
        removing: [String],
        strict: Bool
    ) throws(EmulatorError) {
        guard var group = groups[groupID], group.organizationID == organizationID else {
            throw .validation(resource: "group", field: "group_id", message: "does not exist or you don't have access to it")
        }
        let unknown = (adding + removing).filter { memberships[$0]?.organizationID != organizationID }
        if !unknown.isEmpty {
            throw .validation(
                resource: "group",
                field: "members",
                message: "\(unknown.joined(separator: ", ")) does not exist or you don't have access to it"
            )
        }
        if strict {
            if let present = adding.first(where: group.memberIDs.contains) {
                throw .validation(resource: "group", field: "members", message: "\(present) is already a member")
            }
            if let absent = removing.first(where: { !group.memberIDs.contains($0) }) {
                throw .validation(resource: "group", field: "members", message: "\(absent) is not a member")
            }
        }
        for id in adding where !group.memberIDs.contains(id) { group.memberIDs.append(id) }
        group.memberIDs.removeAll { removing.contains($0) }
        groups[groupID] = group
    }

    // MARK: Tokens

    public mutating func addToken(_ secret: String, userID: String, organizationID: String) {
        tokens[secret] = Token(secret: secret, userID: userID, organizationID: organizationID, revoked: false)
    }

    static func timestamp(_ date: Date = Date()) -> String {
        Date.ISO8601FormatStyle(timeZone: .gmt).format(date)
    }
}

/// A refusal the emulator answers with Fulcrum's status and body.
public enum EmulatorError: Error, Sendable, Equatable {
    case notFound
    /// 422 `{"<resource>":{"errors":{"<field>":["<message>"]}}}`.
    case validation(resource: String, field: String, message: String)
}
