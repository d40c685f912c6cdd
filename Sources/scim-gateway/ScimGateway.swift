import ArgumentParser
import AttributeMappingStage
import AuthenticationStage
import Foundation
import FulcrumBackend
import GatewayCore
import GatewayHTTP
import Logging
import ManagedNamespaceStage
import Metrics
import RateLimitStage
import SQLiteBackend
import SchemaValidationStage
import ServiceLifecycle
import UnixSignals

/// `scim-gateway`: the SCIM 2.0 provisioning gateway for Fulcrum, and the admin commands of its embedded directory.
@main
struct ScimGateway: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scim-gateway",
        abstract: "SCIM 2.0 provisioning gateway for Fulcrum organizations.",
        subcommands: [
            Serve.self, Validate.self, OrganizationCommand.self, MemberCommand.self, TokenCommand.self, GroupCommand.self, FulcrumCommand.self,
            OutboxCommand.self,
        ]
    )

    /// The only list of compiled-in plugins.
    static func makeRegistry() -> PluginRegistry {
        var registry = PluginRegistry()
        registry.register(AuthenticationStage.self)
        registry.register(ManagedNamespaceStage.self)
        registry.register(RateLimitStage.self)
        registry.register(SchemaValidationStage.self)
        registry.register(AttributeMappingStage.self)
        registry.register(SQLiteBackend.self)
        registry.register(FulcrumBackend.self)
        return registry
    }
}

/// `--config`, shared by every command.
struct ConfigOption: ParsableArguments {
    @Option(name: .long, help: "The gateway configuration file.")
    var config: String = "gateway.yaml"

    var url: URL {
        URL(fileURLWithPath: config, relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath)).standardizedFileURL
    }

    /// Loads the document, printing `PATH: key.path: message` and exiting 78 on a configuration error.
    func load() throws -> GatewayDocument {
        do {
            return try GatewayDocument(contentsOf: url)
        } catch {
            throw fail(error)
        }
    }

    func fail(_ error: ConfigurationError) -> ExitCode {
        FileHandle.standardError.write(Data("\(config): \(error)\n".utf8))
        return ExitCode(78)
    }

    /// Builds every plugin of the document.
    func assemble(_ document: GatewayDocument, logger: Logger) async throws -> AssembledGateway {
        do {
            return try await AssembledGateway.build(
                document,
                registry: ScimGateway.makeRegistry(),
                logger: logger,
                metricsFactory: MetricsSystem.factory
            )
        } catch let error as ConfigurationError {
            throw fail(error)
        }
    }
}

extension Logger.Level {
    init(_ level: LoggingConfiguration.Level) {
        self = Logger.Level(rawValue: level.rawValue) ?? .info
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the gateway.")

    @OptionGroup var options: ConfigOption
    @Option(name: .long, help: "Listen on this port instead of the configured one (0 picks a free port).")
    var port: Int?

    func run() async throws {
        var document = try options.load()
        if let port {
            guard (0...65535).contains(port) else { throw options.fail(.invalidValue("--port", "must be between 0 and 65535")) }
            document.server.port = port
        }
        let level = Logger.Level(document.logging.level)
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "scim-gateway")
        let gateway = try await options.assemble(document, logger: logger)

        let app: any Service
        do {
            app = try await prepare(document, gateway: gateway, logger: logger)
        } catch {
            await gateway.backend.close()
            throw error
        }
        let group = ServiceGroup(
            configuration: .init(
                services: gateway.backend.services.map { .init(service: $0) } + [.init(service: app)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        try await group.run()
    }

    /// Certificate, bootstrap and listener: everything between building the plugins and serving.
    func prepare(_ document: GatewayDocument, gateway: AssembledGateway, logger: Logger) async throws -> any Service {
        var lines: [String] = []
        var tls: TLSSetup.Material?
        if let settings = document.server.tls {
            do {
                tls = try TLSSetup.prepare(settings, directory: document.directory)
            } catch let error as ConfigurationError {
                throw options.fail(error)
            }
            if let tls {
                let origin = tls.generated ? "generated a self-signed development certificate" : "certificate"
                lines.append("TLS \(origin): \(tls.certificatePath)")
                lines.append("TLS certificate SHA-256 fingerprint: \(tls.fingerprint)")
            }
        }
        let issued: IssuedToken?
        do {
            issued = try await Bootstrap.run(gateway, logger: logger)
        } catch let error as ConfigurationError {
            throw options.fail(error)
        }
        let server = document.server
        let printed = lines
        return try buildApplication(
            GatewayHTTPOptions(pipeline: gateway.pipeline, backend: gateway.backend, server: server, tls: tls?.configuration),
            logger: logger
        ) { actualPort in
            var output = printed
            let scheme = server.tls == nil ? "http" : "https"
            output.append("scim-gateway listening on \(scheme)://\(server.host):\(actualPort)")
            let tenant = Bootstrap.tenantURL(server: server, port: actualPort)
            output.append("Tenant URL: \(tenant)")
            if let issued {
                output.append("Secret Token (shown once; store it in Entra now): \(issued.secret)")
            }
            FileHandle.standardOutput.write(Data((output.joined(separator: "\n") + "\n").utf8))
        }
    }
}

struct Validate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Check a configuration and build every plugin, then exit.")

    @OptionGroup var options: ConfigOption

    func run() async throws {
        let document = try options.load()
        var logger = Logger(label: "scim-gateway")
        logger.logLevel = .warning
        let gateway = try await options.assemble(document, logger: logger)
        await gateway.backend.close()
        print("\(options.config): valid (\(document.pipeline.count) stages, backend \(document.backend.name))")
    }
}

/// First start: an empty store gets the `bootstrap:` organization, Owner and token.
enum Bootstrap {
    static func run(_ gateway: AssembledGateway, logger: Logger) async throws -> IssuedToken? {
        guard let seed = gateway.bootstrap else { return nil }
        guard gateway.backend.administration != nil else {
            throw ConfigurationError.invalidValue("bootstrap", "this backend fronts Fulcrum, whose tokens come from Fulcrum; remove the block")
        }
        // One transaction: a start that fails halfway leaves an empty store, and the next start bootstraps again.
        guard let (organization, token) = try await SimulatedFulcrum(backend: gateway.backend).bootstrap(seed) else { return nil }
        logger.notice("bootstrapped an empty store", metadata: ["organization.id": "\(organization.id)"])
        return token
    }

    static func tenantURL(server: ListenerConfiguration, port: Int) -> String {
        if let publicURL = server.publicURL {
            return (publicURL.hasSuffix("/") ? String(publicURL.dropLast()) : publicURL) + SCIMController.basePath
        }
        let scheme = server.tls == nil ? "http" : "https"
        let host = ["0.0.0.0", "::"].contains(server.host) ? "localhost" : server.host
        return "\(scheme)://\(host):\(port)\(SCIMController.basePath)"
    }
}
