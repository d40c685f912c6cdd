public import ArgumentParser
import Foundation
import GatewayCore
import Logging
import Metrics

/// Runs an admin action against the directory the configuration names, printing one clear line on failure.
func withDirectory(_ options: ConfigOption, _ body: (any DirectoryAdministration) async throws -> Void) async throws {
    let document = try options.load()
    var logger = Logger(label: "scim-gateway")
    logger.logLevel = .warning
    let gateway = try await options.assemble(document, logger: logger)
    let outcome: Result<Void, any Error>
    do {
        guard let directory = gateway.backend.administration else {
            throw DirectoryError(
                .notAllowed,
                "backend \(document.backend.name) fronts Fulcrum's own API: manage organizations, members, tokens and groups in Fulcrum"
            )
        }
        try await body(directory)
        outcome = .success(())
    } catch {
        outcome = .failure(error)
    }
    await gateway.backend.close()
    if case .failure(let error) = outcome {
        guard let error = error as? DirectoryError else { throw error }
        FileHandle.standardError.write(Data("error: \(error.message)\n".utf8))
        throw ExitCode.failure
    }
}

func table(_ rows: [[String]]) -> String {
    guard let first = rows.first else { return "" }
    let widths = first.indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
    return rows.map { row in
        row.enumerated().map { $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0) }.joined(separator: "  ")
            .trimmingCharacters(in: .whitespaces)
    }.joined(separator: "\n")
}

extension Plan: ExpressibleByArgument {}
extension MemberRole: ExpressibleByArgument {}

struct OrganizationCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "org",
        abstract: "Manage organizations.",
        subcommands: [Create.self, Update.self, List.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create an organization; prints its id.")
        @OptionGroup var options: ConfigOption
        @Option var name: String
        @Option var plan: Plan = .enterprise
        @Flag var sso = false
        @Flag(name: .customLong("developer-pack")) var developerPack = false

        func run() async throws {
            try await withDirectory(options) { directory in
                print(try await directory.createOrganization(name: name, features: .init(plan: plan, sso: sso, developerPack: developerPack)).id)
            }
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change an organization's plan features.")
        @OptionGroup var options: ConfigOption
        @Option var id: String
        @Option var plan: Plan?
        @Flag(inversion: .prefixedNo) var sso: Bool?
        @Flag(name: .customLong("developer-pack"), inversion: .prefixedNo) var developerPack: Bool?

        func run() async throws {
            try await withDirectory(options) { directory in
                let organization = try await directory.updateOrganization(id: id, plan: plan, sso: sso, developerPack: developerPack)
                let features = organization.features
                print("\(organization.id)  plan=\(features.plan.rawValue) sso=\(features.sso) developerPack=\(features.developerPack)")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List organizations.")
        @OptionGroup var options: ConfigOption

        func run() async throws {
            try await withDirectory(options) { directory in
                let rows = try await directory.listOrganizations().map {
                    [$0.id, $0.name, $0.features.plan.rawValue, $0.features.sso ? "sso" : "-", $0.features.developerPack ? "developer-pack" : "-"]
                }
                print(table([["ID", "NAME", "PLAN", "SSO", "DEVELOPER PACK"]] + rows))
            }
        }
    }
}

struct MemberCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "member",
        abstract: "Manage organization members (the Fulcrum side).",
        subcommands: [Add.self, Update.self, Remove.self, List.self]
    )

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change a member's email, names or role; a managed member's email and names are refused."
        )
        @OptionGroup var options: ConfigOption
        @Option var org: String
        @Option(help: "The member's current email.") var email: String
        @Option(name: .customLong("new-email")) var newEmail: String?
        @Option var first: String?
        @Option var last: String?
        @Option var role: MemberRole?

        func run() async throws {
            try await withDirectory(options) { directory in
                let member = try await directory.updateMember(
                    organizationID: org,
                    email: email,
                    newEmail: newEmail,
                    firstName: first,
                    lastName: last,
                    role: role
                )
                print("\(member.id)  \(member.email)  \(member.role.rawValue)")
            }
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add an unmanaged member; prints its id.")
        @OptionGroup var options: ConfigOption
        @Option var org: String
        @Option var email: String
        @Option var first: String?
        @Option var last: String?
        @Option var role: MemberRole = .standard

        func run() async throws {
            try await withDirectory(options) { directory in
                print(try await directory.addMember(organizationID: org, email: email, firstName: first, lastName: last, role: role).id)
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a member; the tokens it created stop working.")
        @OptionGroup var options: ConfigOption
        @Option var org: String
        @Option var email: String

        func run() async throws {
            try await withDirectory(options) { directory in
                try await directory.removeMember(organizationID: org, email: email)
                print("removed \(email)")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List members, marking managed ones.")
        @OptionGroup var options: ConfigOption
        @Option var org: String

        func run() async throws {
            try await withDirectory(options) { directory in
                let rows = try await directory.listMembers(organizationID: org).map {
                    [$0.id, $0.email, $0.firstName ?? "", $0.lastName ?? "", $0.role.rawValue, $0.managed ? "managed" : "unmanaged"]
                }
                print(table([["ID", "EMAIL", "FIRST", "LAST", "ROLE", "MANAGED"]] + rows))
            }
        }
    }
}

struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Manage API tokens.",
        subcommands: [Create.self, List.self, Revoke.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a token for an Owner; prints it once.")
        @OptionGroup var options: ConfigOption
        @Option var org: String
        @Option(help: "The email of the Owner the token acts for.") var member: String
        @Option var description: String?

        func run() async throws {
            try await withDirectory(options) { directory in
                print(try await directory.createToken(organizationID: org, memberEmail: member, description: description).secret)
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List tokens (never the secrets).")
        @OptionGroup var options: ConfigOption
        @Option var org: String

        func run() async throws {
            try await withDirectory(options) { directory in
                let rows = try await directory.listTokens(organizationID: org).map {
                    [$0.id, $0.memberEmail, $0.description ?? "", $0.createdAt, $0.lastUsedAt ?? "never", $0.revoked ? "revoked" : "active"]
                }
                print(table([["ID", "MEMBER", "DESCRIPTION", "CREATED", "LAST USED", "STATE"]] + rows))
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a token; it fails from the next request on.")
        @OptionGroup var options: ConfigOption
        @Option var org: String
        @Option var id: String

        func run() async throws {
            try await withDirectory(options) { directory in
                try await directory.revokeToken(organizationID: org, tokenID: id)
                print("revoked \(id)")
            }
        }
    }
}

struct GroupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "group",
        abstract: "Manage groups (the Fulcrum side).",
        subcommands: [Create.self, List.self, Rename.self, AddMember.self, RemoveMember.self, Delete.self]
    )

    struct Rename: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Rename an unmanaged group.")
        @OptionGroup var options: ConfigOption
        @Option var org: String
        @Option var group: String
        @Option var name: String

        func run() async throws {
            try await withDirectory(options) { directory in
                try await directory.renameGroup(organizationID: org, groupID: group, name: name)
                print("renamed \(group)")
            }
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create an unmanaged group; prints its id.")
        @OptionGroup var options: ConfigOption
        @Option var org: String
        @Option var name: String

        func run() async throws {
            try await withDirectory(options) { directory in print(try await directory.createGroup(organizationID: org, name: name).id) }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List groups, marking managed ones.")
        @OptionGroup var options: ConfigOption
        @Option var org: String

        func run() async throws {
            try await withDirectory(options) { directory in
                let rows = try await directory.listGroups(organizationID: org).map {
                    [$0.id, $0.name, "\($0.memberCount)", $0.managed ? "managed" : "unmanaged"]
                }
                print(table([["ID", "NAME", "MEMBERS", "MANAGED"]] + rows))
            }
        }
    }

    struct AddMember: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "add-member", abstract: "Add a member to an unmanaged group.")
        @OptionGroup var options: ConfigOption
        @Option var org: String
        @Option var group: String
        @Option var email: String

        func run() async throws {
            try await withDirectory(options) { directory in
                try await directory.addGroupMember(organizationID: org, groupID: group, email: email)
                print("added \(email)")
            }
        }
    }

    struct RemoveMember: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "remove-member", abstract: "Remove a member from an unmanaged group.")
        @OptionGroup var options: ConfigOption
        @Option var org: String
        @Option var group: String
        @Option var email: String

        func run() async throws {
            try await withDirectory(options) { directory in
                try await directory.removeGroupMember(organizationID: org, groupID: group, email: email)
                print("removed \(email)")
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete an unmanaged group.")
        @OptionGroup var options: ConfigOption
        @Option var org: String
        @Option var group: String

        func run() async throws {
            try await withDirectory(options) { directory in
                try await directory.deleteGroup(organizationID: org, groupID: group)
                print("deleted \(group)")
            }
        }
    }
}
