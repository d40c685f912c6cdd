internal import Foundation
public import GatewayCore
public import Hummingbird
internal import Logging

/// The outermost middleware: renders every error as an RFC 7644 §3.12 body with `application/scim+json`.
///
/// ``SCIMError``s render as themselves; Hummingbird's errors (unknown route, body too large) keep their status;
/// anything else is an opaque 500 naming the request id, with the real error logged.
public struct SCIMErrorMiddleware: RouterMiddleware {
    public typealias Context = GatewayRequestContext

    public init() {}

    public func handle(
        _ request: Request,
        context: GatewayRequestContext,
        next: (Request, GatewayRequestContext) async throws -> Response
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as SCIMError {
            return Self.response(for: error)
        } catch let error as HTTPError {
            var scimError = SCIMError(status: error.status, detail: Self.detail(for: error, request: request))
            if error.status == .badRequest { scimError.scimType = .invalidSyntax }
            scimError.headers = error.headers
            return Self.response(for: scimError)
        } catch {
            context.logger.error(
                "request failed",
                metadata: ["error.type": "\(String(reflecting: type(of: error)))", "error.message": "\(error)"]
            )
            return Self.response(for: .internalError(requestID: context.id))
        }
    }

    static func detail(for error: HTTPError, request: Request) -> String {
        switch error.status {
        case .notFound: "no SCIM endpoint at \(request.uri.path)"
        case .contentTooLarge: "the request body is larger than the configured limit"
        case .methodNotAllowed: "\(request.method) is not supported on \(request.uri.path)"
        default: error.body ?? error.status.reasonPhrase
        }
    }

    /// The HTTP response for a SCIM error.
    public static func response(for error: SCIMError) -> Response {
        var headers = error.headers
        headers[.contentType] = SCIMController.mediaType
        return Response(status: error.status, headers: headers, body: .init(byteBuffer: SCIMController.encode(error.body)))
    }
}
