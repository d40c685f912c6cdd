public import GatewayCore
import Synchronization

/// A backend fake for stage and edge tests: tokens resolve from a table, resource calls are recorded and answered
/// from a small in-memory map of resources by id.
public struct FakeBackend: BackendAdapter {
    /// The `config:` block: nothing to configure.
    public struct Configuration: Codable, Sendable {
        public init() {}
    }

    public static let name: PluginName = "fake"

    /// Token secret → principal.
    public let tokens: [String: Principal]
    private let state: State

    final class State: Sendable {
        let calls = Mutex<[String]>([])
        let resources = Mutex<[String: SCIMResource]>([:])
    }

    public init(configuration: Configuration, context: PluginContext) async throws {
        self.init(tokens: [:])
    }

    public init(tokens: [String: Principal]) {
        self.tokens = tokens
        self.state = State()
    }

    /// The operations that reached the backend (`authenticate`, `create User`, …), in order.
    public var calls: [String] { state.calls.withLock { $0 } }

    private func record(_ call: String) { state.calls.withLock { $0.append(call) } }

    public func authenticate(token: BearerToken, context: GatewayContext) async throws -> Principal {
        record("authenticate")
        guard let principal = tokens[token.secret] else { throw SCIMError.unauthorized("the bearer token is not valid") }
        return principal
    }

    public func checkReadiness() async throws {}

    public func create(_ resource: JSONValue, in type: ResourceType, context: GatewayContext) async throws -> SCIMResource {
        record("create \(type)")
        let id = "fake-\(type.name.lowercased())-\(state.resources.withLock { $0.count + 1 })"
        guard case .object(var body) = resource else { throw SCIMError.invalidSyntax("not an object") }
        body["id"] = .string(id)
        let stored = SCIMResource(id: id, version: "W/\"1\"", body: .object(body))
        state.resources.withLock { $0["\(type)/\(id)"] = stored }
        return stored
    }

    public func get(id: String, in type: ResourceType, projection: Projection, context: GatewayContext) async throws -> SCIMResource {
        record("get \(type)")
        guard let resource = state.resources.withLock({ $0["\(type)/\(id)"] }) else { throw SCIMError.notFound(type, id: id) }
        return resource
    }

    public func replace(
        id: String,
        with resource: JSONValue,
        in type: ResourceType,
        ifMatch: String?,
        context: GatewayContext
    ) async throws
        -> SCIMResource
    {
        record("replace \(type)")
        let stored = SCIMResource(id: id, version: "W/\"2\"", body: resource)
        state.resources.withLock { $0["\(type)/\(id)"] = stored }
        return stored
    }

    public func patch(
        id: String,
        operations: [PatchOperation],
        in type: ResourceType,
        ifMatch: String?,
        context: GatewayContext
    ) async throws
        -> SCIMResource
    {
        record("patch \(type)")
        let current = try await get(id: id, in: type, projection: .all, context: context)
        let patched = try PatchEngine(schemas: context.schemas.schemas(type), coreSchema: type.schema).apply(operations, to: current.body)
        let stored = SCIMResource(id: id, version: "W/\"2\"", body: patched)
        state.resources.withLock { $0["\(type)/\(id)"] = stored }
        return stored
    }

    public func delete(id: String, in type: ResourceType, ifMatch: String?, context: GatewayContext) async throws {
        record("delete \(type)")
        guard state.resources.withLock({ $0.removeValue(forKey: "\(type)/\(id)") }) != nil else { throw SCIMError.notFound(type, id: id) }
    }

    public func search(_ query: SearchQuery, in type: ResourceType, context: GatewayContext) async throws -> SearchResult {
        record("search \(type)")
        return SearchResult(totalResults: 0, resources: [])
    }
}

/// A stage for configuration tests: a typed config with two required keys and no behaviour of its own.
public struct ProbeStage: Stage {
    public struct Configuration: Codable, Sendable, Hashable {
        public var requestsPerSecond: Int
        public var burst: Int
    }

    public static let name: PluginName = "probe"

    public let configuration: Configuration

    public init(configuration: Configuration, context: PluginContext) async throws {
        guard configuration.burst >= configuration.requestsPerSecond else {
            throw ConfigurationError.invalidValue("burst", "must be at least requestsPerSecond")
        }
        self.configuration = configuration
    }

    public func handle(
        _ request: SCIMRequest,
        context: GatewayContext,
        next: (SCIMRequest, GatewayContext) async throws -> SCIMResponse
    ) async throws -> SCIMResponse {
        try await next(request, context)
    }
}
