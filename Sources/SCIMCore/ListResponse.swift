/// A page of resources (RFC 7644 §3.4.2).
public struct ListResponse: Sendable, Hashable {
    /// The number of resources matching the query, across all pages.
    public var totalResults: Int
    /// The 1-based index of the first resource in ``resources``.
    public var startIndex: Int
    /// The resources on this page.
    public var resources: [JSONValue]

    public init(totalResults: Int, startIndex: Int, resources: [JSONValue]) {
        self.totalResults = totalResults
        self.startIndex = startIndex
        self.resources = resources
    }

    /// The body; `itemsPerPage` always equals the number of resources returned.
    public var body: JSONValue {
        var members: [String: JSONValue] = [
            "schemas": [.string(SCIMSchema.listResponse)],
            "totalResults": .integer(totalResults),
            "startIndex": .integer(startIndex),
            "itemsPerPage": .integer(resources.count),
        ]
        members["Resources"] = .array(resources)
        return .object(members)
    }
}
