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

extension SchemaCatalog {
    /// The URNs a `type` resource may list in `schemas`, lowercased: its core schema, its declared extensions and,
    /// for groups, the schema Microsoft Entra adds to every group it creates.
    public func knownSchemaIDs(_ type: ResourceType) -> Set<String> {
        var ids = Set(schemas(type).map { $0.id.lowercased() })
        if type == .group { ids.insert(SCIMSchema.microsoftGroup.lowercased()) }
        return ids
    }

    /// Checks the `schemas` of a User or Group body (RFC 7643 §3): present, a non-empty list of schema URNs, the
    /// type's core schema among them and not another type's, and every extension object of the body both declared
    /// and listed. A listed URN without an object that this gateway does not serve is tolerated (nothing is dropped).
    /// - Throws: ``SCIMError`` 400 `invalidSyntax` for a missing or malformed list, `invalidValue` naming the URN.
    public func checkSchemas(of body: JSONValue, type: ResourceType) throws(SCIMError) {
        let core = self.core(type).id
        guard let value = body[attribute: "schemas"], !value.isNull else {
            throw .invalidSyntax("schemas is required (RFC 7643 §3): send [\"\(core)\"]")
        }
        guard let list = value.arrayValue, !list.isEmpty else {
            throw .invalidSyntax("schemas must be a non-empty list of schema URNs, such as [\"\(core)\"]")
        }
        let known = knownSchemaIDs(type)
        var listed: Set<String> = []
        for element in list {
            guard let urn = element.stringValue else { throw .invalidSyntax("schemas must list schema URNs as strings") }
            let lowered = urn.lowercased()
            guard lowered.hasPrefix("urn:") || known.contains(lowered) else { throw .invalidValue("'\(urn)' in schemas is not a schema URN") }
            if let other = ResourceType.all.first(where: { $0 != type && self.core($0).id.lowercased() == lowered }) {
                throw .invalidValue("\(urn) is the \(other.name) schema; a \(type.name) lists \(core)")
            }
            listed.insert(lowered)
        }
        guard listed.contains(core.lowercased()) else { throw .invalidValue("schemas must list the \(type.name) schema \(core)") }
        for (key, member) in body.objectValue ?? [:] where member.objectValue != nil && key.lowercased().hasPrefix("urn:") {
            let lowered = key.lowercased()
            guard known.contains(lowered) else {
                throw .invalidValue("\(key) is not an extension of \(type.name)s on this gateway (declare it under scim.extensions)")
            }
            guard listed.contains(lowered) else { throw .invalidValue("\(key) carries attributes but is not listed in schemas") }
        }
    }
}
