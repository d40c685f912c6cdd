import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import NIOSSL
import Testing

/// `scim-gateway serve` as a user runs it: first start, restart, signals, crash.
@Suite struct ServeTests {
    static func line(_ lines: [String], _ prefix: String) -> String? {
        lines.first { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)).trimmingCharacters(in: .whitespaces) }
    }

    @Test func firstRunBootstrapsPrintsTheTokenOnceAndRestartsReuseEverything() async throws {
        let directory = try GatewayProcess.sandbox()
        let first = try GatewayProcess.Server(arguments: ["serve", "--port", "0"], directory: directory)
        let lines = try await first.waitFor("Secret Token")
        #expect(Self.line(lines, "Tenant URL:")?.hasPrefix("https://localhost:") == true)
        #expect(lines.contains { $0.hasPrefix("TLS certificate SHA-256 fingerprint: ") })
        #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent("data/gateway.sqlite").path))
        first.signal(SIGTERM)
        #expect(await first.waitForExit() == 0)

        let second = try GatewayProcess.Server(arguments: ["serve", "--port", "0"], directory: directory)
        let again = try await second.waitFor("Tenant URL")
        #expect(!again.contains { $0.contains("Secret Token") })
        #expect(!again.contains { $0.contains("generated") })
        #expect(Self.line(again, "TLS certificate SHA-256 fingerprint:") == Self.line(lines, "TLS certificate SHA-256 fingerprint:"))
        second.signal(SIGINT)
        #expect(await second.waitForExit() == 0)
    }
}

/// A running gateway and an HTTPS client that trusts its development certificate.
struct LiveGateway {
    let server: GatewayProcess.Server
    let client: TestClient
    let token: String?
    let tenantPath = "/scim/v2"

    static func start(in directory: URL, expectToken: Bool = true) async throws -> LiveGateway {
        let server = try GatewayProcess.Server(arguments: ["serve", "--port", "0"], directory: directory)
        let lines = try await server.waitFor("Tenant URL")
        var token: String?
        if expectToken { token = try await server.waitFor("Secret Token").last?.components(separatedBy: ": ").last }
        let tenant = try #require(ServeTests.line(lines, "Tenant URL:"))
        let port = try #require(Int(tenant.split(separator: ":").last?.split(separator: "/").first ?? ""))
        let certificate = try #require(
            try NIOSSLCertificate.fromPEMFile(directory.appendingPathComponent("data/tls/dev-certificate.pem").path).first
        )
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates([certificate])
        let client = TestClient(host: "localhost", port: port, configuration: .init(tlsConfiguration: tls, serverName: "localhost"))
        client.connect()
        return LiveGateway(server: server, client: client, token: token)
    }

    func headers(_ token: String?) -> HTTPFields {
        var fields: HTTPFields = [HTTPField.Name("Host")!: "localhost", .contentType: "application/scim+json; charset=utf-8"]
        if let token { fields[.authorization] = "Bearer \(token)" }
        return fields
    }

    func stop(signal: Int32 = SIGTERM) async throws -> Int32 {
        try? await client.shutdown()
        server.signal(signal)
        return await server.waitForExit()
    }
}

@Suite struct DurabilityAndLiveAdminTests {
    @Test func anAcknowledgedWriteSurvivesKill9() async throws {
        let directory = try GatewayProcess.sandbox()
        let first = try await LiveGateway.start(in: directory)
        let token = try #require(first.token)
        let body = ByteBuffer(string: #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"durable@example.com","active":true}"#)
        let created = try await first.client.post("/scim/v2/Users", headers: first.headers(token), body: body)
        #expect(created.status == .created)
        let location = try #require(created.headers[.location])
        #expect(try await first.stop(signal: SIGKILL) == SIGKILL)

        let second = try await LiveGateway.start(in: directory, expectToken: false)
        let path = String(location[location.range(of: "/scim/v2")!.lowerBound...])
        let fetched = try await second.client.get(path, headers: second.headers(token))
        #expect(fetched.status == .ok)
        #expect(try await second.stop() == 0)
    }

    @Test func adminCommandsRunWhileServingAndARemovedOwnersTokenStopsWorking() async throws {
        let directory = try GatewayProcess.sandbox()
        let live = try await LiveGateway.start(in: directory)
        let token = try #require(live.token)
        #expect(try await live.client.get("/scim/v2/Users?count=1", headers: live.headers(token)).status == .ok)

        let orgs = try await GatewayProcess.run(["org", "list"], in: directory)
        let org = try #require(orgs.stdout.split(separator: "\n").dropFirst().first?.split(separator: " ").first.map(String.init))
        #expect(
            try await GatewayProcess.run(["member", "add", "--org", org, "--email", "new-owner@example.com", "--role", "owner"], in: directory).status
                == 0
        )
        let removed = try await GatewayProcess.run(["member", "remove", "--org", org, "--email", "owner@example.com"], in: directory)
        #expect(removed.status == 0, "\(removed.stderr)")

        let refused = try await live.client.get("/scim/v2/Users?count=1", headers: live.headers(token))
        #expect(refused.status == .unauthorized)
        #expect(refused.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true)

        let downgrade = try await GatewayProcess.run(["org", "update", "--id", org, "--plan", "professional"], in: directory)
        #expect(downgrade.status == 0)
        let fresh = try await GatewayProcess.run(["token", "create", "--org", org, "--member", "new-owner@example.com"], in: directory)
        let newToken = fresh.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let forbidden = try await live.client.get("/scim/v2/Users", headers: live.headers(newToken))
        #expect(forbidden.status == .forbidden)
        #expect(try await live.stop() == 0)
    }
}

/// The Fulcrum rules through HTTPS, with the admin commands as the Fulcrum side.
@Suite struct FulcrumSideOverHTTPSTests {
    @Test func aManagedGroupRefusesFulcrumSideEditsAndAnAdoptionKeepsTheMembersId() async throws {
        let directory = try GatewayProcess.sandbox { $0.replacingOccurrences(of: "onUnmanagedConflict: reject", with: "onUnmanagedConflict: adopt") }
        let live = try await LiveGateway.start(in: directory)
        let token = try #require(live.token)
        let orgs = try await GatewayProcess.run(["org", "list"], in: directory)
        let org = try #require(orgs.stdout.split(separator: "\n").dropFirst().first?.split(separator: " ").first.map(String.init))

        // A member made in Fulcrum, then adopted by the identity provider.
        let made = try await GatewayProcess.run(["member", "add", "--org", org, "--email", "sam@contoso.test", "--first", "Sam"], in: directory)
        let samID = made.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let user = ByteBuffer(
            string: #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"sam@contoso.test","#
                + #""emails":[{"primary":true,"type":"work","value":"sam@contoso.test"}],"name":{"givenName":"Samuel","familyName":"Field"}}"#
        )
        let adopted = try await live.client.post("/scim/v2/Users", headers: live.headers(token), body: user)
        #expect(adopted.status == .created)
        #expect(adopted.headers[.location]?.hasSuffix("/Users/\(samID)") == true)
        let members = try await GatewayProcess.run(["member", "list", "--org", org], in: directory)
        let samLine = try #require(members.stdout.split(separator: "\n").first { $0.contains("sam@contoso.test") })
        #expect(samLine.contains("managed") && !samLine.contains("unmanaged"))
        #expect(samLine.contains("Samuel"))

        // A managed group made through SCIM: the Fulcrum side may not change it.
        let group = ByteBuffer(
            string: #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Field Crew","members":[{"value":"\#(samID)"}]}"#
        )
        let created = try await live.client.post("/scim/v2/Groups", headers: live.headers(token), body: group)
        #expect(created.status == .created)
        let groupID = String(try #require(created.headers[.location]?.split(separator: "/").last))
        for arguments in [
            ["group", "remove-member", "--org", org, "--group", groupID, "--email", "sam@contoso.test"],
            ["group", "rename", "--org", org, "--group", groupID, "--name", "Renamed"],
            ["group", "delete", "--org", org, "--group", groupID],
            ["member", "update", "--org", org, "--email", "sam@contoso.test", "--first", "Nope"],
        ] {
            let refused = try await GatewayProcess.run(arguments, in: directory)
            #expect(refused.status == 1)
            #expect(refused.stderr.contains("managed by the identity provider"), "\(refused.stderr)")
        }
        // A same-name unmanaged group is fine, and the listing tells them apart.
        #expect(try await GatewayProcess.run(["group", "create", "--org", org, "--name", "Field Crew"], in: directory).status == 0)
        let groups = try await GatewayProcess.run(["group", "list", "--org", org], in: directory).stdout
        #expect(groups.split(separator: "\n").filter { $0.contains("Field Crew") }.count == 2)
        #expect(try await live.stop() == 0)
    }
}
