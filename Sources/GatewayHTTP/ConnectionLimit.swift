internal import NIOCore
import Synchronization

/// At most `maximum` connections at once: a connection over the limit is closed as soon as it opens, so a flood of
/// idle sockets cannot exhaust the process's file descriptors or memory (together with the idle timeout, which ends
/// the ones that do get in).
final class ConnectionLimit: Sendable {
    let maximum: Int
    private let open = Atomic(0)

    init(maximum: Int) {
        self.maximum = maximum
    }

    /// Connections open now.
    var count: Int { open.load(ordering: .relaxed) }

    /// The handler each connection carries; it holds one slot from when it is added until the channel goes away.
    func slot() -> Slot { Slot(limit: self) }

    final class Slot: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = NIOAny

        let limit: ConnectionLimit
        var held = false

        init(limit: ConnectionLimit) {
            self.limit = limit
        }

        func handlerAdded(context: ChannelHandlerContext) {
            let now = limit.open.wrappingAdd(1, ordering: .relaxed).newValue
            held = true
            if now > limit.maximum {
                release()
                context.close(promise: nil)
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            release()
            context.fireChannelInactive()
        }

        func handlerRemoved(context: ChannelHandlerContext) {
            release()
        }

        private func release() {
            guard held else { return }
            held = false
            limit.open.wrappingSubtract(1, ordering: .relaxed)
        }
    }
}
