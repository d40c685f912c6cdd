public import GatewayCore
public import Hummingbird

/// The per-request context of the HTTP edge: Hummingbird's core storage plus the bearer token the
/// ``BearerTokenMiddleware`` extracted.
public struct GatewayRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The token from `Authorization: Bearer …`; a non-Bearer scheme leaves an empty (malformed) token.
    public var bearerToken: BearerToken?

    public init(source: Source) {
        self.coreContext = .init(source: source)
    }
}
