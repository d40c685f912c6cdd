import Foundation
import GatewayCore

/// Fulcrum's objects as the adapter reads them, leniently (`FULCRUM_API.md` §10: names and shapes vary).
struct UpstreamMember: Sendable, Hashable {
    var id: String
    var userID: String
    var email: String
    var firstName: String?
    var lastName: String?
    var roleID: String?

    init?(_ json: [String: any Sendable]) {
        guard let id = json["id"] as? String else { return nil }
        self.id = id
        userID = json["user_id"] as? String ?? ""
        email = json["email"] as? String ?? ""
        firstName = json["first_name"] as? String
        lastName = json["last_name"] as? String
        roleID = json["role_id"] as? String
    }
}

/// Fulcrum's members of one organization as last listed, kept in step with the changes Fulcrum accepted since, and
/// indexed by membership id and by folded email: a sync looks one up (and notes one) per user, so neither may scan.
struct UpstreamMembers: Sendable {
    var fetched: ContinuousClock.Instant
    private(set) var byID: [String: UpstreamMember] = [:]
    private var idByEmail: [String: String] = [:]

    init(fetched: ContinuousClock.Instant, members: [UpstreamMember]) {
        self.fetched = fetched
        for member in members { upsert(member) }
    }

    var all: [UpstreamMember] { Array(byID.values) }
    var count: Int { byID.count }

    func member(id: String) -> UpstreamMember? { byID[id] }

    /// By ``DirectoryKey/fold(_:)`` of the email.
    func member(emailKey: String) -> UpstreamMember? { idByEmail[emailKey].flatMap { byID[$0] } }

    mutating func upsert(_ member: UpstreamMember) {
        remove(id: member.id)
        byID[member.id] = member
        idByEmail[DirectoryKey.fold(member.email)] = member.id
    }

    mutating func remove(id: String) {
        guard let old = byID.removeValue(forKey: id) else { return }
        let key = DirectoryKey.fold(old.email)
        if idByEmail[key] == id { idByEmail[key] = nil }
    }
}

/// An organization's roles: Fulcrum's per-organization ids for the gateway's three roles.
struct RoleTable: Sendable, Hashable {
    var owner: String?
    var manager: String?
    /// The organization's default role (`is_default`), else "Standard User".
    var standard: String?
    var names: [String: String] = [:]

    init(_ roles: [[String: any Sendable]]) {
        for role in roles {
            guard let id = role["id"] as? String, let name = role["name"] as? String else { continue }
            names[id] = name
            let system = role["is_system"] as? Bool ?? false
            if name == "Owner", system { owner = id }
            if name == "Manager", system { manager = id }
            if role["is_default"] as? Bool == true { standard = id }
        }
        if standard == nil { standard = roles.first { $0["name"] as? String == "Standard User" }?["id"] as? String }
    }

    func id(for role: MemberRole) -> String? {
        switch role {
        case .owner: owner
        case .manager: manager
        case .standard: standard
        }
    }

    func role(for id: String?) -> MemberRole {
        guard let id else { return .standard }
        if id == owner { return .owner }
        if id == manager { return .manager }
        return .standard
    }
}

/// What one token resolved to (`users.json`), kept for ``FulcrumBackend/Configuration/tokenCacheSeconds``.
struct Session: Sendable {
    let secret: String
    /// The SHA-256 digest of the token: the key of its budget and its cache entry; never the secret.
    let digest: String
    let principal: Principal
    let userID: String
    let roles: RoleTable
    /// The token owner's membership id (the member SCIM never changes).
    let ownerMembershipID: String?
}
