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
        var request = request
        // What the client sent must say what it is (RFC 7643 §3, RFC 7644 §3.5.2), checked before any stage reshapes
        // it; PATCH operations are parsed here once and every stage and the dispatcher share them.
        switch request.operation {
        case .create(let type), .replace(let type, _):
            if let body = request.body, body.objectValue != nil { try schemas.checkSchemas(of: body, type: type) }
        case .patch:
            guard let body = request.body else { throw SCIMError.invalidSyntax("a PATCH needs a PatchOp body") }
            if request.patchOperations == nil { request.patchOperations = try PatchOperation.operations(fromBody: body) }
        default: break
        }
        return try await run(from: 0, request, context)
    }

    private func run(from index: Int, _ request: SCIMRequest, _ context: GatewayContext) async throws -> SCIMResponse {
        guard index < stages.count else { return try await terminal(request, context) }
        return try await stages[index].handle(request, context: context) { request, context in
            try await self.run(from: index + 1, request, context)
        }
    }
}
