public import Foundation
internal import Yams

/// The seed file (DESIGN.md §3): organizations with their Owner and token, unmanaged members and groups, and
/// optionally the `behaviour:` switches. The same file gives the same ids in every run.
public struct EmulatorSeed: Decodable, Sendable {
    public struct Person: Decodable, Sendable {
        public var email: String
        public var firstName: String?
        public var lastName: String?
        public var role: String?
        /// An API token for this person in this organization.
        public var token: String?

        public init(email: String, firstName: String? = nil, lastName: String? = nil, role: String? = nil, token: String? = nil) {
            self.email = email
            self.firstName = firstName
            self.lastName = lastName
            self.role = role
            self.token = token
        }
    }

    public struct GroupSeed: Decodable, Sendable {
        public var name: String
        public var members: [String]?

        public init(name: String, members: [String]? = nil) {
            self.name = name
            self.members = members
        }
    }

    public struct OrganizationSeed: Decodable, Sendable {
        public var name: String
        public var developerPack: Bool?
        public var owner: Person
        public var members: [Person]?
        public var groups: [GroupSeed]?

        public init(name: String, developerPack: Bool? = nil, owner: Person, members: [Person]? = nil, groups: [GroupSeed]? = nil) {
            self.name = name
            self.developerPack = developerPack
            self.owner = owner
            self.members = members
            self.groups = groups
        }
    }

    public var organizations: [OrganizationSeed]
    public var behaviour: EmulatorBehaviour?

    public init(organizations: [OrganizationSeed], behaviour: EmulatorBehaviour? = nil) {
        self.organizations = organizations
        self.behaviour = behaviour
    }

    public static func load(_ url: URL) throws -> EmulatorSeed {
        let text = try String(contentsOf: url, encoding: .utf8)
        do {
            return try YAMLDecoder().decode(EmulatorSeed.self, from: text)
        } catch let error as DecodingError {
            throw EmulatorConfigurationError("\(url.path): \(Self.describe(error))")
        }
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().trimmingCharacters(in: CharacterSet(charactersIn: "."))
        }
        switch error {
        case .keyNotFound(let key, let context): return "\(path(context.codingPath + [key])): required"
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            return "\(path(context.codingPath)): \(context.debugDescription)"
        @unknown default: return "\(error)"
        }
    }

    /// Applies the seed to an empty model; returns each organization's name and id, in order.
    public func apply(to model: inout EmulatorModel) throws -> [(name: String, id: String)] {
        var created: [(String, String)] = []
        for (index, seed) in organizations.enumerated() {
            let organization = model.addOrganization(name: seed.name, developerPack: seed.developerPack ?? true)
            func add(_ person: Person, role defaultRole: String) throws -> EmulatorModel.Membership {
                let roleName = person.role ?? defaultRole
                guard let role = model.role(named: roleName, in: organization.id) else {
                    throw EmulatorConfigurationError("organizations[\(index)]: \(person.email): unknown role \(roleName)")
                }
                do {
                    let membership = try model.addMembership(
                        organizationID: organization.id,
                        email: person.email,
                        firstName: person.firstName,
                        lastName: person.lastName,
                        roleID: role.id,
                        managed: false
                    )
                    if let token = person.token { model.addToken(token, userID: membership.userID, organizationID: organization.id) }
                    return membership
                } catch {
                    throw EmulatorConfigurationError("organizations[\(index)]: \(person.email): \(error)")
                }
            }
            _ = try add(seed.owner, role: "Owner")
            for member in seed.members ?? [] { _ = try add(member, role: "Standard User") }
            for group in seed.groups ?? [] {
                let made = try model.addGroup(organizationID: organization.id, name: group.name, description: nil, managed: false)
                let ids = try (group.members ?? []).map { email in
                    guard let membership = model.membership(email: email, organizationID: organization.id) else {
                        throw EmulatorConfigurationError("organizations[\(index)].groups: \(group.name): \(email) is not a member")
                    }
                    return membership.id
                }
                try model.changeGroupMembers(groupID: made.id, organizationID: organization.id, adding: ids, removing: [], strict: false)
            }
            created.append((seed.name, organization.id))
        }
        return created
    }
}

extension EmulatorBehaviour {
    /// Switches from a YAML (or JSON) file.
    public static func load(_ url: URL) throws -> EmulatorBehaviour {
        let text = try String(contentsOf: url, encoding: .utf8)
        do {
            return try YAMLDecoder().decode(EmulatorBehaviour.self, from: text)
        } catch let error as DecodingError {
            throw EmulatorConfigurationError("\(url.path): \(EmulatorSeed.describe(error))")
        }
    }
}
