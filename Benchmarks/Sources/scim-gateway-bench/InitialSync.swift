import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import NIOSSL
import Synchronization

/// An Entra-shaped initial sync over HTTPS: per user, a `userName eq` lookup then a POST; per group, a
/// `displayName eq` lookup (excluding members), a POST, then PATCHes adding members in batches. `workers` clients
/// share the work, each on its own keep-alive connection, as Entra's parallel exports do.
enum InitialSync {
    struct Options: Sendable {
        var host: String
        var port: Int
        var token: String
        var certificate: String
        var users: Int
        var groups: Int
        var members: Int
        var workers: Int
        var batch: Int
    }

    final class Counters: Sendable {
        let requests = Atomic<Int>(0)
        let failures = Mutex<[String]>([])
        let userIDs = Mutex<[Int: String]>([:])
    }

    static func run(_ options: Options) async throws {
        let certificate = try NIOSSLCertificate.fromPEMFile(options.certificate)
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(certificate)
        let headers: HTTPFields = [.authorization: "Bearer \(options.token)", .contentType: "application/scim+json; charset=utf-8"]
        let counters = Counters()
        let run = "\(Int(Date().timeIntervalSince1970))"
        let authority = "localhost:\(options.port)"  // HTTP/1.1 requires Host; the gateway refuses a request without it

        let configuration = TestClient.Configuration(tlsConfiguration: tls, serverName: "localhost")
        @Sendable func client() -> TestClient {
            let client = TestClient(host: options.host, port: options.port, configuration: configuration)
            client.connect()
            return client
        }
        @Sendable func send(
            _ client: TestClient,
            _ method: HTTPRequest.Method,
            _ uri: String,
            _ body: String? = nil
        ) async throws -> TestClient.Response {
            let response = try await client.execute(
                .init(uri, method: method, authority: authority, headers: headers, body: body.map { ByteBuffer(string: $0) })
            )
            counters.requests.wrappingAdd(1, ordering: .relaxed)
            if response.status.code >= 300 {
                counters.failures.withLock { $0.append("\(method) \(uri): \(response.status.code)") }
            }
            return response
        }
        @Sendable func id(of response: TestClient.Response) -> String? {
            guard let body = response.body, let object = try? JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any]
            else {
                return nil
            }
            return object["id"] as? String
        }

        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { workers in
            for worker in 0..<options.workers {
                workers.addTask {
                    let connection = client()
                    for index in stride(from: worker, to: options.users, by: options.workers) {
                        let userName = "sync\(run)-\(index)@contoso.example"
                        _ = try await send(connection, .get, "/scim/v2/Users?filter=userName+eq+%22\(userName)%22")
                        let body = """
                            {"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],\
                            "externalId":"sync-\(run)-\(index)","userName":"\(userName)","active":true,\
                            "emails":[{"primary":true,"type":"work","value":"\(userName)"}],"meta":{"resourceType":"User"},\
                            "name":{"formatted":"Sync User \(index)","familyName":"User \(index)","givenName":"Sync"},"roles":[],\
                            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Field"}}
                            """
                        if let created = id(of: try await send(connection, .post, "/scim/v2/Users", body)) {
                            counters.userIDs.withLock { $0[index] = created }
                        }
                    }
                    try await connection.shutdown()
                }
            }
            try await workers.waitForAll()
        }
        let usersDone = ContinuousClock.now
        let ids = counters.userIDs.withLock { $0 }
        try await withThrowingTaskGroup(of: Void.self) { workers in
            for worker in 0..<options.workers {
                workers.addTask {
                    let connection = client()
                    for group in stride(from: worker, to: options.groups, by: options.workers) {
                        let name = "Sync \(run) Group \(group)"
                        let encoded = name.replacingOccurrences(of: " ", with: "+")
                        _ = try await send(connection, .get, "/scim/v2/Groups?filter=displayName+eq+%22\(encoded)%22&excludedAttributes=members")
                        let body = """
                            {"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group","http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],\
                            "externalId":"sync-\(run)-g\(group)","displayName":"\(name)","meta":{"resourceType":"Group"},"members":[]}
                            """
                        guard let groupID = id(of: try await send(connection, .post, "/scim/v2/Groups", body)) else { continue }
                        let memberIDs = (0..<options.members).compactMap { ids[(group * options.members + $0) % max(1, options.users)] }
                        for batch in stride(from: 0, to: memberIDs.count, by: options.batch) {
                            let slice = memberIDs[batch..<min(batch + options.batch, memberIDs.count)]
                            let values = slice.map { #"{"$ref":null,"value":"\#($0)"}"# }.joined(separator: ",")
                            let patch =
                                #"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Add","path":"members","value":[\#(values)]}]}"#
                            _ = try await send(connection, .patch, "/scim/v2/Groups/\(groupID)", patch)
                        }
                    }
                    try await connection.shutdown()
                }
            }
            try await workers.waitForAll()
        }
        let end = ContinuousClock.now
        func seconds(_ duration: Duration) -> Double {
            Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        }
        let total = seconds(end - start)
        let requests = counters.requests.load(ordering: .relaxed)
        let failures = counters.failures.withLock { $0 }
        print(
            String(
                format: "initial sync: %d users, %d groups x %d members, %d workers",
                options.users,
                options.groups,
                options.members,
                options.workers
            )
        )
        print(
            String(
                format: "wall %.1f s (users %.1f s, groups %.1f s); %d requests, %.0f requests/s; %d failed",
                total,
                seconds(usersDone - start),
                seconds(end - usersDone),
                requests,
                Double(requests) / total,
                failures.count
            )
        )
        for failure in failures.prefix(5) { print("  failed: \(failure)") }
        if !failures.isEmpty { exit(1) }
    }
}
