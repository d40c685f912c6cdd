/// A SCIM resource type served by the gateway.
public struct ResourceType: Sendable, Hashable, CustomStringConvertible {
    /// `User` or `Group`, as in `meta.resourceType`.
    public var name: String
    /// The endpoint below the SCIM base path, `/Users` or `/Groups`.
    public var endpoint: String
    /// The core schema URN.
    public var schema: String

    public static let user = Self(name: "User", endpoint: "/Users", schema: SCIMSchema.user)
    public static let group = Self(name: "Group", endpoint: "/Groups", schema: SCIMSchema.group)

    /// Every resource type the gateway serves.
    public static let all: [Self] = [.user, .group]

    /// The resource type whose endpoint segment is `segment` (`Users`, `Groups`), compared case-sensitively per RFC 7644.
    public init?(endpointSegment segment: String) {
        guard let match = Self.all.first(where: { $0.endpoint == "/" + segment }) else { return nil }
        self = match
    }

    public init(name: String, endpoint: String, schema: String) {
        self.name = name
        self.endpoint = endpoint
        self.schema = schema
    }

    public var description: String { name }
}
