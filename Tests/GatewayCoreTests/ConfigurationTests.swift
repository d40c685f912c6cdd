import Foundation
import GatewayCore
import GatewayTesting
import Logging
import Metrics
import Testing

@Suite struct ConfigurationTests {
    static let base = """
        server: { host: 127.0.0.1, port: 0, plainHTTP: true }
        backend: { use: fake }
        """

    func registry() -> PluginRegistry {
        var registry = PluginRegistry()
        registry.register(FakeBackend.self)
        registry.register(ProbeStage.self)
        return registry
    }

    func build(_ yaml: String) async throws -> AssembledGateway {
        let document = try GatewayDocument(yaml: yaml, directory: TemporaryDirectory.make())
        return try await AssembledGateway.build(
            document,
            registry: registry(),
            logger: .init(label: "test"),
            metricsFactory: NOOPMetricsHandler.instance
        )
    }

    /// (yaml, expected path, expected code)
    static let failures: [(String, String, ConfigurationError.Code)] = [
        (base + "\nserverr: {}", "serverr", .unknownKey),
        ("server: { host: 127.0.0.1, prot: 1, plainHTTP: true }\nbackend: { use: fake }", "server.prot", .unknownKey),
        ("server: { port: eighty, tls: { selfSigned: true } }\nbackend: { use: fake }", "server.port", .typeMismatch),
        ("server: { tls: { selfSigned: true, extra: 1 } }\nbackend: { use: fake }", "server.tls.extra", .unknownKey),
        ("server: { tls: {} }\nbackend: { use: fake }", "server.tls.certificateChain", .missingKey),
        ("server: { host: 0.0.0.0, plainHTTP: true }\nbackend: { use: fake }", "server.host", .invalidValue),
        ("server: { host: 127.0.0.1 }\nbackend: { use: fake }", "server.tls", .missingKey),
        ("server: { host: 127.0.0.1, plainHTTP: true }", "backend", .missingKey),
        (base + "\nscim: { defaultPageSize: 5000 }", "scim.defaultPageSize", .invalidValue),
        (base + "\nlogging: { level: loud }", "logging.level", .invalidValue),
        (base + "\nbootstrap: { organization: { name: X }, owner: { firstName: Y } }", "bootstrap.owner.email", .missingKey),
        (base + "\nbootstrap: { organization: { name: X, plan: gold }, owner: { email: a@b.c } }", "bootstrap.organization.plan", .invalidValue),
        (base + "\nbootstrap: { organization: { name: X }, owner: { email: not-an-address } }", "bootstrap.owner.email", .invalidValue),
        (base + "\nbootstrap: { organization: { name: \"  \" }, owner: { email: a@b.co } }", "bootstrap.organization.name", .invalidValue),
        (base + "\npipeline: [ { config: {} } ]", "pipeline[0].use", .missingKey),
        (base + "\npipeline: [ { use: probe, confg: {} } ]", "pipeline[0].confg", .unknownKey),
        ("server: { host: 127.0.0.1, plainHTTP: true }\nbackend: { use: fake, config: { path: x } }", "backend.config.path", .unknownKey),
        ("server: [1, 2]\nbackend: { use: fake }", "server", .typeMismatch),
    ]

    @Test(arguments: failures)
    func documentErrorsNameTheKeyPath(yaml: String, path: String, code: ConfigurationError.Code) async {
        let error = await #expect(throws: ConfigurationError.self) { try await build(yaml) }
        #expect(error?.path == path, "\(String(describing: error))")
        #expect(error?.code == code)
    }

    static let pluginFailures: [(String, String, ConfigurationError.Code)] = [
        (
            "pipeline:\n  - use: probe\n    config: { requestsPerSecond: 1, burst: 2 }\n  - use: probe\n    config: { requestsPerSecond: 20, burts: 40 }",
            "pipeline[1].config.burts", .unknownKey
        ),
        ("pipeline:\n  - use: probe\n    config: { requestsPerSecond: 20 }", "pipeline[0].config.burst", .missingKey),
        ("pipeline:\n  - use: probe\n    config: { requestsPerSecond: x, burst: 1 }", "pipeline[0].config.requestsPerSecond", .typeMismatch),
        ("pipeline:\n  - use: probe\n    config: { requestsPerSecond: 5, burst: 1 }", "pipeline[0].config.burst", .invalidValue),
        ("pipeline:\n  - use: rate-limt", "pipeline[0].use", .unknownPlugin),
    ]

    @Test(arguments: pluginFailures)
    func pluginBlocksAreDecodedStrictlyByTheirPlugin(pipeline: String, path: String, code: ConfigurationError.Code) async {
        let error = await #expect(throws: ConfigurationError.self) { try await build(Self.base + "\n" + pipeline) }
        #expect(error?.path == path, "\(String(describing: error))")
        #expect(error?.code == code)
    }

    @Test func theMessageReadsAsPathThenProblem() {
        #expect(ConfigurationError.unknownKey("pipeline[1].config.burts").description == "pipeline[1].config.burts: unknown key")
    }

    @Test func defaultsApplyWhenKeysAreLeftOut() throws {
        let document = try GatewayDocument(
            yaml: "server: { tls: { selfSigned: true } }\nbackend: { use: fake }",
            directory: TemporaryDirectory.make()
        )
        #expect(document.server.host == "0.0.0.0")
        #expect(document.server.port == 8443)
        #expect(document.server.tls?.selfSignedDirectory == "data/tls")
        #expect(document.scim.defaultPageSize == 100)
        #expect(document.bootstrap == nil)
    }

    @Test func stagesAreBuiltInTheOrderTheYAMLListsThem() async throws {
        let gateway = try await build(
            Self.base
                + "\npipeline:\n  - use: probe\n    config: { requestsPerSecond: 1, burst: 1 }\n  - use: probe\n    config: { requestsPerSecond: 2, burst: 2 }"
        )
        let rates = gateway.pipeline.stages.compactMap { ($0 as? ProbeStage)?.configuration.requestsPerSecond }
        #expect(rates == [1, 2])
    }

    @Test func relativePathsResolveAgainstTheConfigDirectory() {
        let directory = URL(fileURLWithPath: "/etc/scim")
        let context = PluginContext.test(directory: directory)
        #expect(context.resolve(path: "data/x.sqlite").path == "/etc/scim/data/x.sqlite")
        #expect(context.resolve(path: "/var/x.sqlite").path == "/var/x.sqlite")
    }
}
