import GatewayCore
import GatewayTesting
import Logging
import RateLimitStage
import Synchronization
import Testing

/// A hand-driven clock in seconds.
final class ManualClock: Sendable {
    private let seconds = Mutex(0.0)
    func advance(by delta: Double) { seconds.withLock { $0 += delta } }
    var now: Double { seconds.withLock { $0 } }
}

@Suite struct RateLimitStageTests {
    func stage(_ yaml: String = "", clock: ManualClock) throws -> RateLimitStage {
        let configuration = try ConfigBlock(yaml: yaml, path: "pipeline[1].config").decode(RateLimitStage.Configuration.self)
        return try RateLimitStage(configuration: configuration, context: .test()) { clock.now }
    }

    func context(organization: String = "org-1", token: String = "token-1") -> GatewayContext {
        var principal = Principal.test(organizationID: organization)
        principal.tokenID = token
        return .test(principal: principal)
    }

    @Test func overTheLimitIs429WithRetryAfterAndTheBackendSeesNothing() async throws {
        let clock = ManualClock()
        let stage = try stage("perToken: { requestsPerSecond: 2, burst: 3 }", clock: clock)
        let next = RecordingNext()
        for _ in 0..<3 { _ = try await stage.handle(SCIMRequest(operation: .search(.user)), context: context(), next: next.callAsFunction) }
        let error = await #expect(throws: SCIMError.self) {
            try await stage.handle(SCIMRequest(operation: .create(.user)), context: context(), next: next.callAsFunction)
        }
        #expect(error?.status == .tooManyRequests)
        #expect(error?.scimType == nil)
        #expect(error?.headers[.retryAfter] == "1")
        #expect(error?.detail.contains("token") == true)
        #expect(next.recorded.count == 3)
        // Another token of another organization is not affected; after half a second this one may go again.
        _ = try await stage.handle(
            SCIMRequest(operation: .search(.user)),
            context: context(organization: "org-2", token: "t-2"),
            next: next.callAsFunction
        )
        clock.advance(by: 0.5)
        _ = try await stage.handle(SCIMRequest(operation: .search(.user)), context: context(), next: next.callAsFunction)
        #expect(next.recorded.count == 5)
    }

    @Test func retryAfterIsWholeSecondsRoundedUp() async throws {
        let clock = ManualClock()
        let stage = try stage("perOrganization: { requestsPerSecond: 0.2, burst: 1 }", clock: clock)
        let next = RecordingNext()
        _ = try await stage.handle(SCIMRequest(operation: .search(.user)), context: context(), next: next.callAsFunction)
        clock.advance(by: 0.1)
        let error = await #expect(throws: SCIMError.self) {
            try await stage.handle(SCIMRequest(operation: .search(.user)), context: context(token: "other"), next: next.callAsFunction)
        }
        #expect(error?.headers[.retryAfter] == "5")
        #expect(error?.detail.contains("organization") == true)
    }

    @Test func fiftyRequestsPerSecondFromOneEntraTenantPassWithTheDefaults() async throws {
        let clock = ManualClock()
        let stage = try stage(clock: clock)
        let next = RecordingNext()
        // Ten seconds at 50 requests/s, evenly spaced, after an initial burst of 50.
        for _ in 0..<50 { _ = try await stage.handle(SCIMRequest(operation: .search(.user)), context: context(), next: next.callAsFunction) }
        for _ in 0..<500 {
            clock.advance(by: 0.02)
            _ = try await stage.handle(SCIMRequest(operation: .patch(.group, id: "g")), context: context(), next: next.callAsFunction)
        }
        #expect(next.recorded.count == 550)
    }

    @Test func perOrganizationOverridesApply() async throws {
        let clock = ManualClock()
        let stage = try stage("organizations: { big: { requestsPerSecond: 1, burst: 1 } }", clock: clock)
        let next = RecordingNext()
        _ = try await stage.handle(SCIMRequest(operation: .search(.user)), context: context(organization: "big"), next: next.callAsFunction)
        await #expect(throws: SCIMError.self) {
            try await stage.handle(SCIMRequest(operation: .search(.user)), context: context(organization: "big"), next: next.callAsFunction)
        }
        _ = try await stage.handle(SCIMRequest(operation: .search(.user)), context: context(organization: "small"), next: next.callAsFunction)
    }

    @Test func memoryStaysFlatWithManyDistinctTokens() {
        let store = InMemoryRateLimitStore(idleSeconds: 10)
        let limit = RateLimitStage.Limit(requestsPerSecond: 50, burst: 100)
        var peak = 0
        // 200,000 distinct tokens over 100 simulated seconds, 2,000 a second.
        for index in 0..<200_000 {
            _ = store.take([RateLimitKey(scope: "token", id: "t\(index)", limit: limit)], at: Double(index) / 2_000)
            peak = max(peak, store.count)
        }
        // At most two generations of 10 s each: 40,000 buckets, not 200,000.
        #expect(peak <= 40_001)
    }

    /// (yaml, key path)
    static let invalid: [(String, String)] = [
        ("perToken: { requestsPerSecond: 0, burst: 1 }", "pipeline[1].config.perToken.requestsPerSecond"),
        ("global: { requestsPerSecond: 5, burst: 0 }", "pipeline[1].config.global.burst"),
        ("perToken: { requestsPerSecond: 5, burts: 10 }", "pipeline[1].config.perToken.burts"),
        ("idleSeconds: -1", "pipeline[1].config.idleSeconds"),
        ("perTokens: {}", "pipeline[1].config.perTokens"),
    ]

    @Test(arguments: invalid)
    func badConfigurationNamesTheKeyPath(yaml: String, path: String) async throws {
        let document = """
            server: { host: 127.0.0.1, plainHTTP: true }
            backend: { use: fake }
            pipeline:
              - use: probe
                config: { requestsPerSecond: 1, burst: 1 }
              - use: rate-limit
                config: { \(yaml) }
            """
        var registry = PluginRegistry()
        registry.register(FakeBackend.self)
        registry.register(RateLimitStage.self)
        registry.register(ProbeStage.self)
        let parsed = try GatewayDocument(yaml: document, directory: TemporaryDirectory.make())
        let error = await #expect(throws: ConfigurationError.self) {
            try await AssembledGateway.build(
                parsed,
                registry: registry,
                logger: .init(label: "t"),
                metricsFactory: PluginContext.test().metricsFactory
            )
        }
        #expect(error?.path == path, "\(String(describing: error))")
    }
}
