public import GatewayCore
public import Hummingbird
public import NIOCore

/// The per-request context of the HTTP edge: Hummingbird's core storage plus the bearer token the
/// ``BearerTokenMiddleware`` extracted.
public struct GatewayRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The token from `Authorization: Bearer …`; a non-Bearer scheme leaves an empty (malformed) token.
    public var bearerToken: BearerToken?

    /// The connection's own address (the listener side): never chosen by the client.
    public var localAddress: SocketAddress?
    /// The peer's address.
    public var remoteAddress: SocketAddress?

    public init(source: Source) {
        self.coreContext = .init(source: source)
        self.localAddress = source.channel.localAddress
        self.remoteAddress = source.channel.remoteAddress
    }
}
