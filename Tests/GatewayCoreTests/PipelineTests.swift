import GatewayCore
import GatewayTesting
import Synchronization
import Testing

/// A stage that notes its name on the way in and on the way out.
struct TracingStage: Stage {
    struct Configuration: Codable, Sendable {}
    static let name: PluginName = "tracing"
    let label: String
    let trace: Trace

    final class Trace: Sendable {
        let events = Mutex<[String]>([])
    }

    init(configuration: Configuration, context: PluginContext) async throws {
        self.label = "t"
        self.trace = Trace()
    }

    init(label: String, trace: Trace) {
        self.label = label
        self.trace = trace
    }

    func handle(
        _ request: SCIMRequest,
        context: GatewayContext,
        next: (SCIMRequest, GatewayContext) async throws -> SCIMResponse
    ) async throws -> SCIMResponse {
        trace.events.withLock { $0.append("in \(label)") }
        let response = try await next(request, context)
        trace.events.withLock { $0.append("out \(label)") }
        return response
    }
}

@Suite struct PipelineTests {
    @Test func stagesRunInOrderAndResponsesComeBackInReverse() async throws {
        let trace = TracingStage.Trace()
        let pipeline = Pipeline(stages: [TracingStage(label: "a", trace: trace), TracingStage(label: "b", trace: trace)]) { _, _ in
            trace.events.withLock { $0.append("backend") }
            return .noContent
        }
        let response = try await pipeline.handle(SCIMRequest(operation: .serviceProviderConfig), context: .test())
        #expect(response.status == 204)
        #expect(trace.events.withLock { $0 } == ["in a", "in b", "backend", "out b", "out a"])
    }

    @Test func dispatcherClampsPagingToTheConfiguredLimits() throws {
        var configuration = SCIMConfiguration()
        configuration.maxPageSize = 50
        let dispatcher = SCIMDispatcher(
            backend: FakeBackend(tokens: [:]),
            configuration: configuration,
            discovery: Discovery(features: .init(patch: true, filter: true, sort: true, etag: true), maxResults: 50)
        )
        let query = try dispatcher.searchQuery(from: QueryParameters(startIndex: -3, count: 500))
        #expect(query.startIndex == 1)
        #expect(query.count == 50)
        #expect(try dispatcher.searchQuery(from: QueryParameters()).count == 50)
        #expect(try dispatcher.searchQuery(from: QueryParameters(count: 0)).count == 0)
    }
}
