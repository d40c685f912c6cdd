public import GatewayCore
public import Hummingbird
internal import HummingbirdCore
internal import HummingbirdTLS
public import Logging
public import NIOSSL
public import ServiceLifecycle

/// The HTTP side of a gateway built from a configuration: the pipeline, the backend (for `/readyz`) and the listener.
public struct GatewayHTTPOptions: Sendable {
    public var pipeline: Pipeline
    public var backend: any BackendAdapter
    public var server: ListenerConfiguration
    /// `nil` for plain HTTP (loopback only; checked when the configuration is decoded).
    public var tls: TLSConfiguration?

    public init(pipeline: Pipeline, backend: any BackendAdapter, server: ListenerConfiguration, tls: TLSConfiguration?) {
        self.pipeline = pipeline
        self.backend = backend
        self.server = server
        self.tls = tls
    }
}

/// The router every gateway uses, in the one allowed order: SCIM error rendering, request logging, metrics,
/// bearer-token extraction, then the routes. Shared by `main` and the tests.
public func buildRouter(pipeline: Pipeline, backend: any BackendAdapter, server: ListenerConfiguration) -> Router<GatewayRequestContext> {
    let router = Router(context: GatewayRequestContext.self)
    router.addMiddleware {
        SCIMErrorMiddleware()
        LogRequestsMiddleware(.debug)
        MetricsMiddleware()
        BearerTokenMiddleware()
    }
    router.get("/healthz") { _, _ in "ok\n" }
    router.get("/readyz") { _, context -> Response in
        do {
            try await backend.checkReadiness()
            let detail = await backend.readinessDetail().map { "\($0)\n" }.joined()
            return Response(status: .ok, body: .init(byteBuffer: .init(string: "ready\n" + detail)))
        } catch {
            context.logger.warning("store not ready", metadata: ["error.message": "\(error)"])
            return Response(status: .serviceUnavailable, body: .init(byteBuffer: .init(string: "store unavailable\n")))
        }
    }
    if server.benchmarkCeiling {
        // A user-sized answer with no pipeline and no store behind it: what the listener alone can do.
        let body = SCIMController.encode(ceilingUser)
        router.get("/bench/ceiling") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: SCIMController.mediaType], body: .init(byteBuffer: body))
        }
    }
    SCIMController(pipeline: pipeline, server: server).addRoutes(to: router)
    return router
}

/// Builds the application: HTTPS through HummingbirdTLS when `tls` is set, plain HTTP otherwise.
public func buildApplication(
    _ options: GatewayHTTPOptions,
    services: [any Service] = [],
    logger: Logger,
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) throws -> some ApplicationProtocol {
    let router = buildRouter(pipeline: options.pipeline, backend: options.backend, server: options.server)
    let configuration = ApplicationConfiguration(
        address: .hostname(options.server.host, port: options.server.port),
        serverName: "scim-gateway"
    )
    // The idle timer starts when the connection opens and is reset only by whole HTTP parts, so it also ends a
    // connection that never finishes its TLS handshake or its headers.
    let limit = ConnectionLimit(maximum: options.server.maxConnections)
    let http1 = HTTPServerBuilder.http1(
        configuration: .init(additionalChannelHandlers: [limit.slot()], idleTimeout: .seconds(Int64(options.server.idleTimeout)))
    )
    let server: HTTPServerBuilder = try options.tls.map { try .tls(http1, tlsConfiguration: $0) } ?? http1
    return Application(
        router: router,
        server: server,
        configuration: configuration,
        services: services,
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? options.server.port) },
        logger: logger
    )
}

/// The ceiling route's body: a user as the embedded directory renders one.
let ceilingUser: JSONValue = [
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
    "id": "00000000-0000-4000-8000-000000000001",
    "externalId": "ext-1",
    "userName": "user1@bench.example.com",
    "active": true,
    "name": ["givenName": "Bench", "familyName": "User 1"],
    "emails": [["type": "work", "primary": true, "value": "user1@bench.example.com"]],
    "meta": [
        "resourceType": "User", "created": "2026-01-01T00:00:00.000Z", "lastModified": "2026-01-01T00:00:00.000Z",
        "location": "https://localhost:8443/scim/v2/Users/00000000-0000-4000-8000-000000000001", "version": "W/\"1\"",
    ],
]
