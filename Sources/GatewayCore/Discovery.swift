public import SCIMCore

/// The discovery documents of RFC 7644 §4: what the server supports, told truthfully.
public struct Discovery: Sendable {
    /// Feature switches, each `true` only when the gateway implements it end to end.
    public struct Features: Sendable, Hashable {
        public var patch: Bool
        public var filter: Bool
        public var sort: Bool
        public var etag: Bool
        public var changePassword = false
        public var bulk = false

        public init(patch: Bool, filter: Bool, sort: Bool, etag: Bool) {
            self.patch = patch
            self.filter = filter
            self.sort = sort
            self.etag = etag
        }
    }

    public var features: Features
    public var maxResults: Int
    public var catalog: SchemaCatalog

    public init(features: Features, maxResults: Int, catalog: SchemaCatalog = .standard) {
        self.features = features
        self.maxResults = maxResults
        self.catalog = catalog
    }

    var schemas: [SchemaDefinition] { catalog.all }

    public func serviceProviderConfig(baseURL: String) -> JSONValue {
        [
            "schemas": [.string(SCIMSchema.serviceProviderConfig)],
            "patch": ["supported": .bool(features.patch)],
            "bulk": ["supported": false, "maxOperations": 0, "maxPayloadSize": 0],
            "filter": ["supported": .bool(features.filter), "maxResults": .integer(maxResults)],
            "changePassword": ["supported": false],
            "sort": ["supported": .bool(features.sort)],
            "etag": ["supported": .bool(features.etag)],
            "authenticationSchemes": [
                [
                    "type": "oauthbearertoken",
                    "name": "Fulcrum API token",
                    "description": "An API token created by an organization Owner, sent as 'Authorization: Bearer <token>'.",
                    "primary": true,
                ]
            ],
            "meta": [
                "resourceType": "ServiceProviderConfig",
                "location": .string("\(baseURL)/ServiceProviderConfig"),
            ],
        ]
    }

    func resourceTypeJSON(_ type: ResourceType, baseURL: String) -> JSONValue {
        var members: [String: JSONValue] = [
            "schemas": [.string(SCIMSchema.resourceType)],
            "id": .string(type.name),
            "name": .string(type.name),
            "endpoint": .string(type.endpoint),
            "description": .string(type == .user ? "Members of the Fulcrum organization" : "Managed Fulcrum groups"),
            "schema": .string(type.schema),
            "meta": ["resourceType": "ResourceType", "location": .string("\(baseURL)/ResourceTypes/\(type.name)")],
        ]
        members["schemaExtensions"] = .array(catalog.extensions(type).map { ["schema": .string($0.id), "required": false] })
        return .object(members)
    }

    /// `/ResourceTypes` as a ListResponse, or one by id.
    public func resourceTypes(id: String?, baseURL: String) throws -> JSONValue {
        let all = ResourceType.all
        guard let id else {
            return ListResponse(totalResults: all.count, startIndex: 1, resources: all.map { resourceTypeJSON($0, baseURL: baseURL) }).body
        }
        guard let type = all.first(where: { $0.name == id }) else {
            throw SCIMError(status: .notFound, detail: "no resource type \(id)")
        }
        return resourceTypeJSON(type, baseURL: baseURL)
    }

    /// `/Schemas` as a ListResponse, or one by id.
    public func schemas(id: String?, baseURL: String) throws -> JSONValue {
        guard let id else {
            return ListResponse(totalResults: schemas.count, startIndex: 1, resources: schemas.map { $0.json(baseURL: baseURL) }).body
        }
        guard let schema = schemas.first(where: { $0.id == id }) else {
            throw SCIMError(status: .notFound, detail: "no schema \(id)")
        }
        return schema.json(baseURL: baseURL)
    }
}
