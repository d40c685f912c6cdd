public import SCIMCore

/// A SCIM call as the pipeline sees it: typed, with no HTTP types.
public struct SCIMRequest: Sendable {
    /// What the call asks for.
    public enum Operation: Sendable, Hashable {
        case serviceProviderConfig
        case schemas(id: String?)
        case resourceTypes(id: String?)
        case create(ResourceType)
        case get(ResourceType, id: String)
        /// `GET /Users`, `GET /Groups`, `POST /.search` (type `nil` for the root).
        case search(ResourceType?)
        case replace(ResourceType, id: String)
        case patch(ResourceType, id: String)
        case delete(ResourceType, id: String)

        /// The resource type the call is about, if any.
        public var resourceType: ResourceType? {
            switch self {
            case .create(let type), .get(let type, _), .replace(let type, _), .patch(let type, _), .delete(let type, _): type
            case .search(let type): type
            case .serviceProviderConfig, .schemas, .resourceTypes: nil
            }
        }

        /// `true` for calls that change data.
        public var isWrite: Bool {
            switch self {
            case .create, .replace, .patch, .delete: true
            default: false
            }
        }

        /// A short, bounded label for logs and metrics (`create`, `search`, …).
        public var label: String {
            switch self {
            case .serviceProviderConfig: "serviceProviderConfig"
            case .schemas: "schemas"
            case .resourceTypes: "resourceTypes"
            case .create: "create"
            case .get: "get"
            case .search: "search"
            case .replace: "replace"
            case .patch: "patch"
            case .delete: "delete"
            }
        }
    }

    public var operation: Operation
    /// Query parameters of RFC 7644 §3.4.2 (or the body of a `POST /.search`).
    public var query: QueryParameters
    /// The decoded JSON body, for create, replace, patch and search.
    public var body: JSONValue?
    /// `If-Match` / `If-None-Match` values, verbatim.
    public var ifMatch: String?
    public var ifNoneMatch: String?
    /// The bearer token the HTTP edge extracted, if any. Resolved by the `authentication` stage.
    public var bearerToken: BearerToken?
    /// The size of the body as received, in bytes.
    public var bodySize: Int = 0
    /// A PATCH's operations once a stage has read and checked them (the validation stage drops what is not stored,
    /// so the list may be empty: a no-op). `nil` until then; the dispatcher then reads them from ``body``.
    public var patchOperations: [PatchOperation]?

    public init(
        operation: Operation,
        query: QueryParameters = .init(),
        body: JSONValue? = nil,
        ifMatch: String? = nil,
        ifNoneMatch: String? = nil,
        bearerToken: BearerToken? = nil
    ) {
        self.operation = operation
        self.query = query
        self.body = body
        self.ifMatch = ifMatch
        self.ifNoneMatch = ifNoneMatch
        self.bearerToken = bearerToken
    }
}

/// The list and projection parameters of RFC 7644 §3.4.2 and §3.9.
public struct QueryParameters: Sendable, Hashable {
    public var filter: String?
    public var attributes: [String]
    public var excludedAttributes: [String]
    /// 1-based; values below 1 are treated as 1.
    public var startIndex: Int?
    public var count: Int?
    public var sortBy: String?
    public var sortOrder: String?

    public init(
        filter: String? = nil,
        attributes: [String] = [],
        excludedAttributes: [String] = [],
        startIndex: Int? = nil,
        count: Int? = nil,
        sortBy: String? = nil,
        sortOrder: String? = nil
    ) {
        self.filter = filter
        self.attributes = attributes
        self.excludedAttributes = excludedAttributes
        self.startIndex = startIndex
        self.count = count
        self.sortBy = sortBy
        self.sortOrder = sortOrder
    }
}

/// A SCIM answer, encoded once at the HTTP edge as `application/scim+json`.
public struct SCIMResponse: Sendable {
    /// The HTTP status code (200, 201, 204, …).
    public var status: Int
    /// The body; `nil` for 204.
    public var body: JSONValue?
    /// `meta.version` of the resource, sent as the `ETag`.
    public var version: String?
    /// `meta.location` of a created resource, sent as `Location`.
    public var location: String?

    public init(status: Int, body: JSONValue?, version: String? = nil, location: String? = nil) {
        self.status = status
        self.body = body
        self.version = version
        self.location = location
    }

    /// 200 with a body.
    public static func ok(_ body: JSONValue, version: String? = nil) -> Self { .init(status: 200, body: body, version: version) }
    /// 204 with no body.
    public static let noContent = Self(status: 204, body: nil)
}
