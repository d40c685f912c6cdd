import AuthenticationStage
import Foundation
import GatewayCore
import GatewayHTTP
import GatewayTesting
import Hummingbird
import HummingbirdTesting
import Logging
import ManagedNamespaceStage
import NIOCore

/// Runs `body` against the production router over a fresh directory (the embedded one unless `kind` says
/// otherwise), in process.
func withEdge(
    _ kind: DirectoryKind = .sqlite,
    features: PlanFeatures = .scimReady,
    server: ListenerConfiguration = .init(),
    namespace: String = "roleMapping: { Manager: manager }",
    _ body: @escaping @Sendable (DirectoryFixture, any TestClientProtocol) async throws -> Void
) async throws {
    try await DirectoryFixture.run(kind, features: features) { fixture in
        let context = PluginContext.test(backend: fixture.backend)
        let authentication = try await AuthenticationStage(configuration: .init(), context: context)
        let namespaceConfiguration = try ConfigBlock(yaml: namespace).decode(ManagedNamespaceStage.Configuration.self)
        let rules = try await ManagedNamespaceStage(configuration: namespaceConfiguration, context: context)
        let gateway = AssembledGateway(backend: fixture.backend, stages: [authentication, rules], server: server)
        var logger = Logger(label: "edge-test")
        logger.logLevel = .critical
        let app = try buildApplication(
            GatewayHTTPOptions(pipeline: gateway.pipeline, backend: fixture.backend, server: server, tls: nil),
            logger: logger
        )
        try await app.test(.router) { client in try await body(fixture, client) }
    }
}

extension DirectoryFixture {
    /// The headers Entra sends on every call: the bearer token and the SCIM media type.
    var authorization: HTTPFields { [.authorization: "Bearer \(token)", .contentType: "application/scim+json; charset=utf-8"] }
}

func json(_ value: JSONValue) -> ByteBuffer {
    ByteBuffer(bytes: try! JSONEncoder().encode(value))
}

extension TestResponse {
    /// The decoded body.
    var scim: JSONValue {
        get throws { try JSONDecoder().decode(JSONValue.self, from: Data(body.readableBytesView)) }
    }
}

/// Entra's request headers for bodies.
let entraHeaders: HTTPFields = [.contentType: "application/scim+json; charset=utf-8"]
