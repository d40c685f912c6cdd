internal import Foundation
public import SCIMCore

/// The end of the pipeline: answers discovery calls itself and sends resource calls to the ``ResourceService`` over
/// the backend, with the HTTP-level rules every backend shares (paging limits, projection, status codes).
public struct SCIMDispatcher: Sendable {
    public let service: ResourceService
    public let configuration: SCIMConfiguration
    public let discovery: Discovery

    public init(backend: any BackendAdapter, configuration: SCIMConfiguration, discovery: Discovery) {
        self.service = ResourceService(backend: backend, scans: ScanLimit(perOrganization: configuration.maxConcurrentScans))
        self.configuration = configuration
        self.discovery = discovery
    }

    /// Handles a call that has passed every stage.
    public func handle(_ request: SCIMRequest, context: GatewayContext) async throws -> SCIMResponse {
        switch request.operation {
        case .serviceProviderConfig:
            return .ok(discovery.serviceProviderConfig(baseURL: context.baseURL))
        case .resourceTypes(let id):
            return .ok(try discovery.resourceTypes(id: id, baseURL: context.baseURL))
        case .schemas(let id):
            return .ok(try discovery.schemas(id: id, baseURL: context.baseURL))
        case .create(let type):
            let body = try Self.requireObject(request.body)
            let created = try await service.create(body, in: type, context: context)
            var response = try render(created, type: type, query: request.query, status: 201)
            response.location = "\(context.baseURL)\(type.endpoint)/\(created.id)"
            return response
        case .get(let type, let id):
            let projection = try Projection(attributes: request.query.attributes, excludedAttributes: request.query.excludedAttributes)
            let resource = try await service.get(id: id, in: type, projection: projection, context: context)
            if let ifNoneMatch = request.ifNoneMatch, ETag.matches(ifNoneMatch, version: resource.version) {
                return SCIMResponse(status: 304, body: nil, version: resource.version)
            }
            return try render(resource, type: type, query: request.query, status: 200)
        case .search(let type):
            return try await search(request, type: type, context: context)
        case .replace(let type, let id):
            let body = try Self.requireObject(request.body)
            let replaced = try await service.replace(id: id, with: body, in: type, ifMatch: request.ifMatch, context: context)
            return try render(replaced, type: type, query: request.query, status: 200)
        case .patch(let type, let id):
            // The pipeline parsed them (and the validation stage may have dropped some).
            guard let operations = request.patchOperations else { throw SCIMError.invalidSyntax("a PATCH needs a PatchOp body") }
            let patched = try await service.patch(id: id, operations: operations, in: type, ifMatch: request.ifMatch, context: context)
            // Groups answer 204 (Entra expects it) unless the client asked for a body through attributes/excludedAttributes.
            if type == .group, request.query.attributes.isEmpty, request.query.excludedAttributes.isEmpty {
                return SCIMResponse(status: 204, body: nil, version: patched.version)
            }
            return try render(patched, type: type, query: request.query, status: 200)
        case .delete(let type, let id):
            try await service.delete(id: id, in: type, ifMatch: request.ifMatch, context: context)
            return .noContent
        }
    }

    func render(_ resource: SCIMResource, type: ResourceType, query: QueryParameters, status: Int) throws -> SCIMResponse {
        let projection = try Projection(attributes: query.attributes, excludedAttributes: query.excludedAttributes)
        return SCIMResponse(status: status, body: projection.apply(to: resource.body, coreSchema: type.schema), version: resource.version)
    }

    static func requireObject(_ body: JSONValue?) throws -> JSONValue {
        guard let body, body.objectValue != nil else { throw SCIMError.invalidSyntax("the request body must be a JSON object") }
        return body
    }

    /// Builds the backend query from list parameters, with the configured page limits.
    public func searchQuery(from parameters: QueryParameters) throws -> SearchQuery {
        var query = SearchQuery()
        if let text = parameters.filter, !text.trimmingCharacters(in: .whitespaces).isEmpty {
            query.filter = try Filter(parsing: text)
        }
        query.startIndex = max(1, parameters.startIndex ?? 1)
        query.count = min(max(0, parameters.count ?? configuration.defaultPageSize), configuration.maxPageSize)
        if let sortBy = parameters.sortBy, !sortBy.isEmpty {
            query.sortBy = try AttributePath(parsing: sortBy)
        }
        query.projection = try Projection(attributes: parameters.attributes, excludedAttributes: parameters.excludedAttributes)
        switch parameters.sortOrder?.lowercased() {
        case nil, "", "ascending": query.descending = false
        case "descending": query.descending = true
        default: throw SCIMError.invalidValue("sortOrder must be 'ascending' or 'descending'")
        }
        return query
    }

    func search(_ request: SCIMRequest, type: ResourceType?, context: GatewayContext) async throws -> SCIMResponse {
        var query = try searchQuery(from: request.query)
        let projection = query.projection
        let types = type.map { [$0] } ?? ResourceType.all
        query.acrossTypes = types.count > 1
        var total = 0
        var page: [JSONValue] = []
        // Across several types (a root search), pages run over the types in order.
        var skip = query.startIndex - 1
        var remaining = query.count
        for type in types {
            var typeQuery = query
            typeQuery.startIndex = skip + 1
            typeQuery.count = remaining
            let result = try await service.search(typeQuery, in: type, context: context)
            total += result.totalResults
            page += result.resources.map { projection.apply(to: $0.body, coreSchema: type.schema) }
            remaining -= result.resources.count
            skip = max(0, skip - result.totalResults)
        }
        return .ok(ListResponse(totalResults: total, startIndex: query.startIndex, resources: page).body)
    }
}

/// Weak entity tags over `meta.version`.
public enum ETag {
    /// `true` when an `If-Match`/`If-None-Match` header value names `version` (or is `*`).
    public static func matches(_ header: String, version: String) -> Bool {
        let wanted = normalize(version)
        return header.split(separator: ",").contains { candidate in
            let trimmed = candidate.trimmingCharacters(in: .whitespaces)
            return trimmed == "*" || normalize(trimmed) == wanted
        }
    }

    /// Strips the weak marker and quotes: `W/"3"` → `3`.
    public static func normalize(_ tag: String) -> String {
        var text = Substring(tag)
        if text.hasPrefix("W/") { text = text.dropFirst(2) }
        return String(text).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
    }
}
