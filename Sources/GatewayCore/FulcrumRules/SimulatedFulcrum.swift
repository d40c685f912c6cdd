internal import Foundation

/// The Fulcrum side of a directory that simulates Fulcrum (the embedded one, and the in-memory one of the tests):
/// what an organization's administrators do in Fulcrum itself, written once over ``DirectoryTransaction``. Objects
/// made here are *unmanaged*; managed objects refuse changes that only the identity provider may make. Every action
/// is one transaction.
public struct SimulatedFulcrum: DirectoryAdministration {
    public let backend: any BackendAdapter

    public init(backend: any BackendAdapter) {
        self.backend = backend
    }

    // MARK: Organizations

    public func createOrganization(name: String, features: PlanFeatures) async throws -> Organization {
        try await backend.write { try await Self.createOrganization(name: name, features: features, in: $0) }
    }

    static func createOrganization(name: String, features: PlanFeatures, in directory: any DirectoryTransaction) async throws -> Organization {
        let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw DirectoryError(.invalid, "the organization name is empty") }
        let organization = Organization(id: FulcrumRules.newID(), name: trimmed, features: features)
        try await directory.insert(organization)
        return organization
    }

    public func updateOrganization(id: String, plan: Plan?, sso: Bool?, developerPack: Bool?) async throws -> Organization {
        try await backend.write { directory in
            var organization = try await Self.organization(id: id, in: directory)
            if let plan { organization.features.plan = plan }
            if let sso { organization.features.sso = sso }
            if let developerPack { organization.features.developerPack = developerPack }
            try await directory.update(organization)
            return organization
        }
    }

    public func listOrganizations() async throws -> [Organization] {
        try await backend.read { try await $0.organizations() }
    }

    static func organization(id: String, in directory: any DirectoryTransaction) async throws -> Organization {
        guard let organization = try await directory.organization(id: id) else { throw DirectoryError(.notFound, "no organization with id \(id)") }
        return organization
    }

    // MARK: Members

    public func addMember(organizationID: String, email: String, firstName: String?, lastName: String?, role: MemberRole) async throws -> Member {
        try await backend.write { directory in
            try await Self.addMember(
                organizationID: organizationID,
                email: email,
                firstName: firstName,
                lastName: lastName,
                role: role,
                in: directory
            )
        }
    }

    static func addMember(
        organizationID: String,
        email: String,
        firstName: String?,
        lastName: String?,
        role: MemberRole,
        in directory: any DirectoryTransaction
    ) async throws -> Member {
        let email = email.trimmingCharacters(in: .whitespacesAndNewlines)
        guard FulcrumRules.looksLikeEmail(email) else { throw DirectoryError(.invalid, "'\(email)' is not an email address") }
        _ = try await organization(id: organizationID, in: directory)
        if try await directory.member(organizationID: organizationID, .email(key: DirectoryKey.fold(email))) != nil {
            throw DirectoryError(.conflict, "a member with email \(email) already exists in this organization")
        }
        let now = Timestamp.now
        let record = MemberRecord(
            id: FulcrumRules.newID(),
            organizationID: organizationID,
            email: email,
            firstName: firstName,
            lastName: lastName,
            role: role,
            managed: false,
            active: true,
            createdAt: now,
            updatedAt: now
        )
        try await directory.insert(record)
        return record.member
    }

    public func removeMember(organizationID: String, email: String) async throws {
        try await backend.write { directory in
            let member = try await Self.member(email: email, organizationID: organizationID, in: directory)
            if member.managed {
                throw DirectoryError(.managed, "\(email) is managed by the identity provider: unassign or delete the user there (SCIM) instead")
            }
            if member.role == .owner { try await Self.requireAnotherOwner(than: member, in: directory) }
            // Its group memberships and every token it created go with it.
            try await directory.deleteMember(id: member.id)
        }
    }

    public func updateMember(
        organizationID: String,
        email: String,
        newEmail: String?,
        firstName: String?,
        lastName: String?,
        role: MemberRole?
    ) async throws -> Member {
        try await backend.write { directory in
            var member = try await Self.member(email: email, organizationID: organizationID, in: directory)
            if member.managed, newEmail != nil || firstName != nil || lastName != nil {
                throw DirectoryError(
                    .managed,
                    "\(member.email ?? email) is managed by the identity provider: change its email and names there (SCIM), not in Fulcrum"
                )
            }
            if let newEmail {
                let trimmed = newEmail.trimmingCharacters(in: .whitespacesAndNewlines)
                guard FulcrumRules.looksLikeEmail(trimmed) else { throw DirectoryError(.invalid, "'\(trimmed)' is not an email address") }
                if let other = try await directory.member(organizationID: organizationID, .email(key: DirectoryKey.fold(trimmed))),
                    other.id != member.id
                {
                    throw DirectoryError(.conflict, "a member with email \(trimmed) already exists in this organization")
                }
                member.email = trimmed
            }
            if let firstName { member.firstName = firstName }
            if let lastName { member.lastName = lastName }
            if let role, role != member.role {
                if member.role == .owner {
                    try await Self.requireAnotherOwner(than: member, in: directory)
                    // A demoted Owner's tokens are revoked for good, as when it leaves.
                    try await FulcrumRules.revokeTokens(of: member.id, organizationID: organizationID, in: directory)
                }
                member.role = role
            }
            member.version += 1
            member.updatedAt = Timestamp.now
            try await directory.update(member)
            return member.member
        }
    }

    /// An organization keeps at least one active Owner.
    static func requireAnotherOwner(than member: MemberRecord, in directory: any DirectoryTransaction) async throws {
        let others = try await directory.members(organizationID: member.organizationID).filter {
            $0.role == .owner && $0.isActive && $0.id != member.id
        }
        guard !others.isEmpty else {
            throw DirectoryError(.notAllowed, "\(member.email ?? member.id) is the organization's only Owner; make another member an Owner first")
        }
    }

    /// Active members with an email: a deactivated SCIM user, or one with no email yet, is not a Fulcrum member.
    public func listMembers(organizationID: String) async throws -> [Member] {
        try await backend.read { directory in
            _ = try await Self.organization(id: organizationID, in: directory)
            return try await directory.members(organizationID: organizationID).filter(\.isListed).map(\.member)
        }
    }

    static func member(email: String, organizationID: String, in directory: any DirectoryTransaction) async throws -> MemberRecord {
        _ = try await organization(id: organizationID, in: directory)
        guard let member = try await directory.member(organizationID: organizationID, .email(key: DirectoryKey.fold(email))) else {
            throw DirectoryError(.notFound, "no member with email \(email) in this organization")
        }
        return member
    }

    // MARK: Tokens

    public func createToken(organizationID: String, memberEmail: String, description: String?) async throws -> IssuedToken {
        try await backend.write { directory in
            try await Self.createToken(organizationID: organizationID, memberEmail: memberEmail, description: description, in: directory)
        }
    }

    static func createToken(
        organizationID: String,
        memberEmail: String,
        description: String?,
        in directory: any DirectoryTransaction
    ) async throws -> IssuedToken {
        let member = try await member(email: memberEmail, organizationID: organizationID, in: directory)
        guard member.isActive else { throw DirectoryError(.notFound, "no member with email \(memberEmail) in this organization") }
        guard member.role == .owner else {
            throw DirectoryError(.notAllowed, "only an Owner can create an API token; \(memberEmail) is a \(member.role.rawValue)")
        }
        let secret = FulcrumRules.newToken()
        let record = TokenRecord(
            id: FulcrumRules.newID(),
            organizationID: organizationID,
            memberID: member.id,
            digest: FulcrumRules.digest(secret),
            description: description,
            createdAt: Timestamp.now
        )
        try await directory.insert(record)
        let info = TokenInfo(
            id: record.id,
            description: description,
            memberEmail: member.email ?? memberEmail,
            createdAt: record.createdAt,
            lastUsedAt: nil,
            revoked: false
        )
        return IssuedToken(info: info, secret: secret)
    }

    public func listTokens(organizationID: String) async throws -> [TokenInfo] {
        try await backend.read { directory in
            _ = try await Self.organization(id: organizationID, in: directory)
            var emails: [String: String] = [:]
            for member in try await directory.members(organizationID: organizationID) { emails[member.id] = member.email }
            return try await directory.tokens(organizationID: organizationID).map { token in
                TokenInfo(
                    id: token.id,
                    description: token.description,
                    memberEmail: emails[token.memberID] ?? "",
                    createdAt: token.createdAt,
                    lastUsedAt: token.lastUsedAt,
                    revoked: token.revokedAt != nil
                )
            }
        }
    }

    public func revokeToken(organizationID: String, tokenID: String) async throws {
        try await backend.write { directory in
            guard var token = try await directory.tokens(organizationID: organizationID).first(where: { $0.id == tokenID }) else {
                throw DirectoryError(.notFound, "no token with id \(tokenID) in this organization")
            }
            guard token.revokedAt == nil else { throw DirectoryError(.conflict, "token \(tokenID) is already revoked") }
            token.revokedAt = Timestamp.now
            try await directory.update(token)
        }
    }

    // MARK: Groups

    public func createGroup(organizationID: String, name: String) async throws -> DirectoryGroup {
        let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw DirectoryError(.invalid, "the group name is empty") }
        return try await backend.write { directory in
            _ = try await Self.organization(id: organizationID, in: directory)
            guard try await directory.group(organizationID: organizationID, managed: false, nameKey: DirectoryKey.fold(trimmed)) == nil else {
                throw DirectoryError(.conflict, "a group named \(trimmed) already exists in this organization")
            }
            let now = Timestamp.now
            let record = GroupRecord(
                id: FulcrumRules.newID(),
                organizationID: organizationID,
                name: trimmed,
                managed: false,
                createdAt: now,
                updatedAt: now
            )
            try await directory.insert(record)
            return DirectoryGroup(id: record.id, name: trimmed, managed: false, memberCount: 0)
        }
    }

    /// Groups by name; a group's member count is of its listed members (active, with an email).
    public func listGroups(organizationID: String) async throws -> [DirectoryGroup] {
        try await backend.read { directory in
            _ = try await Self.organization(id: organizationID, in: directory)
            let groups = try await directory.groups(organizationID: organizationID)
            let listed = Set(try await directory.members(organizationID: organizationID).filter(\.isListed).map(\.id))
            let members = try await directory.memberIDs(ofGroups: groups.map(\.id))
            return
                groups
                .sorted { ($0.nameKey, $0.managed ? 1 : 0, $0.id) < ($1.nameKey, $1.managed ? 1 : 0, $1.id) }
                .map { group in
                    DirectoryGroup(
                        id: group.id,
                        name: group.name,
                        managed: group.managed,
                        memberCount: (members[group.id] ?? []).filter(listed.contains).count
                    )
                }
        }
    }

    /// The group, refused when it is managed by the identity provider.
    static func unmanagedGroup(id: String, organizationID: String, action: String, in directory: any DirectoryTransaction) async throws -> GroupRecord
    {
        _ = try await organization(id: organizationID, in: directory)
        guard let group = try await directory.group(id: id, organizationID: organizationID) else {
            throw DirectoryError(.notFound, "no group with id \(id) in this organization")
        }
        if group.managed {
            throw DirectoryError(.managed, "group \(group.name) is managed by the identity provider (SCIM); \(action) it there, not in Fulcrum")
        }
        return group
    }

    public func addGroupMember(organizationID: String, groupID: String, email: String) async throws {
        try await backend.write { directory in
            let group = try await Self.unmanagedGroup(id: groupID, organizationID: organizationID, action: "change the membership of", in: directory)
            let member = try await Self.member(email: email, organizationID: organizationID, in: directory)
            guard member.isActive else { throw DirectoryError(.notFound, "no member with email \(email) in this organization") }
            guard !(try await directory.memberIDs(ofGroups: [groupID])[groupID] ?? []).contains(member.id) else {
                throw DirectoryError(.conflict, "\(email) is already a member of \(group.name)")
            }
            try await directory.changeMembers(ofGroup: groupID, adding: [member.id], removing: [])
        }
    }

    public func removeGroupMember(organizationID: String, groupID: String, email: String) async throws {
        try await backend.write { directory in
            let group = try await Self.unmanagedGroup(id: groupID, organizationID: organizationID, action: "change the membership of", in: directory)
            let member = try await Self.member(email: email, organizationID: organizationID, in: directory)
            guard (try await directory.memberIDs(ofGroups: [groupID])[groupID] ?? []).contains(member.id) else {
                throw DirectoryError(.notFound, "\(email) is not a member of \(group.name)")
            }
            try await directory.changeMembers(ofGroup: groupID, adding: [], removing: [member.id])
        }
    }

    public func renameGroup(organizationID: String, groupID: String, name: String) async throws {
        let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw DirectoryError(.invalid, "the group name is empty") }
        try await backend.write { directory in
            var group = try await Self.unmanagedGroup(id: groupID, organizationID: organizationID, action: "rename", in: directory)
            if let other = try await directory.group(organizationID: organizationID, managed: false, nameKey: DirectoryKey.fold(trimmed)),
                other.id != groupID
            {
                throw DirectoryError(.conflict, "a group named \(trimmed) already exists in this organization")
            }
            group.name = trimmed
            group.version += 1
            group.updatedAt = Timestamp.now
            try await directory.update(group)
        }
    }

    public func deleteGroup(organizationID: String, groupID: String) async throws {
        try await backend.write { directory in
            _ = try await Self.unmanagedGroup(id: groupID, organizationID: organizationID, action: "delete", in: directory)
            try await directory.deleteGroup(id: groupID)
        }
    }

    // MARK: Bootstrap

    /// First start: an empty store gets the organization, its Owner and a token, in one transaction; a store that
    /// holds any organization is left alone (`nil`).
    public func bootstrap(_ seed: BootstrapConfiguration) async throws -> (Organization, IssuedToken)? {
        try await backend.write { directory -> (Organization, IssuedToken)? in
            guard try await directory.organizations().isEmpty else { return nil }
            let organization = try await Self.createOrganization(
                name: seed.organization.name,
                features: PlanFeatures(plan: seed.organization.plan, sso: seed.organization.sso, developerPack: seed.organization.developerPack),
                in: directory
            )
            _ = try await Self.addMember(
                organizationID: organization.id,
                email: seed.owner.email,
                firstName: seed.owner.firstName,
                lastName: seed.owner.lastName,
                role: .owner,
                in: directory
            )
            let token = try await Self.createToken(
                organizationID: organization.id,
                memberEmail: seed.owner.email,
                description: seed.tokenDescription,
                in: directory
            )
            return (organization, token)
        }
    }
}
