/// Checks a filter against the schemas of the types it searches, before any store sees it: every attribute must be
/// one some type defines, every value must have the attribute's type, and `co`/`sw`/`ew`/`gt`… must suit it. One place
/// for these rules, so every store (compiled SQL, the in-memory evaluator) answers the same 400 `invalidFilter`.
public struct FilterValidator: Sendable {
    /// The schemas of each searched type (core first, then its extensions).
    public let types: [(core: String, schemas: [SchemaDefinition])]

    public init(types: [(core: String, schemas: [SchemaDefinition])]) {
        self.types = types
    }

    /// The attributes every resource has (RFC 7643 §3.1), by lowercased `name.sub`.
    static let common: [String: AttributeDefinition.DataType] = [
        "id": .string, "externalid": .string, "meta.created": .dateTime, "meta.lastmodified": .dateTime,
        "meta.resourcetype": .string, "meta.location": .reference, "meta.version": .string,
    ]

    /// - Throws: ``SCIMError`` 400 `invalidFilter` naming what is wrong.
    public func validate(_ filter: Filter) throws(SCIMError) {
        switch filter {
        case .and(let lhs, let rhs), .or(let lhs, let rhs):
            try validate(lhs)
            try validate(rhs)
        case .not(let inner):
            try validate(inner)
        case .present(let path):
            _ = try definitions(path)
        case .compare(let path, let op, let value):
            try check(types: try definitions(path), path: path, op: op, value: value)
        case .valuePath(let path, let inner):
            guard path.subAttribute == nil else { throw .invalidFilter("a value filter follows an attribute, not \(path)") }
            try validateElement(inner, of: path)
        }
    }

    private func validateElement(_ filter: Filter, of container: AttributePath) throws(SCIMError) {
        switch filter {
        case .and(let lhs, let rhs), .or(let lhs, let rhs):
            try validateElement(lhs, of: container)
            try validateElement(rhs, of: container)
        case .not(let inner):
            try validateElement(inner, of: container)
        case .valuePath:
            throw .invalidFilter("value filters cannot nest")
        case .present(let path):
            _ = try definitions(path.inside(container))
        case .compare(let path, let op, let value):
            let inner = path.inside(container)
            try check(types: try definitions(inner), path: inner, op: op, value: value)
        }
    }

    /// The data types `path` has in the searched types; throws when no type defines it.
    func definitions(_ path: AttributePath) throws(SCIMError) -> [AttributeDefinition.DataType] {
        if path.schema == nil || types.contains(where: { $0.core.lowercased() == path.schema?.lowercased() }), let type = Self.common[path.key] {
            return [type]
        }
        var found: [AttributeDefinition.DataType] = []
        for type in types {
            let schema: SchemaDefinition? =
                if let urn = path.schema {
                    type.schemas.first { $0.id.lowercased() == urn.lowercased() }
                } else {
                    type.schemas.first { $0.id.lowercased() == type.core.lowercased() }
                }
            guard let definition = schema?.attribute(path.name) else { continue }
            if let sub = path.subAttribute {
                guard let subDefinition = definition.subAttribute(sub) else { continue }
                found.append(subDefinition.type)
            } else if definition.type == .complex || !definition.subAttributes.isEmpty {
                // `emails eq "x"` compares each email's value; a complex attribute without one takes no comparison.
                if let value = definition.subAttribute("value") { found.append(value.type) } else { found.append(.complex) }
            } else {
                found.append(definition.type)
            }
        }
        guard !found.isEmpty else { throw .invalidFilter("attribute \(path) is not supported in filters") }
        return found
    }

    private func check(
        types: [AttributeDefinition.DataType],
        path: AttributePath,
        op: Filter.ComparisonOperator,
        value: Filter.FilterValue
    ) throws(SCIMError) {
        var problem: String?
        for type in types {
            problem = Self.problem(type: type, path: path, op: op, value: value)
            if problem == nil { return }
        }
        throw .invalidFilter(problem ?? "\(path) cannot be compared")
    }

    static func problem(type: AttributeDefinition.DataType, path: AttributePath, op: Filter.ComparisonOperator, value: Filter.FilterValue) -> String?
    {
        if case .null = value { return op == .eq || op == .ne ? nil : "null can only be compared with eq or ne" }
        switch type {
        case .complex:
            return "\(path) is complex: filter on one of its sub-attributes, or with \(path)[…]"
        case .boolean:
            guard op == .eq || op == .ne else { return "booleans can only be compared with eq or ne" }
            switch value {
            case .bool: return nil
            case .string(let text) where ["true", "false"].contains(text.lowercased()): return nil
            default: return "a boolean attribute is compared with true or false"
            }
        case .integer, .decimal:
            guard case .number = value else { return "a numeric attribute is compared with a number" }
            return [.co, .sw, .ew].contains(op) ? "\(op.rawValue) applies to strings only" : nil
        case .string, .reference, .dateTime:
            guard case .string = value else { return "a string attribute is compared with a string in double quotes" }
            return nil
        }
    }
}
