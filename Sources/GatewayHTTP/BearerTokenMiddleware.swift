internal import Foundation
public import GatewayCore
public import Hummingbird

/// Extracts the bearer token; resolving it is the `authentication` stage's job. Never logs it.
public struct BearerTokenMiddleware: RouterMiddleware {
    public typealias Context = GatewayRequestContext

    public init() {}

    public func handle(
        _ request: Request,
        context: GatewayRequestContext,
        next: (Request, GatewayRequestContext) async throws -> Response
    ) async throws -> Response {
        var context = context
        if let header = request.headers[.authorization] {
            let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
            if parts.count == 2, parts[0].lowercased() == "bearer" {
                context.bearerToken = BearerToken(parts[1].trimmingCharacters(in: .whitespaces))
            } else {
                context.bearerToken = BearerToken("")
            }
        }
        return try await next(request, context)
    }
}
