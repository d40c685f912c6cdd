internal import Foundation
public import GatewayCore
public import Hummingbird
internal import Logging
internal import NIOCore

/// The SCIM edge: routes `/scim/v2/…`, decodes each call into a typed ``SCIMRequest``, runs the ``Pipeline`` and
/// encodes the ``SCIMResponse`` once, as `application/scim+json`.
public struct SCIMController: Sendable {
    /// The media type of every SCIM response.
    public static let mediaType = "application/scim+json"
    /// The base path of the SCIM endpoints.
    public static let basePath = "/scim/v2"

    let pipeline: Pipeline
    let server: ListenerConfiguration

    public init(pipeline: Pipeline, server: ListenerConfiguration) {
        self.pipeline = pipeline
        self.server = server
    }

    static let methods: [HTTPRequest.Method] = [.get, .post, .put, .patch, .delete, .head, .options]

    /// Registers the SCIM routes; every method reaches ``respond(to:context:)`` so that a wrong one is a SCIM 405.
    public func addRoutes(to router: Router<GatewayRequestContext>) {
        for method in Self.methods {
            router.on(RouterPath(Self.basePath), method: method) { request, context in try await self.respond(to: request, context: context) }
            router.on(RouterPath(Self.basePath + "/**"), method: method) { request, context in
                try await self.respond(to: request, context: context)
            }
        }
    }

    /// Handles one SCIM call.
    public func respond(to request: Request, context: GatewayRequestContext) async throws -> Response {
        // RFC 9112 §3.2: a request without Host is refused (HTTP/2's :authority arrives as the same field).
        guard let authority = request.head.authority, !authority.isEmpty else {
            throw SCIMError.invalidSyntax("the request has no Host header")
        }
        let path = request.uri.path
        let segments = path.dropFirst(Self.basePath.count).split(separator: "/").map(String.init)
        let operation = try Self.operation(method: request.method, segments: segments, path: path)
        var scimRequest = SCIMRequest(operation: operation, query: try Self.queryParameters(Self.formDecoded(request.uri.query)))
        scimRequest.bearerToken = context.bearerToken
        scimRequest.ifMatch = request.headers[.ifMatch]
        scimRequest.ifNoneMatch = request.headers[.ifNoneMatch]
        if [.post, .put, .patch].contains(request.method) {
            (scimRequest.body, scimRequest.bodySize) = try await decodeBody(request, context: context)
            if case .search = operation, let body = scimRequest.body {
                scimRequest.query = try Self.searchParameters(body)
            }
        }
        var logger = context.logger
        logger[metadataKey: "scim.operation"] = .string(operation.label)
        if let type = operation.resourceType { logger[metadataKey: "scim.resource_type"] = .string(type.name) }
        var gatewayContext = GatewayContext(requestID: context.id, logger: logger, baseURL: baseURL(local: context.localAddress))
        gatewayContext.clientAddress = context.remoteAddress?.ipAddress
        let response = try await pipeline.handle(scimRequest, context: gatewayContext)
        var headers = HTTPFields()
        if let version = response.version { headers[.eTag] = version }
        if let location = response.location { headers[.location] = location }
        guard let body = response.body else {
            return Response(status: .init(code: response.status), headers: headers)
        }
        headers[.contentType] = Self.mediaType
        return Response(status: .init(code: response.status), headers: headers, body: .init(byteBuffer: Self.encode(body)))
    }

    /// The absolute SCIM base URL for `meta.location`, `Location` and every `$ref`, from configuration only, never
    /// from the request's `Host` (a client could make the gateway print URLs of its choosing): `publicURL`, else the
    /// configured host and port. A wildcard host (`0.0.0.0`, `::`) or port `0` is completed from the address the
    /// connection arrived on, which the listener, not the client, decides.
    func baseURL(local: SocketAddress?) -> String {
        if let publicURL = server.publicURL {
            return publicURL.hasSuffix("/") ? String(publicURL.dropLast()) + Self.basePath : publicURL + Self.basePath
        }
        let scheme = server.tls == nil ? "http" : "https"
        var host = server.host
        if host == "0.0.0.0" || host == "::" || host.isEmpty { host = local?.ipAddress ?? "localhost" }
        if host.contains(":") { host = "[\(host)]" }
        let port = server.port == 0 ? (local?.port ?? 0) : server.port
        return "\(scheme)://\(host):\(port)\(Self.basePath)"
    }

    /// Maps method and path to an operation, or a SCIM 404/405/501.
    static func operation(method: HTTPRequest.Method, segments: [String], path: String) throws -> SCIMRequest.Operation {
        func only(_ allowed: HTTPRequest.Method...) throws {
            guard allowed.contains(method) else { throw SCIMError.methodNotAllowed(method.rawValue, path: path) }
        }
        switch segments.count {
        case 0:
            throw SCIMError.unknownEndpoint(path)
        case 1:
            switch segments[0] {
            case "ServiceProviderConfig", "ServiceProviderConfigs":
                try only(.get)
                return .serviceProviderConfig
            case "Schemas":
                try only(.get)
                return .schemas(id: nil)
            case "ResourceTypes":
                try only(.get)
                return .resourceTypes(id: nil)
            case ".search":
                try only(.post)
                return .search(nil)
            case "Me":
                throw SCIMError.notImplemented("/Me is not supported: a bearer token acts for an organization, not for a user")
            case "Bulk":
                throw SCIMError.notImplemented("bulk operations are not supported")
            default:
                guard let type = ResourceType(endpointSegment: segments[0]) else { throw SCIMError.unknownEndpoint(path) }
                try only(.get, .post)
                return method == .get ? .search(type) : .create(type)
            }
        case 2:
            switch segments[0] {
            case "Schemas":
                try only(.get)
                return .schemas(id: segments[1].removingPercentEncoding ?? segments[1])
            case "ResourceTypes":
                try only(.get)
                return .resourceTypes(id: segments[1])
            case "Me":
                throw SCIMError.notImplemented("/Me is not supported: a bearer token acts for an organization, not for a user")
            default:
                guard let type = ResourceType(endpointSegment: segments[0]) else { throw SCIMError.unknownEndpoint(path) }
                let id = segments[1]
                if id == ".search" {
                    try only(.post)
                    return .search(type)
                }
                try only(.get, .put, .patch, .delete)
                switch method {
                case .get: return .get(type, id: id)
                case .put: return .replace(type, id: id)
                case .patch: return .patch(type, id: id)
                default: return .delete(type, id: id)
                }
            }
        default:
            throw SCIMError.unknownEndpoint(path)
        }
    }

    static func list(_ value: Substring?) -> [String] {
        guard let value else { return [] }
        return value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    static func integer(_ value: Substring?, name: String) throws -> Int? {
        guard let value, !value.isEmpty else { return nil }
        guard let number = Int(value) else { throw SCIMError.invalidValue("\(name) must be an integer, not '\(value)'") }
        return number
    }

    /// Decodes a query string as a form: `+` is a space (Entra sends `filter=userName+eq+%22…%22`), then percent-decoding.
    /// The first occurrence of a name wins.
    static func formDecoded(_ query: String?) -> [String: Substring] {
        var result: [String: Substring] = [:]
        for pair in (query ?? "").split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ text: Substring) -> String {
                let spaced = text.replacingOccurrences(of: "+", with: " ")
                return spaced.removingPercentEncoding ?? spaced
            }
            let name = decode(parts[0])
            if result[name] == nil { result[name] = Substring(parts.count > 1 ? decode(parts[1]) : "") }
        }
        return result
    }

    /// Query parameters of RFC 7644 §3.4.2 and §3.9; unknown ones are ignored.
    static func queryParameters(_ query: [String: Substring]) throws -> QueryParameters {
        QueryParameters(
            filter: query["filter"].map(String.init),
            attributes: list(query["attributes"]),
            excludedAttributes: list(query["excludedAttributes"]),
            startIndex: try integer(query["startIndex"], name: "startIndex"),
            count: try integer(query["count"], name: "count"),
            sortBy: query["sortBy"].map(String.init),
            sortOrder: query["sortOrder"].map(String.init)
        )
    }

    /// The parameters of a `POST /.search` body (RFC 7644 §3.4.3).
    static func searchParameters(_ body: JSONValue) throws -> QueryParameters {
        func strings(_ name: String) throws -> [String] {
            guard let value = body[attribute: name], !value.isNull else { return [] }
            if let text = value.stringValue { return list(Substring(text)) }
            guard let array = value.arrayValue else { throw SCIMError.invalidValue("\(name) must be a list of attribute paths") }
            return try array.map { element in
                guard let text = element.stringValue else { throw SCIMError.invalidValue("\(name) must be a list of attribute paths") }
                return text
            }
        }
        func int(_ name: String) throws -> Int? {
            guard let value = body[attribute: name], !value.isNull else { return nil }
            guard let number = value.intValue else { throw SCIMError.invalidValue("\(name) must be an integer") }
            return number
        }
        func string(_ name: String) throws -> String? {
            guard let value = body[attribute: name], !value.isNull else { return nil }
            guard let text = value.stringValue else { throw SCIMError.invalidValue("\(name) must be a string") }
            return text
        }
        return QueryParameters(
            filter: try string("filter"),
            attributes: try strings("attributes"),
            excludedAttributes: try strings("excludedAttributes"),
            startIndex: try int("startIndex"),
            count: try int("count"),
            sortBy: try string("sortBy"),
            sortOrder: try string("sortOrder")
        )
    }

    /// The media types a body may be sent as (RFC 7644 §3.1 and §8.1); parameters such as `charset` are allowed.
    static let acceptedMediaTypes: Set<String> = ["application/scim+json", "application/json"]

    /// `true` when a `Content-Type` value names one of ``acceptedMediaTypes``.
    static func isAccepted(contentType: String?) -> Bool {
        guard let contentType else { return false }
        let mediaType = contentType.split(separator: ";", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        return acceptedMediaTypes.contains(mediaType)
    }

    /// Reads the body: `application/scim+json` or `application/json` (else 415), strict JSON (else 400
    /// `invalidSyntax`), and a body the HTTP parser could not read (a malformed chunk, say) is 400, not 500.
    func decodeBody(_ request: Request, context: GatewayRequestContext) async throws -> (JSONValue?, Int) {
        var buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: server.maxBodyBytes)
        } catch is NIOTooManyBytesError {
            throw SCIMError(status: .contentTooLarge, detail: "the request body is larger than \(server.maxBodyBytes) bytes")
        } catch {
            throw SCIMError.invalidSyntax("the request body could not be read: \(error)")
        }
        guard buffer.readableBytes > 0, let bytes = buffer.readBytes(length: buffer.readableBytes) else { return (nil, 0) }
        guard Self.isAccepted(contentType: request.headers[.contentType]) else {
            throw SCIMError(
                status: .unsupportedMediaType,
                detail:
                    "send the body as application/scim+json (or application/json), not \(request.headers[.contentType] ?? "without a Content-Type")"
            )
        }
        do {
            return (try JSONValue(parsing: bytes, caseInsensitiveKeys: true), bytes.count)
        } catch {
            throw SCIMError.invalidSyntax("the request body is not valid JSON: \(error)")
        }
    }

    static func encode(_ value: JSONValue) -> ByteBuffer {
        ByteBuffer(bytes: value.serialized())
    }
}
