public import SCIMCore
public import ServiceLifecycle

/// A stored SCIM resource as the ``ResourceService`` renders it: the full JSON representation (with `id` and `meta`)
/// and its version.
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

/// A parsed list request.
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
    /// Part of a search across types (`POST /.search`): an attribute this type does not have matches nothing. The
    /// filter has been checked against the searched types' schemas (``FilterValidator``) either way.
    public var acrossTypes = false

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

/// A page of rendered results.
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
/// A backend implements a small transactional interface (``DirectoryTransaction``); the SCIM protocol (PATCH, PUT,
/// preconditions, versions, uniqueness, projection) runs above it once, in the ``ResourceService``, and Fulcrum's
/// rules in ``FulcrumRules``. Failures of the store are translated at this boundary, by type: a UNIQUE violation is
/// `.uniqueness` (409), a busy store 503 with `Retry-After`.
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

    /// Resolves a bearer token to the organization and Owner member it acts for. The default asks the directory
    /// (``FulcrumRules/authenticate(token:in:)``).
    /// - Throws: ``SCIMError`` 401 for an unknown, revoked or orphaned token.
    func authenticate(token: BearerToken, context: GatewayContext) async throws -> Principal
    /// Answers whether the store can serve writes and reads (for `/readyz`).
    func checkReadiness() async throws
    /// Lines `/readyz` prints below its verdict: what an operator wants to see at a glance, such as a delivery
    /// backlog. Informative only: readiness is ``checkReadiness()``. The default has none.
    func readinessDetail() async -> [String]
    /// Releases what the backend holds, for commands that run without a service group. Safe to call twice.
    func close() async

    /// Runs `body` in one read-only transaction.
    func read<T: Sendable>(_ body: (any DirectoryTransaction) async throws -> T) async throws -> T
    /// Runs a read that may scan many rows (a search no index answers), in a lane of its own so that point reads
    /// and token lookups never queue behind it. The default is ``read(_:)``.
    func scan<T: Sendable>(_ body: (any DirectoryTransaction) async throws -> T) async throws -> T
    /// Runs the token lookup of ``authenticate(token:context:)``, in a lane of its own so that no search delays
    /// authentication. The default is ``read(_:)``.
    func readCredentials<T: Sendable>(_ body: (any DirectoryTransaction) async throws -> T) async throws -> T
    /// Runs `body` in one write transaction: all of it commits, or none of it. Concurrent writes serialise.
    func write<T: Sendable>(_ body: (any DirectoryTransaction) async throws -> T) async throws -> T
    /// What the admin commands act on: Fulcrum's own side of a directory that simulates Fulcrum; `nil` for a
    /// backend in front of the real Fulcrum, which is administered in Fulcrum itself. The default is
    /// ``SimulatedFulcrum`` over this backend.
    var administration: (any DirectoryAdministration)? { get }
    /// A SCIM write acting for `principal`: a backend that fronts another system makes its calls with the
    /// principal's credentials. The default is ``write(_:)``.
    func write<T: Sendable>(for principal: Principal, _ body: (any DirectoryTransaction) async throws -> T) async throws -> T
}

extension BackendAdapter {
    public var services: [any Service] { [] }
    public func readinessDetail() async -> [String] { [] }
    public var administration: (any DirectoryAdministration)? { SimulatedFulcrum(backend: self) }
    public func close() async {}

    public func scan<T: Sendable>(_ body: (any DirectoryTransaction) async throws -> T) async throws -> T {
        try await read(body)
    }

    public func readCredentials<T: Sendable>(_ body: (any DirectoryTransaction) async throws -> T) async throws -> T {
        try await read(body)
    }

    public func write<T: Sendable>(for principal: Principal, _ body: (any DirectoryTransaction) async throws -> T) async throws -> T {
        try await write(body)
    }

    public func authenticate(token: BearerToken, context: GatewayContext) async throws -> Principal {
        try await FulcrumRules.authenticate(token: token, in: self)
    }
}
