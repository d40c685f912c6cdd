import AuthenticationStage
import Foundation
import GatewayCore
import GatewayHTTP
import GatewayTesting
import HTTPTypes
import HummingbirdTesting
import Logging
import NIOCore
import NIOSSL
import ServiceLifecycle
import Testing

/// Over a real socket on loopback (port 0), with the generated development certificate.
@Suite struct LiveTLSTests {
    /// Starts the gateway over TLS, runs `body` with the bound port and the certificate, then shuts down gracefully.
    func withLiveGateway(_ body: @escaping @Sendable (DirectoryFixture, Int, NIOSSLCertificate) async throws -> Void) async throws {
        try await DirectoryFixture.run { fixture in
            var settings = ListenerConfiguration.TLSSettings()
            settings.selfSigned = true
            let material = try TLSSetup.prepare(settings, directory: fixture.folder)
            #expect(material.generated)
            var server = ListenerConfiguration()
            server.host = "127.0.0.1"
            server.port = 0
            server.tls = settings
            let stage = try await AuthenticationStage(configuration: .init(), context: .test(backend: fixture.backend))
            let gateway = AssembledGateway(backend: fixture.backend, stages: [stage], server: server)
            var logger = Logger(label: "live-test")
            logger.logLevel = .critical
            let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
            let app = try buildApplication(
                GatewayHTTPOptions(pipeline: gateway.pipeline, backend: fixture.backend, server: server, tls: material.configuration),
                logger: logger
            ) { port in continuation.yield(port) }
            let group = ServiceGroup(services: [app], logger: logger)
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                var iterator = ports.makeAsyncIterator()
                let port = try #require(await iterator.next())
                let certificate = try #require(try NIOSSLCertificate.fromPEMFile(material.certificatePath).first)
                do {
                    try await body(fixture, port, certificate)
                } catch {
                    await group.triggerGracefulShutdown()
                    throw error
                }
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
            }
        }
    }

    func client(port: Int, trusting certificate: NIOSSLCertificate, maximumVersion: TLSVersion? = nil) -> TestClient {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates([certificate])
        tls.minimumTLSVersion = .tlsv1
        if let maximumVersion { tls.maximumTLSVersion = maximumVersion }
        let client = TestClient(
            host: "localhost",
            port: port,
            configuration: .init(tlsConfiguration: tls, timeout: .seconds(10), serverName: "localhost")
        )
        client.connect()
        return client
    }

    @Test func entraProbeOverTLS12WithTheGeneratedCertificate() async throws {
        try await withLiveGateway { fixture, port, certificate in
            let client = client(port: port, trusting: certificate, maximumVersion: .tlsv12)
            let response = try await client.get(
                "/scim/v2/Users?filter=userName+eq+%22d4b1c6a8-0000-4000-8000-000000000001%22",
                headers: fixture.authorization.merging([HTTPField.Name("Host")!: "localhost"])
            )
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "application/scim+json")
            let unauthorized = try await client.get("/scim/v2/Users", headers: [HTTPField.Name("Host")!: "localhost"])
            #expect(unauthorized.status == .unauthorized)
            try await client.shutdown()
        }
    }

    @Test func tls11IsRefused() async throws {
        try await withLiveGateway { _, port, certificate in
            let client = client(port: port, trusting: certificate, maximumVersion: .tlsv11)
            await #expect(throws: (any Error).self) { _ = try await client.get("/healthz") }
            try? await client.shutdown()
        }
    }
}
