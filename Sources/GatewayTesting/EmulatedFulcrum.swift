public import FulcrumEmulator
public import GatewayCore
import Hummingbird
import Logging
import ServiceLifecycle

/// A `fulcrum-emulator` running in this process on a free loopback port, for tests.
public final class RunningEmulator: Sendable {
    public let emulator: Emulator
    public let port: Int
    let group: ServiceGroup

    public var baseURL: String { "http://127.0.0.1:\(port)/api/v2" }

    init(emulator: Emulator, port: Int, group: ServiceGroup) {
        self.emulator = emulator
        self.port = port
        self.group = group
    }

    public static func start(_ emulator: Emulator) async throws -> RunningEmulator {
        var logger = Logger(label: "fulcrum-emulator")
        logger.logLevel = .critical
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = emulator.application(logger: logger) { continuation.yield($0) }
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        Task { try? await group.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw DirectoryError(.invalid, "the emulator did not start") }
        return RunningEmulator(emulator: emulator, port: port, group: group)
    }

    public func stop() async { await group.triggerGracefulShutdown() }
}

/// Fulcrum's own side (its web UI) over an emulator, for the suites that run on the `fulcrum` backend: what the
/// admin commands do on the embedded directory, done to the emulator's data. A member or group is *managed* when
/// Fulcrum says so or when the gateway's ledger links it (an adopted member).
public struct EmulatedFulcrum: DirectoryAdministration {
    public let emulator: Emulator
    /// The backend whose ledger tells which objects SCIM manages.
    public let backend: any BackendAdapter

    public init(emulator: Emulator, backend: any BackendAdapter) {
        self.emulator = emulator
        self.backend = backend
    }

    /// Fulcrum ids the ledger links, to the SCIM ids they stand for.
    func linked(_ organizationID: String) async throws -> [String: String] {
        var links: [String: String] = [:]
        for link in try await backend.read({ try await $0.upstreamLinks(organizationID: organizationID) }) {
            if let upstream = link.upstreamID { links[upstream] = link.id }
        }
        return links
    }

    func roleName(_ role: MemberRole) -> String {
        switch role {
        case .owner: "Owner"
        case .manager: "Manager"
        case .standard: "Standard User"
        }
    }

    func role(_ model: EmulatorModel, _ membership: EmulatorModel.Membership) -> MemberRole {
        switch model.organizations[membership.organizationID]?.roles.first(where: { $0.id == membership.roleID })?.name {
        case "Owner": .owner
        case "Manager": .manager
        default: .standard
        }
    }

    // MARK: Organizations

    public func createOrganization(name: String, features: PlanFeatures) async throws -> Organization {
        let organization = emulator.withModel { $0.addOrganization(name: name, developerPack: features.developerPack) }
        return Organization(id: organization.id, name: name, features: features)
    }

    public func updateOrganization(id: String, plan: Plan?, sso: Bool?, developerPack: Bool?) async throws -> Organization {
        try emulator.withModel { model in
            guard var organization = model.organizations[id] else { throw DirectoryError(.notFound, "no organization with id \(id)") }
            if let developerPack { organization.developerPack = developerPack }
            model.organizations[id] = organization
            return Organization(
                id: id,
                name: organization.name,
                features: PlanFeatures(plan: plan ?? .enterprise, sso: sso ?? true, developerPack: organization.developerPack)
            )
        }
    }

    public func listOrganizations() async throws -> [Organization] {
        emulator.withModel { model in
            model.organizationOrder.compactMap { model.organizations[$0] }.map {
                Organization(id: $0.id, name: $0.name, features: PlanFeatures(plan: .enterprise, sso: true, developerPack: $0.developerPack))
            }
        }
    }

    // MARK: Members

    public func addMember(organizationID: String, email: String, firstName: String?, lastName: String?, role: MemberRole) async throws -> Member {
        try emulator.withModel { model in
            let roleID = model.role(named: roleName(role), in: organizationID)?.id
            do {
                let membership = try model.addMembership(
                    organizationID: organizationID,
                    email: email,
                    firstName: firstName,
                    lastName: lastName,
                    roleID: roleID,
                    managed: false
                )
                return Member(id: membership.id, email: email, firstName: firstName, lastName: lastName, role: role, managed: false, active: true)
            } catch {
                throw DirectoryError(.conflict, "a member with email \(email) already exists in this organization")
            }
        }
    }

    func membership(_ email: String, _ organizationID: String, managed: [String: String], action: String) throws -> EmulatorModel.Membership {
        try emulator.withModel { model in
            guard let membership = model.membership(email: email, organizationID: organizationID) else {
                throw DirectoryError(.notFound, "no member with email \(email) in this organization")
            }
            if action != "role", membership.managed || managed[membership.id] != nil {
                throw DirectoryError(.managed, "\(email) is managed by the identity provider: \(action) it there (SCIM), not in Fulcrum")
            }
            return membership
        }
    }

    public func removeMember(organizationID: String, email: String) async throws {
        let membership = try membership(email, organizationID, managed: try await linked(organizationID), action: "remove")
        try emulator.withModel { model in
            if model.isOwner(membership), model.memberships(of: organizationID).filter({ model.isOwner($0) }).count < 2 {
                throw DirectoryError(.notAllowed, "\(email) is the organization's only Owner; make another member an Owner first")
            }
            model.memberships[membership.id] = nil
            model.membershipOrder.removeAll { $0 == membership.id }
            for id in model.groupOrder { model.groups[id]?.memberIDs.removeAll { $0 == membership.id } }
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
        let action = newEmail != nil || firstName != nil || lastName != nil ? "change its email and names" : "role"
        let membership = try membership(email, organizationID, managed: try await linked(organizationID), action: action)
        return try emulator.withModel { model in
            if let role, model.isOwner(membership), role != .owner,
                model.memberships(of: organizationID).filter({ model.isOwner($0) }).count < 2
            {
                throw DirectoryError(.notAllowed, "\(email) is the organization's only Owner; make another member an Owner first")
            }
            // Fulcrum's UI may demote an Owner, which its API refuses: change the role directly.
            if let role, let roleID = model.role(named: roleName(role), in: organizationID)?.id { model.memberships[membership.id]?.roleID = roleID }
            if newEmail != nil || firstName != nil || lastName != nil {
                _ = try? model.updateMembership(
                    id: membership.id,
                    organizationID: organizationID,
                    email: newEmail,
                    firstName: firstName,
                    lastName: lastName,
                    roleID: nil
                )
            }
            let updated = model.memberships[membership.id] ?? membership
            let user = model.users[updated.userID]
            return Member(
                id: updated.id,
                email: user?.email ?? email,
                firstName: user?.firstName,
                lastName: user?.lastName,
                role: self.role(model, updated),
                managed: updated.managed,
                active: true
            )
        }
    }

    public func listMembers(organizationID: String) async throws -> [Member] {
        let linked = try await linked(organizationID)
        return emulator.withModel { model in
            model.memberships(of: organizationID).map { membership in
                let user = model.users[membership.userID]
                return Member(
                    id: linked[membership.id] ?? membership.id,
                    email: user?.email ?? "",
                    firstName: user?.firstName.isEmpty == false ? user?.firstName : nil,
                    lastName: user?.lastName.isEmpty == false ? user?.lastName : nil,
                    role: role(model, membership),
                    managed: membership.managed || linked[membership.id] != nil,
                    active: true
                )
            }
        }
    }

    // MARK: Tokens

    public func createToken(organizationID: String, memberEmail: String, description: String?) async throws -> IssuedToken {
        try emulator.withModel { model in
            guard let membership = model.membership(email: memberEmail, organizationID: organizationID) else {
                throw DirectoryError(.notFound, "no member with email \(memberEmail) in this organization")
            }
            guard model.isOwner(membership) else { throw DirectoryError(.notAllowed, "only an Owner can create an API token") }
            let secret = FulcrumRules.newToken()
            model.addToken(secret, userID: membership.userID, organizationID: organizationID)
            let info = TokenInfo(
                id: String(secret.suffix(8)),
                description: description,
                memberEmail: memberEmail,
                createdAt: Timestamp.now,
                lastUsedAt: nil,
                revoked: false
            )
            return IssuedToken(info: info, secret: secret)
        }
    }

    public func listTokens(organizationID: String) async throws -> [TokenInfo] {
        emulator.withModel { model in
            model.tokens.values.filter { $0.organizationID == organizationID }.sorted { $0.secret < $1.secret }.map { token in
                TokenInfo(
                    id: String(token.secret.suffix(8)),
                    description: nil,
                    memberEmail: model.users[token.userID]?.email ?? "",
                    createdAt: "",
                    lastUsedAt: nil,
                    revoked: token.revoked
                )
            }
        }
    }

    public func revokeToken(organizationID: String, tokenID: String) async throws {
        try emulator.withModel { model in
            guard let secret = model.tokens.values.first(where: { $0.organizationID == organizationID && $0.secret.hasSuffix(tokenID) })?.secret
            else {
                throw DirectoryError(.notFound, "no token with id \(tokenID) in this organization")
            }
            model.tokens[secret]?.revoked = true
        }
    }

    // MARK: Groups

    public func createGroup(organizationID: String, name: String) async throws -> DirectoryGroup {
        try emulator.withModel { model in
            let group = try model.addGroup(organizationID: organizationID, name: name, description: nil, managed: false)
            return DirectoryGroup(id: group.id, name: name, managed: false, memberCount: 0)
        }
    }

    public func listGroups(organizationID: String) async throws -> [DirectoryGroup] {
        let linked = try await linked(organizationID)
        return emulator.withModel { model in
            model.groups(of: organizationID).map {
                DirectoryGroup(
                    id: linked[$0.id] ?? $0.id,
                    name: $0.name,
                    managed: $0.managed || linked[$0.id] != nil,
                    memberCount: $0.memberIDs.count
                )
            }
        }
    }

    /// The emulator's group for `id`: a SCIM id names the group the ledger links it to.
    func group(_ id: String, _ organizationID: String, action: String) async throws -> EmulatorModel.Group {
        let upstream = try await backend.read { try await $0.upstreamLink(id: id) }?.upstreamID ?? id
        let linked = try await linked(organizationID)
        return try emulator.withModel { model in
            guard let group = model.groups[upstream], group.organizationID == organizationID else {
                throw DirectoryError(.notFound, "no group with id \(id) in this organization")
            }
            if group.managed || linked[group.id] != nil {
                throw DirectoryError(.managed, "group \(group.name) is managed by the identity provider (SCIM); \(action) it there, not in Fulcrum")
            }
            return group
        }
    }

    public func addGroupMember(organizationID: String, groupID: String, email: String) async throws {
        let group = try await group(groupID, organizationID, action: "change its members")
        try emulator.withModel { model in
            guard let membership = model.membership(email: email, organizationID: organizationID) else {
                throw DirectoryError(.notFound, "no member with email \(email) in this organization")
            }
            try model.changeGroupMembers(groupID: group.id, organizationID: organizationID, adding: [membership.id], removing: [], strict: false)
        }
    }

    public func removeGroupMember(organizationID: String, groupID: String, email: String) async throws {
        let group = try await group(groupID, organizationID, action: "change its members")
        try emulator.withModel { model in
            guard let membership = model.membership(email: email, organizationID: organizationID) else {
                throw DirectoryError(.notFound, "no member with email \(email) in this organization")
            }
            try model.changeGroupMembers(groupID: group.id, organizationID: organizationID, adding: [], removing: [membership.id], strict: false)
        }
    }

    public func deleteGroup(organizationID: String, groupID: String) async throws {
        let group = try await group(groupID, organizationID, action: "delete")
        emulator.withModel { model in
            model.groups[group.id] = nil
            model.groupOrder.removeAll { $0 == group.id }
        }
    }

    public func renameGroup(organizationID: String, groupID: String, name: String) async throws {
        let group = try await group(groupID, organizationID, action: "rename")
        emulator.withModel { $0.groups[group.id]?.name = name }
    }
}
