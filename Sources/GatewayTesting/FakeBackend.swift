public import GatewayCore
import Synchronization

/// A backend for stage and edge tests: tokens resolve from a table (so a test needs no organization), and every
/// other call goes to an in-memory directory (``MemoryBackend``).
public struct FakeBackend: BackendAdapter {
    /// The `config:` block: nothing to configure.
    public struct Configuration: Codable, Sendable {
        public init() {}
    }

    public static let name: PluginName = "fake"

    /// Token secret → principal.
    public let tokens: [String: Principal]
    private let directory = MemoryBackend()
    private let lookups = Lookups()

    final class Lookups: Sendable {
        let count = Atomic(0)
    }

    /// How many times ``authenticate(token:context:)`` was called: the token lookups a stage did not spare.
    public var lookupCount: Int { lookups.count.load(ordering: .relaxed) }

    public init(configuration: Configuration, context: PluginContext) async throws {
        self.init(tokens: [:])
    }

    public init(tokens: [String: Principal]) {
        self.tokens = tokens
    }

    public func authenticate(token: BearerToken, context: GatewayContext) async throws -> Principal {
        lookups.count.add(1, ordering: .relaxed)
        guard let principal = tokens[token.secret] else { throw SCIMError.unauthorized("the bearer token is not valid") }
        return principal
    }

    public func checkReadiness() async throws {}

    public func read<T: Sendable>(_ body: (any DirectoryTransaction) async throws -> T) async throws -> T {
        try await directory.read(body)
    }

    public func write<T: Sendable>(_ body: (any DirectoryTransaction) async throws -> T) async throws -> T {
        try await directory.write(body)
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
