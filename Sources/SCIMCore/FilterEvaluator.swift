/// Evaluates a SCIM filter (RFC 7644 §3.4.2.2) against a resource's JSON, in memory: the reference semantics that
/// every store's compiled filters are tested against, and the search of stores that hold resources as documents.
///
/// - Multi-valued attributes are sets: `skills eq "cad"` matches when any value does, and `emails eq "x"` tests each
///   email's `value`.
/// - A value path on a complex single-valued attribute (`name[givenName eq "x"]`) tests that one object.
/// - An attribute the resource does not have matches nothing (`ne` and `not` still see it as absent).
/// - Strings compare case-insensitively unless the schema says `caseExact` (`id`, `externalId`, `meta.location`, …).
public struct FilterEvaluator: Sendable {
    public let schemas: [SchemaDefinition]
    public let coreSchema: String

    public init(schemas: [SchemaDefinition], coreSchema: String) {
        self.schemas = schemas
        self.coreSchema = coreSchema
    }

    /// `true` when `resource` matches `filter`.
    public func matches(_ filter: Filter, _ resource: JSONValue) -> Bool {
        switch filter {
        case .and(let lhs, let rhs): return matches(lhs, resource) && matches(rhs, resource)
        case .or(let lhs, let rhs): return matches(lhs, resource) || matches(rhs, resource)
        case .not(let inner): return !matches(inner, resource)
        case .present(let path):
            return values(at: path, in: resource).contains { !$0.isNull && $0 != .string("") }
        case .compare(let path, let op, let expected):
            let found = values(at: path, in: resource)
            let caseExact = isCaseExact(path)
            if op == .ne { return !found.contains { Self.compare($0, .eq, expected, caseExact: caseExact) } }
            if found.isEmpty { return expected == .null && op == .eq }
            return found.contains { Self.compare($0, op, expected, caseExact: caseExact) }
        case .valuePath(let path, let inner):
            let container = AttributePath(schema: path.schema, name: path.name)
            let (_, definition) = locate(container)
            let elements = rawValues(at: container, in: resource).flatMap { $0.arrayValue ?? [$0] }
            let elementEvaluator = FilterEvaluator(
                schemas: [SchemaDefinition(id: "element", name: path.name, description: "", attributes: definition?.subAttributes ?? [])],
                coreSchema: "element"
            )
            return elements.contains { elementEvaluator.matches(Self.relative(inner, to: path.name), $0) }
        }
    }

    /// Inner paths of a value filter may repeat the attribute (`emails[emails.type eq "work"]` is not SCIM, but
    /// `members[value eq "x"]` is); they are made relative to the element.
    static func relative(_ filter: Filter, to attribute: String) -> Filter {
        func fix(_ path: AttributePath) -> AttributePath {
            if let sub = path.subAttribute, path.name.lowercased() == attribute.lowercased() { return AttributePath(name: sub) }
            return AttributePath(name: path.name, subAttribute: path.subAttribute)
        }
        switch filter {
        case .and(let lhs, let rhs): return .and(relative(lhs, to: attribute), relative(rhs, to: attribute))
        case .or(let lhs, let rhs): return .or(relative(lhs, to: attribute), relative(rhs, to: attribute))
        case .not(let inner): return .not(relative(inner, to: attribute))
        case .present(let path): return .present(fix(path))
        case .compare(let path, let op, let value): return .compare(fix(path), op, value)
        case .valuePath: return filter
        }
    }

    /// The schema and attribute definition a path names, if the schemas define it.
    func locate(_ path: AttributePath) -> (SchemaDefinition?, AttributeDefinition?) {
        let schema =
            path.schema.flatMap { urn in schemas.first { $0.id.lowercased() == urn.lowercased() } }
            ?? (path.schema == nil ? schemas.first { $0.id.lowercased() == coreSchema.lowercased() } : nil)
        return (schema, schema?.attribute(path.name))
    }

    /// Whether strings at `path` compare case-sensitively.
    public func isCaseExact(_ path: AttributePath) -> Bool {
        switch path.key {
        case "id", "externalid", "meta.location", "meta.version": return true
        default: break
        }
        let (_, definition) = locate(path)
        if let sub = path.subAttribute { return definition?.subAttribute(sub)?.caseExact ?? false }
        if let definition, definition.type == .complex || !definition.subAttributes.isEmpty {
            return definition.subAttribute("value")?.caseExact ?? false
        }
        return definition?.caseExact ?? false
    }

    /// The attribute's value(s) before sub-attribute selection.
    func rawValues(at path: AttributePath, in resource: JSONValue) -> [JSONValue] {
        var container = resource
        if let urn = path.schema, urn.lowercased() != coreSchema.lowercased() {
            guard let inner = resource[attribute: urn] else { return [] }
            container = inner
        }
        guard let value = container[attribute: path.name], !value.isNull else { return [] }
        return [value]
    }

    /// Every simple value a path names: multi-valued attributes contribute each element (their `value` when the path
    /// names no sub-attribute).
    public func values(at path: AttributePath, in resource: JSONValue) -> [JSONValue] {
        let flat = rawValues(at: path, in: resource).flatMap { $0.arrayValue ?? [$0] }
        let sub = path.subAttribute ?? (flat.contains { $0.objectValue != nil } ? "value" : nil)
        guard let sub else { return flat }
        return flat.compactMap { element in
            guard let value = element[attribute: sub], !value.isNull else { return nil }
            return value
        }
    }

    /// One comparison with SCIM's typing: strings with strings, numbers with numbers, booleans with eq and ne.
    public static func compare(_ actual: JSONValue, _ op: Filter.ComparisonOperator, _ expected: Filter.FilterValue, caseExact: Bool) -> Bool {
        switch expected {
        case .null:
            return op == .eq ? actual.isNull : op == .ne ? !actual.isNull : false
        case .bool(let flag):
            guard let value = actual.scimBoolean else { return op == .ne }
            return op == .eq ? value == flag : op == .ne ? value != flag : false
        case .number(let number):
            let value: Double? =
                switch actual {
                case .integer(let int): Double(int)
                case .number(let double): double
                default: nil
                }
            guard let value else { return op == .ne }
            switch op {
            case .eq: return value == number
            case .ne: return value != number
            case .gt: return value > number
            case .ge: return value >= number
            case .lt: return value < number
            case .le: return value <= number
            default: return false
            }
        case .string(let text):
            guard let value = actual.stringValue else {
                if let flag = actual.scimBoolean, ["true", "false"].contains(text.lowercased()) {
                    return compare(.bool(flag), op, .bool(text.lowercased() == "true"), caseExact: caseExact)
                }
                return op == .ne
            }
            let lhs = caseExact ? value : CaseFolding.fold(value)
            let rhs = caseExact ? text : CaseFolding.fold(text)
            switch op {
            case .eq: return lhs == rhs
            case .ne: return lhs != rhs
            case .co: return lhs.contains(rhs)
            case .sw: return lhs.hasPrefix(rhs)
            case .ew: return lhs.hasSuffix(rhs)
            case .gt: return lhs > rhs
            case .ge: return lhs >= rhs
            case .lt: return lhs < rhs
            case .le: return lhs <= rhs
            }
        }
    }
}
