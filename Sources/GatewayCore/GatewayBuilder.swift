public import Foundation
public import Logging
public import Metrics

/// A gateway assembled from a ``GatewayDocument``: the backend, the stages in order and the pipeline that ends in
/// the ``SCIMDispatcher``. `serve`, `validate` and the tests build gateways the same way.
public struct AssembledGateway: Sendable {
    public var backend: any BackendAdapter
    public var pipeline: Pipeline
    public var server: ListenerConfiguration
    public var directory: URL
    public var bootstrap: BootstrapConfiguration?

    /// Loads every plugin named by `document`.
    /// - Throws: ``ConfigurationError`` naming the key path of anything that cannot be used.
    public static func build(
        _ document: GatewayDocument,
        registry: PluginRegistry,
        logger: Logger,
        metricsFactory: any MetricsFactory
    ) async throws -> AssembledGateway {
        var context = PluginContext(
            logger: logger,
            metricsFactory: metricsFactory,
            configurationDirectory: document.directory,
            schemas: document.scim.catalog
        )
        context.logger[metadataKey: "gateway.plugin"] = .string(document.backend.name.rawValue)
        let backend = try await registry.makeBackend(document.backend, context: context)
        context.logger[metadataKey: "gateway.plugin"] = nil
        context.backend = backend
        let stages: [any Stage]
        do {
            stages = try await registry.makeStages(document.pipeline, context: context)
        } catch {
            await backend.close()
            throw error
        }
        return AssembledGateway(
            backend: backend,
            stages: stages,
            scim: document.scim,
            server: document.server,
            directory: document.directory,
            bootstrap: document.bootstrap
        )
    }

    /// Assembles already-built plugins: the stages in order, then the dispatcher in front of `backend`.
    public init(
        backend: any BackendAdapter,
        stages: [any Stage],
        scim: SCIMConfiguration = .init(),
        server: ListenerConfiguration = .init(),
        directory: URL = URL(fileURLWithPath: "."),
        bootstrap: BootstrapConfiguration? = nil
    ) {
        let dispatcher = SCIMDispatcher(
            backend: backend,
            configuration: scim,
            discovery: Discovery(
                features: .init(patch: true, filter: true, sort: true, etag: true),
                maxResults: scim.maxPageSize,
                catalog: scim.catalog
            )
        )
        self.backend = backend
        self.pipeline = Pipeline(stages: stages, schemas: scim.catalog) { request, context in
            try await dispatcher.handle(request, context: context)
        }
        self.server = server
        self.directory = directory
        self.bootstrap = bootstrap
    }
}
