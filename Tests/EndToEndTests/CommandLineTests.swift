import Foundation
import Testing

@Suite struct CommandLineTests {
    @Test func theSampleConfigurationValidates() async throws {
        let directory = try GatewayProcess.sandbox()
        let result = try await GatewayProcess.run(["validate"], in: directory)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("gateway.yaml: valid"))
    }

    /// (edit to the sample, expected first line of stderr)
    static let invalid: [(String, String, String)] = [
        ("    synchronous: full", "    synchronus: full", "gateway.yaml: backend.config.synchronus: unknown key"),
        ("  port: 8443 ", "  port: eighty ", "gateway.yaml: server.port: expected an integer"),
        ("  - use: authentication", "  - use: authentcation", "gateway.yaml: pipeline[0].use: no stage named 'authentcation'"),
        ("    email: owner@example.com", "    mail: owner@example.com", "gateway.yaml: bootstrap.owner.mail: unknown key"),
    ]

    @Test(arguments: invalid)
    func configurationErrorsExit78WithOneLineNamingTheKeyPath(find: String, replace: String, expected: String) async throws {
        let directory = try GatewayProcess.sandbox { $0.replacingOccurrences(of: find, with: replace) }
        let result = try await GatewayProcess.run(["validate"], in: directory)
        #expect(result.status == 78)
        #expect(result.stderr.hasPrefix(expected), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1, "no backtrace: \(result.stderr)")
    }

    @Test func adminCommandsWorkAndRefuseBadInputWithOneLine() async throws {
        let directory = try GatewayProcess.sandbox()
        func run(_ arguments: String...) async throws -> GatewayProcess.Result {
            try await GatewayProcess.run(arguments, in: directory)
        }
        let org = try await run("org", "create", "--name", "Acme Surveys", "--sso", "--developer-pack").stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(UUID(uuidString: org) != nil)
        #expect(try await run("member", "add", "--org", org, "--email", "olive@acme.test", "--role", "owner").status == 0)
        #expect(try await run("member", "add", "--org", org, "--email", "sam@acme.test").status == 0)

        let token = try await run("token", "create", "--org", org, "--member", "olive@acme.test", "--description", "Entra")
        #expect(token.status == 0)
        let secret = token.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(secret.hasPrefix("fgw_"))
        let listing = try await run("token", "list", "--org", org)
        #expect(listing.stdout.contains("olive@acme.test"))
        #expect(!listing.stdout.contains(secret))

        let notOwner = try await run("token", "create", "--org", org, "--member", "sam@acme.test")
        #expect(notOwner.status == 1)
        #expect(notOwner.stderr == "error: only an Owner can create an API token; sam@acme.test is a standard\n")

        let duplicate = try await run("member", "add", "--org", org, "--email", "SAM@acme.test")
        #expect(duplicate.status == 1)
        #expect(duplicate.stderr == "error: a member with email SAM@acme.test already exists in this organization\n")

        let unknownOrg = try await run("member", "list", "--org", "nope")
        #expect(unknownOrg.status == 1)
        #expect(unknownOrg.stderr == "error: no organization with id nope\n")

        let missingFlag = try await run("member", "add", "--org", org)
        #expect(missingFlag.status != 0)
        #expect(missingFlag.stderr.contains("--email"))

        let group = try await run("group", "create", "--org", org, "--name", "Surveyors").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try await run("group", "add-member", "--org", org, "--group", group, "--email", "sam@acme.test").status == 0)
        #expect(try await run("group", "list", "--org", org).stdout.contains("unmanaged"))
        #expect(try await run("group", "remove-member", "--org", org, "--group", group, "--email", "sam@acme.test").status == 0)
        #expect(try await run("group", "delete", "--org", org, "--group", group).status == 0)

        let update = try await run("org", "update", "--id", org, "--no-sso")
        #expect(update.stdout.contains("sso=false"))
        #expect(try await run("member", "remove", "--org", org, "--email", "sam@acme.test").status == 0)
        #expect(try await run("member", "list", "--org", org).stdout.contains("sam@acme.test") == false)
    }
}
