public import Foundation
public import GatewayCore
public import Logging
public import Metrics

extension PluginContext {
    /// A context for tests: a quiet logger, no-op metrics (or the given factory), and a fresh temporary directory.
    public static func test(
        directory: URL = TemporaryDirectory.make(),
        metricsFactory: any MetricsFactory = NOOPMetricsHandler.instance,
        backend: (any BackendAdapter)? = nil
    ) -> PluginContext {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return PluginContext(logger: logger, metricsFactory: metricsFactory, configurationDirectory: directory, backend: backend)
    }
}

extension GatewayContext {
    /// A request context for stage and backend tests.
    public static func test(principal: Principal? = nil, baseURL: String = "https://scim.test/scim/v2") -> GatewayContext {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return GatewayContext(requestID: "test-request", principal: principal, logger: logger, baseURL: baseURL)
    }
}

extension Principal {
    /// An Owner of an Enterprise organization with SSO and the Developer Pack.
    public static func test(organizationID: String = "org-1", features: PlanFeatures = .scimReady) -> Principal {
        Principal(
            organizationID: organizationID,
            organizationName: "Test Org",
            memberID: "owner-1",
            role: .owner,
            features: features,
            tokenID: "token-1"
        )
    }
}

extension PlanFeatures {
    /// Everything SCIM needs.
    public static let scimReady = PlanFeatures(plan: .enterprise, sso: true, developerPack: true)
}

/// Unique temporary directories, one per test, so tests run in parallel without sharing files.
public enum TemporaryDirectory {
    public static func make() -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("scim-gateway-tests-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}
