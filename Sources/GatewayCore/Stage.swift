public import SCIMCore

/// A pipeline stage: a plugin that sees every SCIM call on its way to the backend and every answer on its way back.
///
/// Stages run in the order `gateway.yaml` lists them under `pipeline:`; answers return through them in reverse.
/// A stage may:
/// - rewrite the request or context and call `next`;
/// - post-process the response `next` returns;
/// - answer or throw a ``SCIMError`` without calling `next` (short-circuit).
///
/// Construction does all parsing and validation of the stage's configuration and throws ``ConfigurationError``;
/// ``handle(_:context:next:)`` never throws configuration errors.
///
/// ```yaml
/// pipeline:
///   - use: rate-limit          # Self.name
///     config: { requestsPerSecond: 50 }   # decoded strictly into Self.Configuration
/// ```
public protocol Stage: Sendable {
    /// The typed view of this stage's `config:` block.
    associatedtype Configuration: Codable & Sendable
    /// The value after `use:` in `gateway.yaml`.
    static var name: PluginName { get }
    /// Builds the stage from its validated configuration.
    init(configuration: Configuration, context: PluginContext) async throws
    /// Handles one call. `next` runs the rest of the pipeline and the backend.
    func handle(
        _ request: SCIMRequest,
        context: GatewayContext,
        next: (SCIMRequest, GatewayContext) async throws -> SCIMResponse
    ) async throws -> SCIMResponse
}
