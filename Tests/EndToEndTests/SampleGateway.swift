import Foundation
import GatewayCore
import GatewayHTTP
import GatewayTesting
import HummingbirdTesting
import Logging
import Testing

@testable import scim_gateway

/// A sample gateway under test: the client, the bootstrap token, the Fulcrum side and the folder its store lives in.
struct SampleGateway: Sendable {
    let client: any TestClientProtocol
    let token: String
    let directory: any DirectoryAdministration
    let folder: URL
}

/// Loads the repository's `gateway.yaml` with `edit` applied, bootstraps its store in a temporary folder and runs
/// `body` against the gateway with every compiled-in plugin: in process (`.router`) or on a loopback port (`.live`,
/// plain HTTP on 127.0.0.1 and a free port).
func withSampleGateway(
    editing edit: @escaping (String) -> String = { $0 },
    setup: TestingSetup = .router,
    _ body: @escaping @Sendable (SampleGateway) async throws -> Void
) async throws {
    let folder = TemporaryDirectory.make()
    defer { try? FileManager.default.removeItem(at: folder) }
    let text = try String(contentsOf: GatewayProcess.repository.appendingPathComponent("gateway.yaml"), encoding: .utf8)
    let document = try GatewayDocument(yaml: edit(text), directory: folder)
    var logger = Logger(label: "sample-test")
    logger.logLevel = .critical
    let gateway = try await AssembledGateway.build(
        document,
        registry: ScimGateway.makeRegistry(),
        logger: logger,
        metricsFactory: PluginContext.test().metricsFactory
    )
    do {
        let issued = try #require(try await Bootstrap.run(gateway, logger: logger))
        let directory = SimulatedFulcrum(backend: gateway.backend)
        var server = gateway.server
        server.host = "127.0.0.1"
        server.port = 0
        server.tls = nil
        server.plainHTTP = true
        let app = try buildApplication(
            GatewayHTTPOptions(pipeline: gateway.pipeline, backend: gateway.backend, server: server, tls: nil),
            logger: logger
        )
        try await app.test(setup) { client in
            try await body(SampleGateway(client: client, token: issued.secret, directory: directory, folder: folder))
        }
        await gateway.backend.close()
    } catch {
        await gateway.backend.close()
        throw error
    }
}
