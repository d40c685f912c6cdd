internal import HTTPTypes

/// Applies PATCH operations (RFC 7644 §3.5.2) to a resource's JSON, with the dialects Entra and Okta send:
/// case-insensitive `op`, no-path values with dotted and URN-qualified keys, filtered paths that create the entry
/// they name when nothing matches (`emails[type eq "work"].value`), and member removal by value list.
///
/// The engine is pure: it returns the new representation, which the backend validates and stores in one
/// transaction, so a request applies entirely or not at all.
public struct PatchEngine: Sendable {
    public let schemas: [SchemaDefinition]
    public let coreSchema: String

    public init(schemas: [SchemaDefinition], coreSchema: String) {
        self.schemas = schemas
        self.coreSchema = coreSchema
    }

    /// A resolved PATCH path, as the engine applies it: within `container` (an extension object) or the resource.
    struct Target {
        var container: String?
        var attribute: String
        var definition: AttributeDefinition?
        var filter: Filter?
        var subAttribute: String?
        /// Set when the path names a whole extension schema.
        var wholeExtension: SchemaDefinition? = nil
    }

    static let readOnly: Set<String> = ["id", "meta", "groups", "schemas"]

    public func apply(_ operations: [PatchOperation], to resource: JSONValue) throws(SCIMError) -> JSONValue {
        guard case .object(var object) = resource else { throw SCIMError.invalidSyntax("the resource is not an object") }
        for operation in operations {
            if let path = operation.path {
                try apply(operation.op, target: parse(path), value: operation.value, to: &object)
            } else {
                // No path: each key of the value object is a path of its own (`name.givenName`, `urn:…:User:department`).
                guard case .object(let members)? = operation.value else {
                    throw SCIMError.invalidValue("an \(operation.op.rawValue) without a path needs an object value")
                }
                for (key, value) in members {
                    if key.lowercased() == SCIMSchema.enterpriseUser.lowercased() || key.lowercased() == coreSchema.lowercased(),
                        case .object(let inner) = value
                    {
                        for (innerKey, innerValue) in inner {
                            let path = key.lowercased() == coreSchema.lowercased() ? innerKey : "\(key):\(innerKey)"
                            try apply(operation.op, target: parse(path), value: innerValue, to: &object)
                        }
                        continue
                    }
                    if key.lowercased() == "schemas" { continue }
                    // Okta repeats the resource's own id in a no-path replace: that changes nothing.
                    if key.lowercased() == "id", let id = object["id"], value == id { continue }
                    try apply(operation.op, target: parse(key), value: value, to: &object)
                }
            }
        }
        return .object(object)
    }

    func parse(_ path: String) throws(SCIMError) -> Target {
        let resolved = try PatchPath(parsing: path, schemas: schemas, coreSchema: coreSchema)
        if let whole = resolved.wholeExtension {
            return Target(container: nil, attribute: whole.id, definition: nil, filter: nil, subAttribute: nil, wholeExtension: whole)
        }
        guard resolved.schema != nil else {
            throw SCIMError(status: .badRequest, scimType: .invalidPath, detail: "invalid path '\(path)': unknown schema")
        }
        if resolved.isCore, Self.readOnly.contains(resolved.attribute.lowercased()) {
            throw SCIMError(status: .badRequest, scimType: .mutability, detail: "\(resolved.attribute) is read-only")
        }
        return Target(
            container: resolved.container,
            attribute: resolved.attribute,
            definition: resolved.definition,
            filter: resolved.filter,
            subAttribute: resolved.subAttribute
        )
    }

    func apply(_ op: PatchOperation.Op, target: Target, value: JSONValue?, to resource: inout [String: JSONValue]) throws(SCIMError) {
        if let whole = target.wholeExtension {
            if op == .remove {
                resource[whole.id] = nil
                return
            }
            guard case .object(let incoming)? = value else { throw SCIMError.invalidValue("\(whole.id) takes an object value") }
            for (key, inner) in incoming where key.lowercased() != "schemas" {
                try apply(op, target: parse("\(whole.id):\(key)"), value: inner, to: &resource)
            }
            return
        }
        if let container = target.container {
            var inner = resource[container]?.objectValue ?? [:]
            var local = target
            local.container = nil
            try applyInObject(op, target: local, value: value, to: &inner)
            resource[container] = inner.isEmpty ? nil : .object(inner)
        } else {
            try applyInObject(op, target: target, value: value, to: &resource)
        }
    }

    private func applyInObject(_ op: PatchOperation.Op, target: Target, value: JSONValue?, to object: inout [String: JSONValue]) throws(SCIMError) {
        let name = target.attribute
        let multiValued = target.definition?.multiValued ?? (object[name]?.arrayValue != nil)
        if multiValued {
            var items = object[name]?.arrayValue ?? []
            try applyMultiValued(op, target: target, value: value, to: &items)
            object[name] = items.isEmpty ? nil : .array(items)
            return
        }
        guard target.filter == nil else {
            throw SCIMError(status: .badRequest, scimType: .invalidPath, detail: "\(name) is not multi-valued; it takes no value filter")
        }
        switch op {
        case .remove:
            if let sub = target.subAttribute {
                guard case .object(var inner)? = object[name] else { return }
                inner[canonicalSub(sub, of: target)] = nil
                object[name] = inner.isEmpty ? nil : .object(inner)
            } else {
                // null is "unassigned" (RFC 7643 §2.5): the store can tell a removed attribute from one never sent.
                object[name] = .null
            }
        case .add, .replace:
            guard let value else { return }
            if let sub = target.subAttribute {
                var inner = object[name]?.objectValue ?? [:]
                inner[canonicalSub(sub, of: target)] = value
                object[name] = .object(inner)
            } else if case .object(let incoming) = value, target.definition?.type == .complex, name != "manager" {
                // Complex attribute: the given sub-attributes replace or add; the others stay (RFC 7644 §3.5.2.1/3).
                var inner = object[name]?.objectValue ?? [:]
                for (key, subValue) in incoming { inner[canonicalSub(key, of: target)] = subValue }
                object[name] = .object(inner)
            } else {
                object[name] = value
            }
        }
    }

    private func canonicalSub(_ name: String, of target: Target) -> String {
        target.definition?.subAttribute(name)?.name ?? name
    }

    private func applyMultiValued(_ op: PatchOperation.Op, target: Target, value: JSONValue?, to items: inout [JSONValue]) throws(SCIMError) {
        let incoming: [JSONValue]
        switch value {
        case .array(let array)?: incoming = array
        case nil, .null?: incoming = []
        case let single?: incoming = [single]
        }
        let identity = target.attribute == "members" ? "value" : nil
        if let filter = target.filter {
            let matched = items.indices.filter { Self.matches(filter, items[$0]) }
            switch op {
            case .remove:
                if let sub = target.subAttribute {
                    for index in matched {
                        guard case .object(var element) = items[index] else { continue }
                        element[canonicalSub(sub, of: target)] = nil
                        items[index] = .object(element)
                    }
                } else {
                    for index in matched.reversed() { items.remove(at: index) }
                }
            case .add, .replace:
                guard let value else { return }
                if matched.isEmpty {
                    // Entra's `Add` (and `Replace`) on `emails[type eq "work"].value` creates the entry it names.
                    var element = Self.seed(from: filter)
                    if let sub = target.subAttribute {
                        element[canonicalSub(sub, of: target)] = value
                    } else if case .object(let fields) = value {
                        for (key, field) in fields { element[canonicalSub(key, of: target)] = field }
                    } else {
                        element["value"] = value
                    }
                    items.append(.object(element))
                    clearOtherPrimaries(keeping: items.count - 1, in: &items)
                    return
                }
                for index in matched {
                    var element = items[index].objectValue ?? [:]
                    if let sub = target.subAttribute {
                        element[canonicalSub(sub, of: target)] = value
                    } else if case .object(let fields) = value {
                        if op == .replace { element = Self.seed(from: filter) }
                        for (key, field) in fields { element[canonicalSub(key, of: target)] = field }
                    }
                    items[index] = .object(element)
                    clearOtherPrimaries(keeping: index, in: &items)
                }
            }
            return
        }
        if let sub = target.subAttribute {
            // `emails.value` without a filter addresses every element.
            for index in items.indices {
                guard case .object(var element) = items[index] else { continue }
                if op == .remove { element[canonicalSub(sub, of: target)] = nil } else if let value { element[canonicalSub(sub, of: target)] = value }
                items[index] = .object(element)
            }
            return
        }
        switch op {
        case .remove:
            // Only a remove with no value removes every entry; an explicit list, even an empty one or null, removes
            // exactly the entries it names (a `"value": []` must not empty a 5,000-member group).
            if value == nil {
                items.removeAll()
            } else {
                // `{"op":"Remove","path":"members","value":[{"value":"id"}]}` removes only the listed members.
                let doomed = incoming.map { key(of: $0, identity: identity) }
                items.removeAll { element in doomed.contains { Self.sameEntry($0, key(of: element, identity: identity)) } }
            }
        case .replace:
            items = incoming.map { canonicalElement($0, target: target) }
        case .add:
            for element in incoming {
                let entry = canonicalElement(element, target: target)
                let entryKey = key(of: entry, identity: identity)
                if let existing = items.firstIndex(where: { Self.sameEntry(key(of: $0, identity: identity), entryKey) }) {
                    if identity == nil { items[existing] = entry }
                    continue
                }
                items.append(entry)
                if entry["primary"].map({ (try? Self.truthy($0)) == true }) == true { clearOtherPrimaries(keeping: items.count - 1, in: &items) }
            }
        }
    }

    private func canonicalElement(_ element: JSONValue, target: Target) -> JSONValue {
        guard case .object(let fields) = element else { return ["value": element] }
        var result: [String: JSONValue] = [:]
        for (key, value) in fields { result[canonicalSub(key, of: target)] = value }
        return .object(result)
    }

    /// What makes two entries the same: the `value` for members, the whole entry for the rest.
    private func key(of element: JSONValue, identity: String?) -> JSONValue {
        guard let identity else { return element }
        return element[attribute: identity] ?? element
    }

    static func sameEntry(_ lhs: JSONValue, _ rhs: JSONValue) -> Bool {
        if let left = lhs.stringValue, let right = rhs.stringValue { return left == right }
        return lhs == rhs
    }

    private func clearOtherPrimaries(keeping index: Int, in items: inout [JSONValue]) {
        guard let primary = items[index]["primary"], (try? Self.truthy(primary)) == true else { return }
        for other in items.indices where other != index {
            guard case .object(var element) = items[other], element["primary"] != nil else { continue }
            element["primary"] = false
            items[other] = .object(element)
        }
    }

    static func truthy(_ value: JSONValue) throws(SCIMError) -> Bool {
        guard let flag = value.scimBoolean else { throw SCIMError.invalidValue("expected true or false") }
        return flag
    }

    /// The entry a filter describes: `type eq "work"` → `{"type": "work"}`.
    static func seed(from filter: Filter) -> [String: JSONValue] {
        switch filter {
        case .compare(let path, .eq, let value):
            let name = path.subAttribute ?? path.name
            switch value {
            case .string(let text): return [name: .string(text)]
            case .bool(let flag): return [name: .bool(flag)]
            case .number(let number): return [name: .number(number)]
            case .null: return [:]
            }
        case .and(let lhs, let rhs):
            return seed(from: lhs).merging(seed(from: rhs)) { first, _ in first }
        default:
            return [:]
        }
    }

    /// Evaluates a value filter against one element of a multi-valued attribute.
    static func matches(_ filter: Filter, _ element: JSONValue) -> Bool {
        switch filter {
        case .and(let lhs, let rhs): return matches(lhs, element) && matches(rhs, element)
        case .or(let lhs, let rhs): return matches(lhs, element) || matches(rhs, element)
        case .not(let inner): return !matches(inner, element)
        case .valuePath: return false
        case .present(let path):
            guard let value = element[attribute: path.subAttribute ?? path.name] else { return false }
            return !value.isNull && value != .string("")
        case .compare(let path, let op, let expected):
            let actual = element[attribute: path.subAttribute ?? path.name] ?? .null
            // Sub-attributes of multi-valued attributes (type, value, display) compare case-insensitively.
            return FilterEvaluator.compare(actual, op, expected, caseExact: false)
        }
    }
}
