public import SCIMCore
public import ServiceLifecycle

/// A stored SCIM resource as a backend returns it: the full JSON representation (with `id` and `meta`) and its version.
public struct SCIMResource: Sendable, Hashable {
    public var id: String
    /// `meta.version`, the weak ETag value (`W/"3"`).
    public var version: String
    /// The full resource, `meta` included.
    public var body: JSONValue

    public init(id: String, version: String, body: JSONValue) {
        self.id = id
        self.version = version
        self.body = body
    }
}

/// A parsed list request, handed to ``BackendAdapter/search(_:in:context:)``.
public struct SearchQuery: Sendable, Hashable {
    public var filter: Filter?
    /// 1-based index of the first result.
    public var startIndex: Int
    /// Page size; 0 asks for `totalResults` only.
    public var count: Int
    public var sortBy: AttributePath?
    public var descending: Bool
    /// What the client will be shown; a backend may skip loading what it leaves out (group members, say).
    public var projection: Projection

    public init(
        filter: Filter? = nil,
        startIndex: Int = 1,
        count: Int = 100,
        sortBy: AttributePath? = nil,
        descending: Bool = false,
        projection: Projection = .all
    ) {
        self.filter = filter
        self.startIndex = startIndex
        self.count = count
        self.sortBy = sortBy
        self.descending = descending
        self.projection = projection
    }
}

/// A page of results from ``BackendAdapter/search(_:in:context:)``.
public struct SearchResult: Sendable, Hashable {
    public var totalResults: Int
    public var resources: [SCIMResource]

    public init(totalResults: Int, resources: [SCIMResource]) {
        self.totalResults = totalResults
        self.resources = resources
    }
}

/// Where provisioned data lives: the embedded SQLite directory, the Fulcrum REST API, PostgreSQL.
///
/// One method per SCIM operation, plus ``authenticate(token:context:)``. Every method other than `authenticate` acts
/// for `context.principal`'s organization and throws ``SCIMError`` 401 when there is no principal. Failures of the
/// store are translated at this boundary, by type: a UNIQUE violation is `.uniqueness` (409), a missing row
/// `.notFound` (404). Objects not managed through SCIM do not exist for these methods.
///
/// ```yaml
/// backend:
///   use: sqlite                  # Self.name
///   config: { path: data/gateway.sqlite }
/// ```
public protocol BackendAdapter: Sendable {
    associatedtype Configuration: Codable & Sendable
    static var name: PluginName { get }
    init(configuration: Configuration, context: PluginContext) async throws
    /// Long-lived resources (connection pools, clients) run by the gateway's service group; closed on shutdown.
    var services: [any Service] { get }

    /// Resolves a bearer token to the organization and Owner member it acts for.
    /// - Throws: ``SCIMError`` 401 for an unknown, revoked or orphaned token.
    func authenticate(token: BearerToken, context: GatewayContext) async throws -> Principal
    /// Answers whether the store can serve requests (for `/readyz`).
    func checkReadiness() async throws
    /// Releases what the backend holds, for commands that run without a service group. Safe to call twice.
    func close() async

    func create(_ resource: JSONValue, in type: ResourceType, context: GatewayContext) async throws -> SCIMResource
    /// Reads one resource; `projection` tells what the client will be shown, so costly attributes can be skipped.
    func get(id: String, in type: ResourceType, projection: Projection, context: GatewayContext) async throws -> SCIMResource
    /// Replaces the resource; `ifMatch` (a `meta.version`) is checked inside the same transaction.
    func replace(
        id: String,
        with resource: JSONValue,
        in type: ResourceType,
        ifMatch: String?,
        context: GatewayContext
    ) async throws
        -> SCIMResource
    /// Applies every operation or none.
    func patch(
        id: String,
        operations: [PatchOperation],
        in type: ResourceType,
        ifMatch: String?,
        context: GatewayContext
    ) async throws
        -> SCIMResource
    func delete(id: String, in type: ResourceType, ifMatch: String?, context: GatewayContext) async throws
    func search(_ query: SearchQuery, in type: ResourceType, context: GatewayContext) async throws -> SearchResult
}

extension BackendAdapter {
    public var services: [any Service] { [] }
    public func close() async {}
}
