import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import NIOSSL
import Testing

/// `delivery: queued` with `kill -9` of the gateway while it drains, again and again, then a clean restart: Fulcrum
/// (the emulator, read through its API) ends up holding exactly what the ledger says: every managed user once, no
/// duplicate member or group, no lost change.
@Suite(.serialized) struct QueuedDeliveryCrashTests {
    typealias Stack = FrontingFulcrumTests.Stack

    static func startGateway(in directory: URL) async throws -> (GatewayProcess.Server, TestClient) {
        let gateway = try GatewayProcess.Server(arguments: ["serve", "--config", "gateway.yaml", "--port", "0"], directory: directory)
        let tenant = try #require(try await gateway.waitFor("Tenant URL").last)
        let port = try #require(Int(tenant.split(separator: ":").last?.split(separator: "/").first ?? ""))
        let certificate = try #require(
            try NIOSSLCertificate.fromPEMFile(directory.appendingPathComponent("data/tls/dev-certificate.pem").path).first
        )
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates([certificate])
        let client = TestClient(host: "localhost", port: port, configuration: .init(tlsConfiguration: tls, serverName: "localhost"))
        client.connect()
        return (gateway, client)
    }

    static func send(_ client: TestClient, _ method: HTTPRequest.Method, _ path: String, _ body: String? = nil) async throws -> (Int, [String: Any]) {
        let headers: HTTPFields = [
            HTTPField.Name("Host")!: "localhost", .authorization: "Bearer \(FrontingFulcrumTests.token)",
            .contentType: "application/scim+json; charset=utf-8",
        ]
        let response = try await client.execute(.init(path, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) }))
        let json = (try? JSONSerialization.jsonObject(with: Data((response.body ?? ByteBuffer()).readableBytesView)) as? [String: Any]) ?? [:]
        return (Int(response.status.code), json)
    }

    static func user(_ name: String) -> String {
        #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"\#(name)@contoso.test","active":true,"name":{"givenName":"\#(name)","familyName":"Crash"},"emails":[{"primary":true,"type":"work","value":"\#(name)@contoso.test"}]}"#
    }

    @Test func killNineDuringTheDrainLosesNothingAndDuplicatesNothing() async throws {
        let directory = try GatewayProcess.sandbox(sample: "Samples/gateway.fulcrum.yaml") { $0 }
        let emulator = try GatewayProcess.Server(
            arguments: ["serve", "--port", "0", "--seed", GatewayProcess.repository.appendingPathComponent("Samples/fulcrum-seed.yaml").path],
            directory: directory,
            executable: GatewayProcess.emulator
        )
        defer { emulator.signal(SIGKILL) }
        let line = try #require(try await emulator.waitFor("fulcrum-emulator listening").last)
        let emulatorPort = try #require(Int(line.split(separator: ":").last?.split(separator: "/").first ?? ""))
        let configuration = directory.appendingPathComponent("gateway.yaml")
        try String(contentsOf: configuration, encoding: .utf8)
            .replacingOccurrences(of: "127.0.0.1:8080", with: "127.0.0.1:\(emulatorPort)")
            .replacingOccurrences(of: "    callsPerHour: 5000 ", with: "    delivery: queued\n    callsPerHour: 5000 ")
            .write(to: configuration, atomically: true, encoding: .utf8)

        var expected: [String: Bool] = [:]  // userName -> active
        var generator = SystemRandomNumberGenerator()
        for round in 0..<10 {
            let (gateway, client) = try await Self.startGateway(in: directory)
            // A burst of writes: new users, a group with them, a deactivation; then kill -9 after a random number of
            // answers, while the worker is delivering.
            let killAfter = Int.random(in: 1...12, using: &generator)
            var answered = 0
            var ids: [String] = []
            for index in 0..<8 {
                let name = "r\(round)u\(index)"
                let (status, created) = try await Self.send(client, .post, "/scim/v2/Users", Self.user(name))
                #expect(status == 201)
                if let id = created["id"] as? String { ids.append(id) }
                expected[name] = true
                answered += 1
                if answered == killAfter { break }
            }
            if answered < killAfter, ids.count >= 2 {
                let members = ids.map { #"{"value":"\#($0)"}"# }.joined(separator: ",")
                let (status, _) = try await Self.send(
                    client,
                    .post,
                    "/scim/v2/Groups",
                    #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Round \#(round)","members":[\#(members)]}"#
                )
                #expect(status == 201)
                let (deactivated, _) = try await Self.send(
                    client,
                    .patch,
                    "/scim/v2/Users/\(ids[0])",
                    #"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":false}]}"#
                )
                #expect(deactivated == 200)
                expected["r\(round)u0"] = false
            }
            gateway.signal(SIGKILL)
            _ = await gateway.waitForExit()
            try? await client.shutdown()
        }

        // A clean start: the first request gives the worker the token; then the outbox drains.
        let (gateway, client) = try await Self.startGateway(in: directory)
        _ = try await Self.send(client, .get, "/scim/v2/Users?count=1")
        let deadline = ContinuousClock.now + .seconds(60)
        var drained = false
        while ContinuousClock.now < deadline {
            let outbox = try await GatewayProcess.run(["outbox", "list", "--config", "gateway.yaml"], in: directory)
            if outbox.stdout.contains("the outbox is empty") {
                drained = true
                break
            }
            try await Task.sleep(for: .milliseconds(200))  // waiting for the worker, not for time to pass
        }
        #expect(drained)
        // Fulcrum holds every active user exactly once, no deactivated one, and one group per round that made one.
        let fulcrum = TestClient(host: "127.0.0.1", port: emulatorPort, configuration: .init())
        fulcrum.connect()
        let headers: HTTPFields = [
            HTTPField.Name("Host")!: "127.0.0.1", HTTPField.Name("X-ApiToken")!: FrontingFulcrumTests.token, .accept: "application/json",
        ]
        let list = try await fulcrum.execute(.init("/api/v2/memberships.json", method: .get, headers: headers))
        let memberships =
            (try JSONSerialization.jsonObject(with: Data((list.body ?? ByteBuffer()).readableBytesView)) as? [String: Any])?["memberships"]
            as? [[String: Any]] ?? []
        let emails = memberships.compactMap { $0["email"] as? String }.filter { $0.hasSuffix("@contoso.test") }
        #expect(emails.count == Set(emails).count, "no duplicate members")
        #expect(Set(emails) == Set(expected.filter(\.value).keys.map { "\($0)@contoso.test" }))
        let groups = try await fulcrum.execute(.init("/api/v2/groups.json", method: .get, headers: headers))
        let names =
            ((try JSONSerialization.jsonObject(with: Data((groups.body ?? ByteBuffer()).readableBytesView)) as? [String: Any])?["groups"]
            as? [[String: Any]] ?? [])
            .compactMap { $0["name"] as? String }.filter { $0.hasPrefix("Round") }
        #expect(names.count == Set(names).count, "no duplicate groups")
        let (status, scimGroups) = try await Self.send(client, .get, "/scim/v2/Groups")
        #expect(status == 200)
        #expect(scimGroups["totalResults"] as? Int == names.count)
        try? await fulcrum.shutdown()
        try? await client.shutdown()
        gateway.signal(SIGTERM)
        _ = await gateway.waitForExit()
    }
}
