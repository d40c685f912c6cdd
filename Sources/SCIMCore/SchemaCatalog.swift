/// Every schema the gateway serves: the core User and Group schemas and their extensions (the enterprise User
/// extension and any the configuration declares). `/Schemas` publishes it; validation, PATCH, filters and storage
/// read it, so a declared extension works everywhere at once.
public struct SchemaCatalog: Sendable, Hashable {
    /// Extension schemas by the resource type they extend.
    public private(set) var extensions: [String: [SchemaDefinition]]

    /// The built-in schemas plus `extra` extensions.
    public init(userExtensions: [SchemaDefinition] = [], groupExtensions: [SchemaDefinition] = []) {
        self.extensions = [
            ResourceType.user.name: [.enterpriseUser] + userExtensions,
            ResourceType.group.name: groupExtensions,
        ]
    }

    /// The built-in schemas only.
    public static let standard = SchemaCatalog()

    public func core(_ type: ResourceType) -> SchemaDefinition { type == .group ? .group : .user }

    public func extensions(_ type: ResourceType) -> [SchemaDefinition] { extensions[type.name] ?? [] }

    /// Core first, then the extensions.
    public func schemas(_ type: ResourceType) -> [SchemaDefinition] { [core(type)] + extensions(type) }

    /// Every schema, as `/Schemas` lists them.
    public var all: [SchemaDefinition] { ResourceType.all.flatMap(schemas) }

    /// The extension of `type` whose id is `urn`, ignoring case.
    public func extensionSchema(_ urn: String, of type: ResourceType) -> SchemaDefinition? {
        let lowered = urn.lowercased()
        return extensions(type).first { $0.id.lowercased() == lowered }
    }
}
