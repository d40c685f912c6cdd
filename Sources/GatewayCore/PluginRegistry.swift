internal import Logging

/// The plugins compiled into an executable, by name. A value built in `main` (and by tests, with fakes): nothing
/// registers itself.
public struct PluginRegistry {
    typealias StageFactory = (ConfigBlock, PluginContext) async throws -> any Stage
    typealias BackendFactory = (ConfigBlock, PluginContext) async throws -> any BackendAdapter

    private var stageFactories: [PluginName: StageFactory] = [:]
    private var backendFactories: [PluginName: BackendFactory] = [:]

    public init() {}

    /// Adds a stage type. A duplicate name is a programmer error.
    public mutating func register<S: Stage>(_ type: S.Type) {
        precondition(stageFactories[S.name] == nil && backendFactories[S.name] == nil, "plugin \(S.name) registered twice")
        stageFactories[S.name] = { block, context in
            try await S(configuration: try block.decode(S.Configuration.self), context: context)
        }
    }

    /// Adds a backend type. A duplicate name is a programmer error.
    public mutating func register<B: BackendAdapter>(_ type: B.Type) {
        precondition(stageFactories[B.name] == nil && backendFactories[B.name] == nil, "plugin \(B.name) registered twice")
        backendFactories[B.name] = { block, context in
            try await B(configuration: try block.decode(B.Configuration.self), context: context)
        }
    }

    /// The registered stage names, sorted.
    public var stageNames: [PluginName] { stageFactories.keys.sorted { $0.rawValue < $1.rawValue } }
    /// The registered backend names, sorted.
    public var backendNames: [PluginName] { backendFactories.keys.sorted { $0.rawValue < $1.rawValue } }

    /// Builds the backend named by `reference`.
    public func makeBackend(_ reference: PluginReference, context: PluginContext) async throws -> any BackendAdapter {
        guard let factory = backendFactories[reference.name] else {
            throw ConfigurationError(
                .unknownPlugin,
                path: reference.usePath,
                message: "no backend named '\(reference.name)' (known: \(backendNames.map(\.rawValue).joined(separator: ", ")))"
            )
        }
        return try await Self.withPath(reference) { try await factory(reference.config, context) }
    }

    /// Builds the stages, in order.
    public func makeStages(_ references: [PluginReference], context: PluginContext) async throws -> [any Stage] {
        var stages: [any Stage] = []
        for reference in references {
            guard let factory = stageFactories[reference.name] else {
                throw ConfigurationError(
                    .unknownPlugin,
                    path: reference.usePath,
                    message: "no stage named '\(reference.name)' (known: \(stageNames.map(\.rawValue).joined(separator: ", ")))"
                )
            }
            var stageContext = context
            stageContext.logger[metadataKey: "gateway.plugin"] = .string(reference.name.rawValue)
            stages.append(try await Self.withPath(reference) { try await factory(reference.config, stageContext) })
        }
        return stages
    }

    /// A plugin's own validation throws errors relative to its `config:`; prefix them with the block's path.
    private static func withPath<T>(_ reference: PluginReference, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as ConfigurationError where !error.path.hasPrefix(reference.config.path) {
            throw ConfigurationError(error.code, path: ConfigBlock.join(reference.config.path, error.path), message: error.message)
        }
    }
}
