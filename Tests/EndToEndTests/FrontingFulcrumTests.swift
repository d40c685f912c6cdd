import Foundation
import GatewayCore
import HTTPTypes
import HummingbirdTesting
import NIOCore
import NIOSSL
import Testing

/// `fulcrum-emulator` and `scim-gateway` as processes, the sample `Samples/gateway.fulcrum.yaml` and seed: Entra's
/// flows through the gateway, then what Fulcrum holds, read through the emulator's own API with the Owner's token.
@Suite(.serialized) struct FrontingFulcrumTests {
    static let token = "acme-owner-token"

    struct Stack {
        let emulator: GatewayProcess.Server
        let gateway: GatewayProcess.Server
        let scim: TestClient
        let fulcrum: TestClient

        func stop() async {
            try? await scim.shutdown()
            try? await fulcrum.shutdown()
            gateway.signal(SIGTERM)
            _ = await gateway.waitForExit()
            emulator.signal(SIGTERM)
            _ = await emulator.waitForExit()
        }
    }

    static func start() async throws -> Stack {
        let directory = try GatewayProcess.sandbox(sample: "Samples/gateway.fulcrum.yaml") { $0 }
        let emulator = try GatewayProcess.Server(
            arguments: ["serve", "--port", "0", "--seed", GatewayProcess.repository.appendingPathComponent("Samples/fulcrum-seed.yaml").path],
            directory: directory,
            executable: GatewayProcess.emulator
        )
        let emulatorLine = try #require(try await emulator.waitFor("fulcrum-emulator listening").last)
        let emulatorPort = try #require(Int(emulatorLine.split(separator: ":").last?.split(separator: "/").first ?? ""))
        let configuration = directory.appendingPathComponent("gateway.yaml")
        let text = try String(contentsOf: configuration, encoding: .utf8)
        try text.replacingOccurrences(of: "127.0.0.1:8080", with: "127.0.0.1:\(emulatorPort)").write(
            to: configuration,
            atomically: true,
            encoding: .utf8
        )
        let gateway = try GatewayProcess.Server(arguments: ["serve", "--config", "gateway.yaml", "--port", "0"], directory: directory)
        let tenant = try #require(try await gateway.waitFor("Tenant URL").last)
        let port = try #require(Int(tenant.split(separator: ":").last?.split(separator: "/").first ?? ""))
        let certificate = try #require(
            try NIOSSLCertificate.fromPEMFile(directory.appendingPathComponent("data/tls/dev-certificate.pem").path).first
        )
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates([certificate])
        let scim = TestClient(host: "localhost", port: port, configuration: .init(tlsConfiguration: tls, serverName: "localhost"))
        scim.connect()
        let fulcrum = TestClient(host: "127.0.0.1", port: emulatorPort, configuration: .init())
        fulcrum.connect()
        return Stack(emulator: emulator, gateway: gateway, scim: scim, fulcrum: fulcrum)
    }

    /// One SCIM call as Entra makes it.
    @discardableResult
    static func scim(
        _ stack: Stack,
        _ method: HTTPRequest.Method,
        _ path: String,
        _ body: String? = nil,
        expect status: HTTPResponse.Status
    ) async throws -> [String: Any] {
        let headers: HTTPFields = [
            HTTPField.Name("Host")!: "localhost", .authorization: "Bearer \(token)", .contentType: "application/scim+json; charset=utf-8",
        ]
        let response = try await stack.scim.execute(.init(path, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) }))
        let bytes = response.body ?? ByteBuffer()
        #expect(response.status == status, "\(method) \(path): \(String(buffer: bytes))")
        return (try? JSONSerialization.jsonObject(with: Data(bytes.readableBytesView)) as? [String: Any]) ?? [:]
    }

    /// What Fulcrum holds, through its API.
    static func fulcrum(_ stack: Stack, _ path: String) async throws -> [String: Any] {
        let headers: HTTPFields = [HTTPField.Name("Host")!: "127.0.0.1", HTTPField.Name("X-ApiToken")!: token, .accept: "application/json"]
        let response = try await stack.fulcrum.execute(.init(path, method: .get, headers: headers))
        return (try? JSONSerialization.jsonObject(with: Data((response.body ?? ByteBuffer()).readableBytesView)) as? [String: Any]) ?? [:]
    }

    static func memberships(_ stack: Stack) async throws -> [[String: Any]] {
        try await fulcrum(stack, "/api/v2/memberships.json?managed_info=1")["memberships"] as? [[String: Any]] ?? []
    }

    static func group(_ stack: Stack, named name: String) async throws -> [String: Any]? {
        let groups = try await fulcrum(stack, "/api/v2/groups.json?associations=true")["groups"] as? [[String: Any]] ?? []
        return groups.first { $0["name"] as? String == name }
    }

    static func patch(_ operations: String) -> String {
        #"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[\#(operations)]}"#
    }

    @Test func entrasFlowsLandInFulcrum() async throws {
        let stack = try await Self.start()
        do {
            // Create: a Fulcrum member with the names; an unmanaged namesake stays invisible and untouched.
            let user = #"""
                {"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"externalId":"e-1","userName":"alice@contoso.test","active":true,
                "emails":[{"primary":true,"type":"work","value":"alice@contoso.test"}],"name":{"givenName":"Alice","familyName":"Tester"}}
                """#
            let created = try await Self.scim(stack, .post, "/scim/v2/Users", user, expect: .created)
            let id = try #require(created["id"] as? String)
            var alice = try #require(try await Self.memberships(stack).first { $0["email"] as? String == "alice@contoso.test" })
            #expect(alice["first_name"] as? String == "Alice")
            #expect(alice["managed"] as? Bool == true)
            // Update: email and names.
            try await Self.scim(
                stack,
                .patch,
                "/scim/v2/Users/\(id)",
                Self.patch(
                    #"{"op":"Replace","path":"emails[type eq \"work\"].value","value":"alice.new@contoso.test"},{"op":"Replace","path":"name.givenName","value":"Alicia"}"#
                ),
                expect: .ok
            )
            alice = try #require(try await Self.memberships(stack).first { $0["user_id"] as? String == alice["user_id"] as? String })
            #expect(alice["email"] as? String == "alice.new@contoso.test")
            #expect(alice["first_name"] as? String == "Alicia")
            // Group push: create empty, then add the member; rename.
            let group = try await Self.scim(
                stack,
                .post,
                "/scim/v2/Groups",
                #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Field Crew","members":[]}"#,
                expect: .created
            )
            let groupID = try #require(group["id"] as? String)
            try await Self.scim(
                stack,
                .patch,
                "/scim/v2/Groups/\(groupID)",
                Self.patch(#"{"op":"Add","path":"members","value":[{"value":"\#(id)"}]}"#),
                expect: .noContent
            )
            #expect((try await Self.group(stack, named: "Field Crew")?["member_ids"] as? [String]) == [alice["id"] as? String ?? ""])
            try await Self.scim(
                stack,
                .patch,
                "/scim/v2/Groups/\(groupID)",
                Self.patch(#"{"op":"Replace","path":"displayName","value":"Crew"}"#),
                expect: .noContent
            )
            #expect(try await Self.group(stack, named: "Crew") != nil)
            // Deactivate: the member leaves Fulcrum; the SCIM user and its group membership stay.
            try await Self.scim(stack, .patch, "/scim/v2/Users/\(id)", Self.patch(#"{"op":"Replace","path":"active","value":"False"}"#), expect: .ok)
            #expect(try await Self.memberships(stack).contains { $0["email"] as? String == "alice.new@contoso.test" } == false)
            #expect(try await Self.scim(stack, .get, "/scim/v2/Users/\(id)", expect: .ok)["active"] as? Bool == false)
            // Reactivate: a new membership of the same Fulcrum user, back in its group.
            try await Self.scim(stack, .patch, "/scim/v2/Users/\(id)", Self.patch(#"{"op":"Replace","path":"active","value":"True"}"#), expect: .ok)
            let back = try #require(try await Self.memberships(stack).first { $0["email"] as? String == "alice.new@contoso.test" })
            #expect(back["user_id"] as? String == alice["user_id"] as? String)
            #expect(back["id"] as? String != alice["id"] as? String)
            #expect((try await Self.group(stack, named: "Crew")?["member_ids"] as? [String]) == [back["id"] as? String ?? ""])
            // Member removal, group unassignment, user deletion.
            try await Self.scim(
                stack,
                .patch,
                "/scim/v2/Groups/\(groupID)",
                Self.patch(#"{"op":"Remove","path":"members[value eq \"\#(id)\"]"}"#),
                expect: .noContent
            )
            #expect((try await Self.group(stack, named: "Crew")?["member_ids"] as? [String]) == [])
            try await Self.scim(stack, .delete, "/scim/v2/Groups/\(groupID)", expect: .noContent)
            #expect(try await Self.group(stack, named: "Crew") == nil)
            try await Self.scim(stack, .delete, "/scim/v2/Users/\(id)", expect: .noContent)
            let left = try await Self.memberships(stack).compactMap { $0["email"] as? String }
            #expect(left.sorted() == ["owner@acme.test", "ursula@acme.test"])
            // The seed's unmanaged group is untouched and invisible.
            #expect(try await Self.group(stack, named: "Surveyors") != nil)
            let listed = try await Self.scim(stack, .get, "/scim/v2/Groups", expect: .ok)
            #expect(listed["totalResults"] as? Int == 0)
        } catch {
            await stack.stop()
            throw error
        }
        await stack.stop()
    }
}
