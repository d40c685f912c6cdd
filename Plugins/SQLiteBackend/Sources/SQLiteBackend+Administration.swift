import Foundation
public import GatewayCore
public import SCIMCore
import SQLiteNIO

/// The Fulcrum side of the embedded directory, used by the admin commands.
extension SQLiteBackend {
    public func createOrganization(name: String, features: PlanFeatures) async throws -> Organization {
        let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw DirectoryError(.invalid, "the organization name is empty") }
        let organization = Organization(id: Self.newID(), name: trimmed, features: features)
        let now = Timestamp.now
        try await store.write { connection in
            _ = try await connection.query(
                "INSERT INTO organizations (id, name, plan, sso, developer_pack, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    .text(organization.id), .text(trimmed), .text(features.plan.rawValue), .integer(features.sso ? 1 : 0),
                    .integer(features.developerPack ? 1 : 0), .text(now), .text(now),
                ]
            )
        }
        return organization
    }

    public func updateOrganization(id: String, plan: Plan?, sso: Bool?, developerPack: Bool?) async throws -> Organization {
        try await store.write { connection in
            var organization = try await Self.organization(id: id, on: connection)
            if let plan { organization.features.plan = plan }
            if let sso { organization.features.sso = sso }
            if let developerPack { organization.features.developerPack = developerPack }
            _ = try await connection.query(
                "UPDATE organizations SET plan = ?, sso = ?, developer_pack = ?, updated_at = ? WHERE id = ?",
                [
                    .text(organization.features.plan.rawValue), .integer(organization.features.sso ? 1 : 0),
                    .integer(organization.features.developerPack ? 1 : 0), .text(Timestamp.now), .text(id),
                ]
            )
            return organization
        }
    }

    public func listOrganizations() async throws -> [Organization] {
        try await store.read { connection in
            try await connection.query("SELECT * FROM organizations ORDER BY created_at, id").map(Self.organization(from:))
        }
    }

    static func organization(from row: SQLiteRow) -> Organization {
        Organization(
            id: row.string("id") ?? "",
            name: row.string("name") ?? "",
            features: PlanFeatures(
                plan: Plan(rawValue: row.string("plan") ?? "") ?? .essentials,
                sso: row.bool("sso"),
                developerPack: row.bool("developer_pack")
            )
        )
    }

    static func organization(id: String, on connection: SQLiteConnection) async throws -> Organization {
        guard let row = try await connection.query("SELECT * FROM organizations WHERE id = ?", [.text(id)]).first else {
            throw DirectoryError(.notFound, "no organization with id \(id)")
        }
        return organization(from: row)
    }

    public func addMember(
        organizationID: String,
        email: String,
        firstName: String?,
        lastName: String?,
        role: MemberRole
    ) async throws -> Member {
        let email = email.trimmingCharacters(in: .whitespacesAndNewlines)
        guard Self.looksLikeEmail(email) else { throw DirectoryError(.invalid, "'\(email)' is not an email address") }
        let member = Member(id: Self.newID(), email: email, firstName: firstName, lastName: lastName, role: role, managed: false, active: true)
        let now = Timestamp.now
        try await store.write { connection in
            _ = try await Self.organization(id: organizationID, on: connection)
            if try await Self.member(email: email, organizationID: organizationID, on: connection) != nil {
                throw DirectoryError(.conflict, "a member with email \(email) already exists in this organization")
            }
            _ = try await connection.query(
                """
                INSERT INTO members (id, organization_id, email, first_name, last_name, role, managed, active, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, 0, 1, ?, ?)
                """,
                [
                    .text(member.id), .text(organizationID), .text(email), .optional(firstName), .optional(lastName), .text(role.rawValue),
                    .text(now), .text(now),
                ]
            )
        }
        return member
    }

    public func removeMember(organizationID: String, email: String) async throws {
        try await store.write { connection in
            _ = try await Self.organization(id: organizationID, on: connection)
            guard let member = try await Self.member(email: email, organizationID: organizationID, on: connection) else {
                throw DirectoryError(.notFound, "no member with email \(email) in this organization")
            }
            if member.managed {
                throw DirectoryError(
                    .managed,
                    "\(email) is managed by the identity provider: unassign or delete the user there (SCIM) instead"
                )
            }
            if member.role == .owner { try await Self.requireAnotherOwner(than: member, organizationID: organizationID, on: connection) }
            // Cascades to its group memberships and to every token it created.
            _ = try await connection.query("DELETE FROM members WHERE id = ?", [.text(member.id)])
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
        try await store.write { connection in
            _ = try await Self.organization(id: organizationID, on: connection)
            guard var member = try await Self.member(email: email, organizationID: organizationID, on: connection) else {
                throw DirectoryError(.notFound, "no member with email \(email) in this organization")
            }
            if member.managed, newEmail != nil || firstName != nil || lastName != nil {
                throw DirectoryError(
                    .managed,
                    "\(member.email) is managed by the identity provider: change its email and names there (SCIM), not in Fulcrum"
                )
            }
            if let newEmail {
                let trimmed = newEmail.trimmingCharacters(in: .whitespacesAndNewlines)
                guard Self.looksLikeEmail(trimmed) else { throw DirectoryError(.invalid, "'\(trimmed)' is not an email address") }
                if let other = try await Self.member(email: trimmed, organizationID: organizationID, on: connection), other.id != member.id {
                    throw DirectoryError(.conflict, "a member with email \(trimmed) already exists in this organization")
                }
                member.email = trimmed
            }
            if let firstName { member.firstName = firstName }
            if let lastName { member.lastName = lastName }
            if let role, role != member.role {
                if member.role == .owner { try await Self.requireAnotherOwner(than: member, organizationID: organizationID, on: connection) }
                member.role = role
            }
            _ = try await connection.query(
                "UPDATE members SET email = ?, first_name = ?, last_name = ?, role = ?, version = version + 1, updated_at = ? WHERE id = ?",
                [
                    .text(member.email), .optional(member.firstName), .optional(member.lastName), .text(member.role.rawValue), .text(Timestamp.now),
                    .text(member.id),
                ]
            )
            return member
        }
    }

    /// An organization keeps at least one active Owner.
    static func requireAnotherOwner(than member: Member, organizationID: String, on connection: SQLiteConnection) async throws {
        let others = try await connection.query(
            "SELECT COUNT(*) AS n FROM members WHERE organization_id = ? AND role = 'owner' AND COALESCE(active, 1) = 1 AND id <> ?",
            [.text(organizationID), .text(member.id)]
        )
        guard (others.first?.int("n") ?? 0) > 0 else {
            throw DirectoryError(.notAllowed, "\(member.email) is the organization's only Owner; make another member an Owner first")
        }
    }

    public func listMembers(organizationID: String) async throws -> [Member] {
        try await store.read { connection in
            _ = try await Self.organization(id: organizationID, on: connection)
            return try await connection.query(
                "SELECT * FROM members WHERE organization_id = ? AND COALESCE(active, 1) = 1 AND email IS NOT NULL ORDER BY created_at, id",
                [.text(organizationID)]
            ).map(Self.member(from:))
        }
    }

    static func member(from row: SQLiteRow) -> Member {
        Member(
            id: row.string("id") ?? "",
            email: row.string("email") ?? "",
            firstName: row.string("first_name"),
            lastName: row.string("last_name"),
            role: MemberRole(rawValue: row.string("role") ?? "") ?? .standard,
            managed: row.bool("managed"),
            active: row.isActiveMember
        )
    }

    static func member(email: String, organizationID: String, on connection: SQLiteConnection) async throws -> Member? {
        try await connection.query(
            "SELECT * FROM members WHERE organization_id = ? AND email = ? COLLATE NOCASE",
            [.text(organizationID), .text(email)]
        ).first.map(member(from:))
    }

    static func looksLikeEmail(_ text: String) -> Bool {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        return parts.count == 2 && !parts[0].isEmpty && parts[1].contains(".") && !text.contains(where: \.isWhitespace)
    }

    public func createToken(organizationID: String, memberEmail: String, description: String?) async throws -> IssuedToken {
        let secret = Self.newToken()
        let now = Timestamp.now
        let info = try await store.write { connection in
            _ = try await Self.organization(id: organizationID, on: connection)
            guard let member = try await Self.member(email: memberEmail, organizationID: organizationID, on: connection), member.active else {
                throw DirectoryError(.notFound, "no member with email \(memberEmail) in this organization")
            }
            guard member.role == .owner else {
                throw DirectoryError(.notAllowed, "only an Owner can create an API token; \(memberEmail) is a \(member.role.rawValue)")
            }
            let info = TokenInfo(
                id: Self.newID(),
                description: description,
                memberEmail: member.email,
                createdAt: now,
                lastUsedAt: nil,
                revoked: false
            )
            _ = try await connection.query(
                "INSERT INTO api_tokens (id, organization_id, member_id, digest, description, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                [.text(info.id), .text(organizationID), .text(member.id), .text(Self.digest(secret)), .optional(description), .text(now)]
            )
            return info
        }
        return IssuedToken(info: info, secret: secret)
    }

    public func listTokens(organizationID: String) async throws -> [TokenInfo] {
        try await store.read { connection in
            _ = try await Self.organization(id: organizationID, on: connection)
            return try await connection.query(
                """
                SELECT t.*, m.email FROM api_tokens t JOIN members m ON m.id = t.member_id
                WHERE t.organization_id = ? ORDER BY t.created_at, t.id
                """,
                [.text(organizationID)]
            ).map { row in
                TokenInfo(
                    id: row.string("id") ?? "",
                    description: row.string("description"),
                    memberEmail: row.string("email") ?? "",
                    createdAt: row.string("created_at") ?? "",
                    lastUsedAt: row.string("last_used_at"),
                    revoked: row.string("revoked_at") != nil
                )
            }
        }
    }

    public func revokeToken(organizationID: String, tokenID: String) async throws {
        try await store.write { connection in
            let rows = try await connection.query(
                "SELECT revoked_at FROM api_tokens WHERE id = ? AND organization_id = ?",
                [.text(tokenID), .text(organizationID)]
            )
            guard let row = rows.first else { throw DirectoryError(.notFound, "no token with id \(tokenID) in this organization") }
            guard row.string("revoked_at") == nil else { throw DirectoryError(.conflict, "token \(tokenID) is already revoked") }
            _ = try await connection.query("UPDATE api_tokens SET revoked_at = ? WHERE id = ?", [.text(Timestamp.now), .text(tokenID)])
        }
    }

    public func createGroup(organizationID: String, name: String) async throws -> DirectoryGroup {
        let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw DirectoryError(.invalid, "the group name is empty") }
        let group = DirectoryGroup(id: Self.newID(), name: trimmed, managed: false, memberCount: 0)
        let now = Timestamp.now
        try await store.write { connection in
            _ = try await Self.organization(id: organizationID, on: connection)
            let existing = try await connection.query(
                "SELECT 1 FROM groups WHERE organization_id = ? AND managed = 0 AND name = ? COLLATE NOCASE",
                [.text(organizationID), .text(trimmed)]
            )
            guard existing.isEmpty else { throw DirectoryError(.conflict, "a group named \(trimmed) already exists in this organization") }
            _ = try await connection.query(
                "INSERT INTO groups (id, organization_id, name, managed, created_at, updated_at) VALUES (?, ?, ?, 0, ?, ?)",
                [.text(group.id), .text(organizationID), .text(trimmed), .text(now), .text(now)]
            )
        }
        return group
    }

    public func listGroups(organizationID: String) async throws -> [DirectoryGroup] {
        try await store.read { connection in
            _ = try await Self.organization(id: organizationID, on: connection)
            return try await connection.query(
                """
                SELECT g.id, g.name, g.managed,
                       (SELECT COUNT(*) FROM group_members gm JOIN members m ON m.id = gm.member_id
                        WHERE gm.group_id = g.id AND COALESCE(m.active, 1) = 1) AS member_count
                FROM groups g WHERE g.organization_id = ? ORDER BY g.name COLLATE NOCASE, g.managed, g.id
                """,
                [.text(organizationID)]
            ).map { row in
                DirectoryGroup(
                    id: row.string("id") ?? "",
                    name: row.string("name") ?? "",
                    managed: row.bool("managed"),
                    memberCount: row.int("member_count")
                )
            }
        }
    }

    /// The group, refused when it is managed by the identity provider.
    static func unmanagedGroup(id: String, organizationID: String, action: String, on connection: SQLiteConnection) async throws -> String {
        let rows = try await connection.query(
            "SELECT name, managed FROM groups WHERE id = ? AND organization_id = ?",
            [.text(id), .text(organizationID)]
        )
        guard let row = rows.first else { throw DirectoryError(.notFound, "no group with id \(id) in this organization") }
        let name = row.string("name") ?? id
        if row.bool("managed") {
            throw DirectoryError(
                .managed,
                "group \(name) is managed by the identity provider (SCIM); \(action) it there, not in Fulcrum"
            )
        }
        return name
    }

    public func addGroupMember(organizationID: String, groupID: String, email: String) async throws {
        try await store.write { connection in
            _ = try await Self.organization(id: organizationID, on: connection)
            let name = try await Self.unmanagedGroup(id: groupID, organizationID: organizationID, action: "change the membership of", on: connection)
            guard let member = try await Self.member(email: email, organizationID: organizationID, on: connection), member.active else {
                throw DirectoryError(.notFound, "no member with email \(email) in this organization")
            }
            let existing = try await connection.query(
                "SELECT 1 FROM group_members WHERE group_id = ? AND member_id = ?",
                [.text(groupID), .text(member.id)]
            )
            guard existing.isEmpty else { throw DirectoryError(.conflict, "\(email) is already a member of \(name)") }
            _ = try await connection.query("INSERT INTO group_members (group_id, member_id) VALUES (?, ?)", [.text(groupID), .text(member.id)])
        }
    }

    public func removeGroupMember(organizationID: String, groupID: String, email: String) async throws {
        try await store.write { connection in
            _ = try await Self.organization(id: organizationID, on: connection)
            let name = try await Self.unmanagedGroup(id: groupID, organizationID: organizationID, action: "change the membership of", on: connection)
            guard let member = try await Self.member(email: email, organizationID: organizationID, on: connection) else {
                throw DirectoryError(.notFound, "no member with email \(email) in this organization")
            }
            let existing = try await connection.query(
                "SELECT 1 FROM group_members WHERE group_id = ? AND member_id = ?",
                [.text(groupID), .text(member.id)]
            )
            guard !existing.isEmpty else { throw DirectoryError(.notFound, "\(email) is not a member of \(name)") }
            _ = try await connection.query("DELETE FROM group_members WHERE group_id = ? AND member_id = ?", [.text(groupID), .text(member.id)])
        }
    }

    public func renameGroup(organizationID: String, groupID: String, name: String) async throws {
        let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw DirectoryError(.invalid, "the group name is empty") }
        try await store.write { connection in
            _ = try await Self.organization(id: organizationID, on: connection)
            _ = try await Self.unmanagedGroup(id: groupID, organizationID: organizationID, action: "rename", on: connection)
            let clash = try await connection.query(
                "SELECT 1 FROM groups WHERE organization_id = ? AND managed = 0 AND name = ? COLLATE NOCASE AND id <> ?",
                [.text(organizationID), .text(trimmed), .text(groupID)]
            )
            guard clash.isEmpty else { throw DirectoryError(.conflict, "a group named \(trimmed) already exists in this organization") }
            _ = try await connection.query(
                "UPDATE groups SET name = ?, version = version + 1, updated_at = ? WHERE id = ?",
                [.text(trimmed), .text(Timestamp.now), .text(groupID)]
            )
        }
    }

    public func deleteGroup(organizationID: String, groupID: String) async throws {
        try await store.write { connection in
            _ = try await Self.organization(id: organizationID, on: connection)
            _ = try await Self.unmanagedGroup(id: groupID, organizationID: organizationID, action: "delete", on: connection)
            _ = try await connection.query("DELETE FROM groups WHERE id = ?", [.text(groupID)])
        }
    }
}
