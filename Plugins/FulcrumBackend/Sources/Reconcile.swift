import Foundation
public import GatewayCore
import NIOHTTP1
import SCIMCore
import SQLiteBackend

/// `scim-gateway fulcrum reconcile`: the ledger against what Fulcrum holds, in a few calls (the member list and the
/// groups with their members), and the drift between them. With `apply`, Fulcrum's deletions are followed (a member
/// removed in Fulcrum's UI reads back `active: false`, a deleted group is forgotten) and what SCIM owns is pushed back
/// (names and emails of managed members, names and members of managed groups).
extension FulcrumBackend {
    public struct Drift: Sendable, Hashable, CustomStringConvertible {
        public enum Kind: String, Sendable, Hashable {
            case memberRemoved = "member removed in Fulcrum"
            case memberChanged = "member changed in Fulcrum"
            case groupDeleted = "group deleted in Fulcrum"
            case groupRenamed = "group renamed in Fulcrum"
            case groupMembersChanged = "group members changed in Fulcrum"
        }

        public var kind: Kind
        /// The SCIM id.
        public var id: String
        public var name: String
        public var detail: String
        /// What `--apply` does about it.
        public var repair: String

        public var description: String { "\(kind.rawValue): \(name) (\(id)): \(detail) -> \(repair)" }
    }

    public func reconcile(
        token: String,
        organizationID: String,
        apply: Bool,
        progress: @Sendable (String) -> Void = { _ in }
    ) async throws -> [Drift] {
        let principal = try await authenticate(
            token: BearerToken(token),
            context: GatewayContext(requestID: "reconcile", logger: logger, baseURL: "")
        )
        guard principal.organizationID == organizationID else {
            throw SCIMError.forbidden("the token belongs to organization \(principal.organizationID), not \(organizationID)")
        }
        guard let session = session(for: principal) else { throw SCIMError.unauthorized("the token could not be resolved") }
        let upstreamMembers = try await memberList(organizationID: organizationID, secret: token, digest: session.digest, fresh: true)
        let membersByID = upstreamMembers.byID
        let groups = try await client.list("/groups.json?associations=true", key: "groups", token: token, budgetKey: session.digest)
        let groupsByID = Dictionary(groups.compactMap { group in (group["id"] as? String).map { ($0, group) } }) { first, _ in first }
        progress("Fulcrum: \(upstreamMembers.count) members, \(groups.count) groups")

        let (members, ledgerGroups, links, memberIDs) = try await ledger.read { ledger in
            let members = try await ledger.members(organizationID: organizationID).filter(\.managed)
            let groups = try await ledger.groups(organizationID: organizationID).filter(\.managed)
            let links = Dictionary(try await ledger.upstreamLinks(organizationID: organizationID).map { ($0.id, $0) }) { first, _ in first }
            return (members, groups, links, try await ledger.memberIDs(ofGroups: groups.map(\.id)))
        }
        var drift: [Drift] = []
        for (index, member) in members.enumerated() {
            if index > 0, index.isMultiple(of: 1000) { progress("checked \(index) of \(members.count) members") }
            guard let membershipID = links[member.id]?.upstreamID else { continue }
            let name = member.userName ?? member.email ?? member.id
            guard let upstream = membersByID[membershipID] else {
                drift.append(
                    Drift(
                        kind: .memberRemoved,
                        id: member.id,
                        name: name,
                        detail: "membership \(membershipID) is gone",
                        repair: "the user reads back active: false"
                    )
                )
                continue
            }
            var changes: [String] = []
            if let email = member.email, DirectoryKey.fold(email) != DirectoryKey.fold(upstream.email) { changes.append("email \(upstream.email)") }
            if (member.firstName ?? "") != (upstream.firstName ?? "") { changes.append("first name \(upstream.firstName ?? "")") }
            if (member.lastName ?? "") != (upstream.lastName ?? "") { changes.append("last name \(upstream.lastName ?? "")") }
            if !changes.isEmpty {
                drift.append(
                    Drift(
                        kind: .memberChanged,
                        id: member.id,
                        name: name,
                        detail: changes.joined(separator: ", "),
                        repair: "the identity provider's values are pushed back"
                    )
                )
            }
        }
        for group in ledgerGroups {
            guard let upstreamID = links[group.id]?.upstreamID else { continue }
            guard let upstream = groupsByID[upstreamID] else {
                drift.append(
                    Drift(
                        kind: .groupDeleted,
                        id: group.id,
                        name: group.name,
                        detail: "group \(upstreamID) is gone",
                        repair: "the ledger forgets the group"
                    )
                )
                continue
            }
            if let name = upstream["name"] as? String, name != group.name {
                drift.append(Drift(kind: .groupRenamed, id: group.id, name: group.name, detail: "named \(name)", repair: "the name is pushed back"))
            }
            let wanted = Set((memberIDs[group.id] ?? []).compactMap { links[$0]?.upstreamID }.filter { membersByID[$0] != nil })
            let actual = Set(upstream["member_ids"] as? [String] ?? [])
            if wanted != actual {
                let added = actual.subtracting(wanted).count
                let missing = wanted.subtracting(actual).count
                drift.append(
                    Drift(
                        kind: .groupMembersChanged,
                        id: group.id,
                        name: group.name,
                        detail: "\(added) added and \(missing) removed in Fulcrum",
                        repair: "SCIM's members are set again"
                    )
                )
            }
        }
        guard apply, !drift.isEmpty else { return drift }
        try await repair(
            drift,
            session: session,
            members: members,
            groups: ledgerGroups,
            links: links,
            memberIDs: memberIDs,
            upstream: membersByID,
            groupsByID: groupsByID
        )
        return drift
    }

    func repair(
        _ drift: [Drift],
        session: Session,
        members: [MemberRecord],
        groups: [GroupRecord],
        links: [String: UpstreamLink],
        memberIDs: [String: [String]],
        upstream: [String: UpstreamMember],
        groupsByID: [String: [String: any Sendable]]
    ) async throws {
        let membersByID = Dictionary(members.map { ($0.id, $0) }) { first, _ in first }
        let groupsByLedgerID = Dictionary(groups.map { ($0.id, $0) }) { first, _ in first }
        let token = session.secret
        for item in drift {
            switch item.kind {
            case .memberRemoved:
                try await ledger.write { ledger in
                    guard var member = try await ledger.member(id: item.id, organizationID: session.principal.organizationID) else { return }
                    member.active = false
                    member.version += 1
                    member.updatedAt = Timestamp.now
                    try await ledger.update(member)
                    if var link = try await ledger.upstreamLink(id: item.id) {
                        link.upstreamID = nil
                        try await ledger.save(link)
                    }
                }
            case .memberChanged:
                guard let member = membersByID[item.id], let membershipID = links[item.id]?.upstreamID else { continue }
                var fields: [String: Any] = ["first_name": member.firstName ?? "", "last_name": member.lastName ?? ""]
                if let email = member.email { fields["email"] = email }
                _ = try await client.send(
                    .PUT,
                    "/memberships/\(membershipID).json",
                    body: ["membership": fields],
                    token: token,
                    budgetKey: session.digest
                )
            case .groupDeleted:
                try await ledger.write { ledger in
                    try await ledger.deleteGroup(id: item.id)
                    try await ledger.deleteUpstreamLink(id: item.id)
                }
            case .groupRenamed:
                guard let group = groupsByLedgerID[item.id], let upstreamID = links[item.id]?.upstreamID else { continue }
                _ = try await client.send(
                    .PUT,
                    "/groups/\(upstreamID).json",
                    body: ["group": ["name": group.name]],
                    token: token,
                    budgetKey: session.digest
                )
            case .groupMembersChanged:
                guard let upstreamID = links[item.id]?.upstreamID else { continue }
                let wanted = Set((memberIDs[item.id] ?? []).compactMap { links[$0]?.upstreamID }.filter { upstream[$0] != nil })
                let actual = Set(groupsByID[upstreamID]?["member_ids"] as? [String] ?? [])
                let change: [String: Any] = [
                    "type": "group_members", "group_id": upstreamID, "add": Array(wanted.subtracting(actual)).sorted(),
                    "remove": Array(actual.subtracting(wanted)).sorted(),
                ]
                _ = try await client.send(.POST, "/groups/change_permissions.json", body: ["change": change], token: token, budgetKey: session.digest)
            }
        }
    }
}
