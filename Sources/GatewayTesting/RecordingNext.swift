public import GatewayCore
import Synchronization

/// A `next` for stage tests: records what reached it and answers with a fixed response.
public final class RecordingNext: Sendable {
    private let calls = Mutex<[(SCIMRequest, GatewayContext)]>([])
    private let response: SCIMResponse

    public init(response: SCIMResponse = .ok(["ok": true])) {
        self.response = response
    }

    /// The calls that reached `next`, in order.
    public var recorded: [(request: SCIMRequest, context: GatewayContext)] {
        calls.withLock { $0.map { (request: $0.0, context: $0.1) } }
    }

    public func callAsFunction(_ request: SCIMRequest, _ context: GatewayContext) async throws -> SCIMResponse {
        calls.withLock { $0.append((request, context)) }
        return response
    }
}
