public import SCIMCore

/// The ordered stages of `gateway.yaml`'s `pipeline:` followed by a terminal handler (the ``SCIMDispatcher``).
///
/// ```
/// request ─▶ stage[0] ─▶ stage[1] ─▶ … ─▶ dispatcher ─▶ backend
/// response ◀─ stage[0] ◀─ stage[1] ◀─ … ◀─┘
/// ```
public struct Pipeline: Sendable {
    /// The stages, in the order they see a request.
    public let stages: [any Stage]
    /// The schemas every request is served with.
    public let schemas: SchemaCatalog
    let terminal: @Sendable (SCIMRequest, GatewayContext) async throws -> SCIMResponse

    public init(
        stages: [any Stage],
        schemas: SchemaCatalog = .standard,
        terminal: @escaping @Sendable (SCIMRequest, GatewayContext) async throws -> SCIMResponse
    ) {
        self.stages = stages
        self.schemas = schemas
        self.terminal = terminal
    }

    /// Runs `request` through every stage and the terminal handler.
    public func handle(_ request: SCIMRequest, context: GatewayContext) async throws -> SCIMResponse {
        var context = context
        context.schemas = schemas
        return try await run(from: 0, request, context)
    }

    private func run(from index: Int, _ request: SCIMRequest, _ context: GatewayContext) async throws -> SCIMResponse {
        guard index < stages.count else { return try await terminal(request, context) }
        return try await stages[index].handle(request, context: context) { request, context in
            try await self.run(from: index + 1, request, context)
        }
    }
}
