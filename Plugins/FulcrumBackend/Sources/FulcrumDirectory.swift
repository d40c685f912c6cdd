import Foundation
import GatewayCore
import Logging
import NIOHTTP1
import SCIMCore
import Synchronization

/// One write transaction of the `fulcrum` backend: the ledger's transaction, with each change of a managed member or
/// group first made in Fulcrum (one call where one will do). A refusal from Fulcrum throws, so the ledger
/// transaction rolls back and ledger and Fulcrum stay in step. Reads answer from the ledger; a lookup by email also
/// sees the members made in Fulcrum itself (unmanaged), so Fulcrum's rules on conflicts and adoption hold.
final class FulcrumDirectory: DirectoryTransaction {
    let ledger: any DirectoryTransaction
    let session: Session
    let backend: FulcrumBackend
    /// Groups created in this transaction whose creator may need removing (``FulcrumBackend/Configuration/removeGroupCreator``).
    let newGroups = Mutex<Set<String>>([])
    /// Queued delivery: writes change the ledger and mark the record in the outbox; the delivery worker calls Fulcrum.
    let queued: Bool

    init(ledger: any DirectoryTransaction, session: Session, backend: FulcrumBackend, queued: Bool = false) {
        self.ledger = ledger
        self.session = session
        self.backend = backend
        self.queued = queued
    }

    /// Marks a record for delivery (queued mode).
    func mark(_ kind: UpstreamLink.Kind, _ id: String, deleted upstreamID: String? = nil) async throws {
        try await ledger.enqueue(
            OutboxEntry(organizationID: organizationID, kind: kind, resourceID: id, deletedUpstreamID: upstreamID, createdAt: Timestamp.now)
        )
    }

    /// A record deleted in queued mode: Fulcrum's object is deleted later, or, never delivered, nothing is sent. An
    /// entry the worker has started on stays (its revision raised): the call under way may make the object, and
    /// the worker then deletes it by the link it records.
    func markDeleted(_ kind: UpstreamLink.Kind, _ id: String) async throws {
        if let upstream = try await ledger.upstreamLink(id: id)?.upstreamID {
            try await mark(kind, id, deleted: upstream)
        } else {
            for entry in try await ledger.outboxEntries(organizationID: organizationID, parked: false) where entry.resourceID == id {
                if entry.attempts > 0 {
                    try await mark(kind, id)
                } else {
                    try await ledger.deleteOutboxEntry(sequence: entry.sequence)
                }
            }
        }
    }

    var client: FulcrumClient { backend.client }
    var organizationID: String { session.principal.organizationID }

    func send(_ method: FulcrumClient.Method, _ path: String, body: [String: Any]? = nil) async throws -> FulcrumClient.Response {
        do {
            return try await client.send(method, path, body: body, token: session.secret, budgetKey: session.digest)
        } catch FulcrumClient.UpstreamRefusal.invalid(let message) {
            throw SCIMError.invalidValue("Fulcrum refused the change: \(message)")
        }
    }

    // MARK: Organizations, tokens, search: the ledger's

    func organization(id: String) async throws -> Organization? { try await ledger.organization(id: id) }
    func organizations() async throws -> [Organization] { try await ledger.organizations() }
    func insert(_ organization: Organization) async throws { try await ledger.insert(organization) }
    func update(_ organization: Organization) async throws { try await ledger.update(organization) }
    func token(digest: String) async throws -> TokenRecord? { try await ledger.token(digest: digest) }
    func credential(digest: String) async throws -> Credential? { try await ledger.credential(digest: digest) }
    func tokens(organizationID: String) async throws -> [TokenRecord] { try await ledger.tokens(organizationID: organizationID) }
    func insert(_ token: TokenRecord) async throws { try await ledger.insert(token) }
    func update(_ token: TokenRecord) async throws { try await ledger.update(token) }
    func upstreamLink(id: String) async throws -> UpstreamLink? { try await ledger.upstreamLink(id: id) }
    func upstreamLinks(organizationID: String) async throws -> [UpstreamLink] { try await ledger.upstreamLinks(organizationID: organizationID) }
    func save(_ link: UpstreamLink) async throws { try await ledger.save(link) }
    func deleteUpstreamLink(id: String) async throws { try await ledger.deleteUpstreamLink(id: id) }
    func enqueue(_ entry: OutboxEntry) async throws { try await ledger.enqueue(entry) }
    func outboxEntries(organizationID: String?, parked: Bool?) async throws -> [OutboxEntry] {
        try await ledger.outboxEntries(organizationID: organizationID, parked: parked)
    }
    func outboxEntry(sequence: Int) async throws -> OutboxEntry? { try await ledger.outboxEntry(sequence: sequence) }
    func update(_ entry: OutboxEntry) async throws { try await ledger.update(entry) }
    func deleteOutboxEntry(sequence: Int) async throws { try await ledger.deleteOutboxEntry(sequence: sequence) }
    func touchMembers(_ ids: [String], at time: String) async throws { try await ledger.touchMembers(ids, at: time) }
    func touchGroups(_ ids: [String], at time: String) async throws { try await ledger.touchGroups(ids, at: time) }
    func memberIDs(ofGroups groupIDs: [String]) async throws -> [String: [String]] { try await ledger.memberIDs(ofGroups: groupIDs) }

    func managedGroups(ofMembers memberIDs: [String]) async throws -> [String: [GroupReference]] {
        try await ledger.managedGroups(ofMembers: memberIDs)
    }

    func recordAdoption(memberID: String, organizationID: String, tokenID: String, userName: String, at time: String) async throws {
        try await ledger.recordAdoption(memberID: memberID, organizationID: organizationID, tokenID: tokenID, userName: userName, at: time)
    }

    func searchMembers(organizationID: String, query: SearchQuery, schemas: SchemaCatalog) async throws -> (total: Int, page: [MemberRecord]) {
        try await ledger.searchMembers(organizationID: organizationID, query: query, schemas: schemas)
    }

    func searchGroups(organizationID: String, query: SearchQuery, schemas: SchemaCatalog) async throws -> (total: Int, page: [GroupRecord]) {
        try await ledger.searchGroups(organizationID: organizationID, query: query, schemas: schemas)
    }

    // MARK: Members

    func member(id: String, organizationID: String) async throws -> MemberRecord? {
        try await ledger.member(id: id, organizationID: organizationID)
    }

    func members(organizationID: String) async throws -> [MemberRecord] { try await ledger.members(organizationID: organizationID) }

    /// The ledger's member, else (by email) a member made in Fulcrum, as an unmanaged record whose id is its
    /// membership id.
    func member(organizationID: String, _ key: MemberLookup) async throws -> MemberRecord? {
        if let managed = try await ledger.member(organizationID: organizationID, key) { return managed }
        guard case .email(let emailKey) = key else { return nil }
        return try await unmanagedMember(emailKey: emailKey, fresh: false)
    }

    func unmanagedMember(emailKey: String, fresh: Bool) async throws -> MemberRecord? {
        let members = try await backend.memberList(organizationID: organizationID, secret: session.secret, digest: session.digest, fresh: fresh)
        guard let found = members.member(emailKey: emailKey) else { return nil }
        // A member the ledger links (a deactivated one's old membership, say) is not unmanaged.
        let linked = try await ledger.upstreamLinks(organizationID: organizationID).contains { $0.upstreamID == found.id }
        if linked { return nil }
        let now = Timestamp.now
        return MemberRecord(
            id: found.id,
            organizationID: organizationID,
            email: found.email,
            firstName: found.firstName,
            lastName: found.lastName,
            role: session.roles.role(for: found.roleID),
            managed: false,
            active: true,
            createdAt: now,
            updatedAt: now
        )
    }

    func insert(_ member: MemberRecord) async throws {
        var link = UpstreamLink(id: member.id, organizationID: member.organizationID, kind: .member, upstreamID: nil)
        if queued {
            try await ledger.insert(member)
            try await ledger.save(link)
            if member.managed { try await mark(.member, member.id) }
            return
        }
        if member.managed, member.isListed {
            let created = try await createMembership(member)
            link.upstreamID = created.id
            link.userID = created.userID
        }
        try await ledger.insert(member)
        try await ledger.save(link)
    }

    /// `POST /memberships`; a POST that may have landed is looked for (by email) before it is sent again.
    func createMembership(_ member: MemberRecord) async throws -> UpstreamMember {
        let email = member.email ?? ""
        var body: [String: Any] = ["email": email]
        if let firstName = member.firstName { body["first_name"] = firstName }
        if let lastName = member.lastName { body["last_name"] = lastName }
        if let roleID = session.roles.id(for: member.role == .owner ? .standard : member.role) { body["role_id"] = roleID }
        for attempt in 0...1 {
            do {
                let response = try await client.send(
                    .POST,
                    "/memberships.json",
                    body: ["membership": body],
                    token: session.secret,
                    budgetKey: session.digest
                )
                if let json = response.json?["membership"] as? [String: any Sendable], let created = UpstreamMember(json) {
                    backend.noteMembership(organizationID, upsert: created)
                    return created
                }
                // No body: find what was made.
                if let found = try await findMembership(email: email) { return found }
                throw SCIMError(status: .badGateway, detail: "Fulcrum accepted the new member \(email) but it cannot be found")
            } catch FulcrumClient.UpstreamRefusal.uncertain(let reason) {
                backend.logger.notice("a membership POST may have landed; checking", metadata: ["fulcrum.reason": "\(reason)"])
                if let found = try await findMembership(email: email) { return found }
                if attempt == 1 { throw SCIMError(status: .badGateway, detail: "Fulcrum did not complete the new member \(email) (\(reason))") }
            } catch FulcrumClient.UpstreamRefusal.invalid(let message) {
                if message.contains("taken") {
                    throw SCIMError.uniqueness(
                        "email \(email) belongs to an existing Fulcrum member (made in Fulcrum, unmanaged); remove that member in Fulcrum "
                            + "or set onUnmanagedConflict: adopt in the managed-namespace stage to let the identity provider take it over"
                    )
                }
                throw SCIMError.invalidValue("Fulcrum refused the member \(email): \(message)")
            }
        }
        throw SCIMError(status: .badGateway, detail: "Fulcrum did not complete the new member \(email)")
    }

    func findMembership(email: String) async throws -> UpstreamMember? {
        let key = DirectoryKey.fold(email)
        return try await backend.memberList(organizationID: organizationID, secret: session.secret, digest: session.digest, fresh: true)
            .member(emailKey: key)
    }

    func update(_ member: MemberRecord) async throws {
        guard let current = try await ledger.member(id: member.id, organizationID: member.organizationID) else {
            try await adopt(member)
            return
        }
        if queued {
            try await ledger.update(member)
            try await mark(.member, member.id)
            return
        }
        var link =
            try await ledger.upstreamLink(id: member.id)
            ?? UpstreamLink(id: member.id, organizationID: member.organizationID, kind: .member, upstreamID: nil)
        let wasListed = link.upstreamID != nil
        let listed = member.managed && member.isListed
        switch (wasListed, listed) {
        case (true, true):
            try await updateMembership(link.upstreamID!, from: current, to: member)
        case (true, false):
            try await deleteMembership(link.upstreamID!)
            link.upstreamID = nil
        case (false, true):
            // Rejoining: a new membership (Fulcrum keeps the user account), then back into its managed groups.
            let created = try await createMembership(member)
            link.upstreamID = created.id
            link.userID = created.userID
            for group in try await ledger.managedGroups(ofMembers: [member.id])[member.id] ?? [] {
                guard let groupID = try await ledger.upstreamLink(id: group.id)?.upstreamID else { continue }
                try await changeGroup(groupID, adding: [created.id], removing: [])
            }
        case (false, false):
            break
        }
        try await ledger.update(member)
        try await ledger.save(link)
    }

    /// Takes over a member made in Fulcrum: the ledger links its membership; changed fields are pushed.
    func adopt(_ member: MemberRecord) async throws {
        guard let original = try await unmanagedMember(emailKey: member.emailKey ?? "", fresh: false), original.id == member.id else {
            throw SCIMError.notFound(.user, id: member.id)
        }
        let upstream = try await backend.memberList(organizationID: organizationID, secret: session.secret, digest: session.digest, fresh: false)
            .member(id: member.id)
        var link = UpstreamLink(id: member.id, organizationID: member.organizationID, kind: .member, upstreamID: member.id, userID: upstream?.userID)
        if queued {
            link.delivered = Self.delivered(original, roleID: upstream?.roleID)
            try await ledger.insert(member)
            try await ledger.save(link)
            try await mark(.member, member.id)
            return
        }
        if member.isListed {
            try await updateMembership(member.id, from: original, to: member)
        } else {
            try await deleteMembership(member.id)
            link.upstreamID = nil
        }
        try await ledger.insert(member)
        try await ledger.save(link)
    }

    /// What Fulcrum holds of a member, as the delivery worker compares it.
    static func delivered(_ member: MemberRecord, roleID: String?) -> JSONValue {
        var object: [String: JSONValue] = [
            "email": .string(member.email ?? ""), "first_name": .string(member.firstName ?? ""), "last_name": .string(member.lastName ?? ""),
            "role": .string(member.role.rawValue),
        ]
        if let roleID { object["role_id"] = .string(roleID) }
        return .object(object)
    }

    /// One PUT with the changed fields; nothing when nothing Fulcrum holds changed. An Owner's role is never sent.
    func updateMembership(_ id: String, from current: MemberRecord, to member: MemberRecord) async throws {
        var fields: [String: Any] = [:]
        if member.email != current.email, let email = member.email { fields["email"] = email }
        if member.firstName != current.firstName { fields["first_name"] = member.firstName ?? "" }
        if member.lastName != current.lastName { fields["last_name"] = member.lastName ?? "" }
        // The ledger may not know a role an administrator set in Fulcrum: the role is sent when it or `roles` changed.
        let rolesChanged = member.role != current.role || (member.attributes["roles"] ?? .null) != (current.attributes["roles"] ?? .null)
        if rolesChanged, current.role != .owner, member.role != .owner, let roleID = session.roles.id(for: member.role) {
            fields["role_id"] = roleID
        }
        guard !fields.isEmpty else { return }
        do {
            let response = try await send(.PUT, "/memberships/\(id).json", body: ["membership": fields])
            if let json = response.json?["membership"] as? [String: any Sendable], let updated = UpstreamMember(json) {
                backend.noteMembership(organizationID, upsert: updated)
            } else if fields["email"] != nil {
                backend.noteMembership(organizationID, remove: id)  // unknown now: found again by the next list
            }
        } catch FulcrumClient.UpstreamRefusal.notFound {
            throw LedgerRepair(type: .user, id: member.id)
        }
    }

    /// Leaves the organization; a membership already gone is fine.
    func deleteMembership(_ id: String) async throws {
        do {
            _ = try await send(.DELETE, "/memberships/\(id).json", body: ["membership": ["reassign_to_membership_id": NSNull()]])
        } catch FulcrumClient.UpstreamRefusal.notFound {}
        backend.noteMembership(organizationID, remove: id)
    }

    func deleteMember(id: String) async throws {
        if queued {
            try await markDeleted(.member, id)
            try await ledger.deleteMember(id: id)
            try await ledger.deleteUpstreamLink(id: id)
            return
        }
        if let membership = try await ledger.upstreamLink(id: id)?.upstreamID { try await deleteMembership(membership) }
        try await ledger.deleteMember(id: id)
        try await ledger.deleteUpstreamLink(id: id)
    }

    // MARK: Groups

    func group(id: String, organizationID: String) async throws -> GroupRecord? { try await ledger.group(id: id, organizationID: organizationID) }

    func group(organizationID: String, managed: Bool, nameKey: String) async throws -> GroupRecord? {
        try await ledger.group(organizationID: organizationID, managed: managed, nameKey: nameKey)
    }

    func groups(organizationID: String) async throws -> [GroupRecord] { try await ledger.groups(organizationID: organizationID) }

    func insert(_ group: GroupRecord) async throws {
        var link = UpstreamLink(id: group.id, organizationID: group.organizationID, kind: .group, upstreamID: nil)
        if queued {
            try await ledger.insert(group)
            try await ledger.save(link)
            if group.managed { try await mark(.group, group.id) }
            return
        }
        if group.managed {
            link.upstreamID = try await createGroup(name: group.name)
            if backend.configuration.removeGroupCreator { newGroups.withLock { _ = $0.insert(group.id) } }
        }
        try await ledger.insert(group)
        try await ledger.save(link)
    }

    /// `POST /groups`; after an uncertain answer, a group of that name that no ledger entry links is the one made.
    func createGroup(name: String) async throws -> String {
        for attempt in 0...1 {
            do {
                let response = try await client.send(
                    .POST,
                    "/groups.json",
                    body: ["group": ["name": name]],
                    token: session.secret,
                    budgetKey: session.digest
                )
                if let id = (response.json?["group"] as? [String: any Sendable])?["id"] as? String { return id }
                if let found = try await findUnlinkedGroup(named: name) { return found }
                throw SCIMError(status: .badGateway, detail: "Fulcrum accepted the group \(name) but it cannot be found")
            } catch FulcrumClient.UpstreamRefusal.uncertain(let reason) {
                if let found = try await findUnlinkedGroup(named: name) { return found }
                if attempt == 1 { throw SCIMError(status: .badGateway, detail: "Fulcrum did not complete the group \(name) (\(reason))") }
            } catch FulcrumClient.UpstreamRefusal.invalid(let message) {
                throw SCIMError.invalidValue("Fulcrum refused the group \(name): \(message)")
            }
        }
        throw SCIMError(status: .badGateway, detail: "Fulcrum did not complete the group \(name)")
    }

    func findUnlinkedGroup(named name: String) async throws -> String? {
        let linked = Set(try await ledger.upstreamLinks(organizationID: organizationID).compactMap(\.upstreamID))
        let groups = try await client.list("/groups.json", key: "groups", token: session.secret, budgetKey: session.digest)
        return groups.last { $0["name"] as? String == name && !linked.contains($0["id"] as? String ?? "") }?["id"] as? String
    }

    func update(_ group: GroupRecord) async throws {
        if queued {
            try await ledger.update(group)
            try await mark(.group, group.id)
            return
        }
        if let current = try await ledger.group(id: group.id, organizationID: group.organizationID), current.name != group.name,
            let upstream = try await ledger.upstreamLink(id: group.id)?.upstreamID
        {
            do {
                _ = try await send(.PUT, "/groups/\(upstream).json", body: ["group": ["name": group.name]])
            } catch FulcrumClient.UpstreamRefusal.notFound {
                throw LedgerRepair(type: .group, id: group.id)
            }
        }
        try await ledger.update(group)
    }

    func deleteGroup(id: String) async throws {
        if queued {
            try await markDeleted(.group, id)
            try await ledger.deleteGroup(id: id)
            try await ledger.deleteUpstreamLink(id: id)
            return
        }
        if let upstream = try await ledger.upstreamLink(id: id)?.upstreamID {
            do {
                _ = try await send(.DELETE, "/groups/\(upstream).json")
            } catch FulcrumClient.UpstreamRefusal.notFound {}
        }
        try await ledger.deleteGroup(id: id)
        try await ledger.deleteUpstreamLink(id: id)
    }

    /// One `change_permissions` with every addition and removal; members not in Fulcrum (deactivated) are the
    /// ledger's alone until they rejoin.
    func changeMembers(ofGroup groupID: String, adding: [String], removing: [String]) async throws {
        if queued {
            try await ledger.changeMembers(ofGroup: groupID, adding: adding, removing: removing)
            try await mark(.group, groupID)
            return
        }
        if let upstream = try await ledger.upstreamLink(id: groupID)?.upstreamID {
            let add = try await membershipIDs(adding)
            var remove = try await membershipIDs(removing)
            if newGroups.withLock({ $0.remove(groupID) }) != nil, let owner = session.ownerMembershipID, !add.contains(owner) {
                remove.append(owner)
            }
            do {
                try await changeGroup(upstream, adding: add, removing: remove)
            } catch FulcrumClient.UpstreamRefusal.notFound {
                throw LedgerRepair(type: .group, id: groupID)
            }
        }
        try await ledger.changeMembers(ofGroup: groupID, adding: adding, removing: removing)
    }

    func membershipIDs(_ ids: [String]) async throws -> [String] {
        var result: [String] = []
        for id in ids {
            if let membership = try await ledger.upstreamLink(id: id)?.upstreamID { result.append(membership) }
        }
        return result
    }

    /// `POST /groups/change_permissions` with the `change` wrapper. A removal of the group's creator that Fulcrum
    /// refuses as "not a member" (when it did not add the creator) is dropped and the rest sent again.
    func changeGroup(_ groupID: String, adding: [String], removing: [String]) async throws {
        guard !adding.isEmpty || !removing.isEmpty else { return }
        let change: [String: Any] = ["type": "group_members", "group_id": groupID, "add": adding, "remove": removing]
        do {
            _ = try await client.send(
                .POST,
                "/groups/change_permissions.json",
                body: ["change": change],
                token: session.secret,
                budgetKey: session.digest
            )
        } catch FulcrumClient.UpstreamRefusal.uncertain {
            // Setting membership is idempotent: sending the same change again is safe.
            _ = try await send(.POST, "/groups/change_permissions.json", body: ["change": change])
        } catch FulcrumClient.UpstreamRefusal.invalid(let message) {
            if let owner = session.ownerMembershipID, removing.contains(owner), message.contains(owner) {
                try await changeGroup(groupID, adding: adding, removing: removing.filter { $0 != owner })
                return
            }
            throw SCIMError.invalidValue("Fulcrum refused the group membership change: \(message)")
        }
    }

    /// Before commit: groups created empty in this transaction lose a creator Fulcrum added on its own.
    func finish() async throws {
        let pending = newGroups.withLock { groups in
            defer { groups.removeAll() }
            return groups
        }
        guard let owner = session.ownerMembershipID else { return }
        for id in pending {
            guard let upstream = try await ledger.upstreamLink(id: id)?.upstreamID else { continue }
            try await changeGroup(upstream, adding: [], removing: [owner])
        }
    }
}
