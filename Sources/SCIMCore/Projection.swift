/// `attributes` / `excludedAttributes` (RFC 7644 §3.9) applied to a rendered resource.
///
/// `id` and `schemas` are always returned. Paths may be qualified with a schema URN
/// (`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department`) and may name a sub-attribute
/// (`name.givenName`). Attribute names compare case-insensitively.
public struct Projection: Sendable, Hashable {
    public var attributes: [AttributePath]
    public var excludedAttributes: [AttributePath]

    static let alwaysReturned: Set<String> = ["id", "schemas"]

    public init(attributes: [String], excludedAttributes: [String]) throws(SCIMError) {
        func parse(_ list: [String]) throws(SCIMError) -> [AttributePath] {
            var paths: [AttributePath] = []
            for text in list where !text.isEmpty {
                do {
                    paths.append(try AttributePath(parsing: text, forFilter: false))
                } catch {
                    throw SCIMError.invalidValue("'\(text)' in attributes/excludedAttributes is not a valid attribute path")
                }
            }
            return paths
        }
        self.attributes = try parse(attributes)
        self.excludedAttributes = try parse(excludedAttributes)
    }

    /// Every attribute.
    public static let all = Projection(attributes: [AttributePath](), excludedAttributes: [])

    public init(attributes: [AttributePath], excludedAttributes: [AttributePath]) {
        self.attributes = attributes
        self.excludedAttributes = excludedAttributes
    }

    /// `true` when the projection changes nothing.
    public var isIdentity: Bool { attributes.isEmpty && excludedAttributes.isEmpty }

    /// `true` when `path` (a top-level attribute name) is explicitly asked for or left in.
    public func includes(attribute name: String) -> Bool {
        let lowered = name.lowercased()
        if !attributes.isEmpty { return attributes.contains { $0.name.lowercased() == lowered } }
        return !excludedAttributes.contains { $0.name.lowercased() == lowered && $0.subAttribute == nil }
    }

    /// Applies the projection to a resource whose core schema is `coreSchema`.
    public func apply(to resource: JSONValue, coreSchema: String) -> JSONValue {
        guard !isIdentity, case .object(let members) = resource else { return resource }
        let core = coreSchema.lowercased()
        func matches(_ path: AttributePath, container: String?, name: String) -> Bool {
            let pathSchema = path.schema?.lowercased()
            if let container {
                // Inside an extension object: the path must name that extension and the attribute.
                return pathSchema == container.lowercased() && path.name.lowercased() == name.lowercased()
            }
            return (pathSchema == nil || pathSchema == core) && path.name.lowercased() == name.lowercased()
        }
        func project(_ object: [String: JSONValue], container: String?) -> [String: JSONValue] {
            var result: [String: JSONValue] = [:]
            for (key, value) in object {
                if container == nil, Self.alwaysReturned.contains(key.lowercased()) {
                    result[key] = value
                    continue
                }
                if container == nil, key.lowercased().hasPrefix("urn:"), case .object(let inner) = value {
                    // An extension object: a path naming the whole URN selects all of it.
                    let wholeIncluded = attributes.contains { $0.description.lowercased() == key.lowercased() }
                    let wholeExcluded = excludedAttributes.contains { $0.description.lowercased() == key.lowercased() }
                    if !attributes.isEmpty {
                        if wholeIncluded {
                            result[key] = value
                        } else {
                            let projected = project(inner, container: key)
                            if !projected.isEmpty { result[key] = .object(projected) }
                        }
                    } else if !wholeExcluded {
                        result[key] = .object(project(inner, container: key))
                    }
                    continue
                }
                let selecting = attributes.filter { matches($0, container: container, name: key) }
                let excluding = excludedAttributes.filter { matches($0, container: container, name: key) }
                if !attributes.isEmpty {
                    guard !selecting.isEmpty else { continue }
                    if selecting.contains(where: { $0.subAttribute == nil }) {
                        result[key] = value
                    } else {
                        result[key] = Self.keepSubAttributes(value, selecting.compactMap(\.subAttribute))
                    }
                } else {
                    if excluding.contains(where: { $0.subAttribute == nil }) { continue }
                    let dropped = excluding.compactMap(\.subAttribute)
                    result[key] = dropped.isEmpty ? value : Self.dropSubAttributes(value, dropped)
                }
            }
            return result
        }
        return .object(project(members, container: nil))
    }

    static func keepSubAttributes(_ value: JSONValue, _ names: [String]) -> JSONValue {
        let lowered = Set(names.map { $0.lowercased() })
        switch value {
        case .object(let object): return .object(object.filter { lowered.contains($0.key.lowercased()) })
        case .array(let items): return .array(items.map { keepSubAttributes($0, names) })
        default: return value
        }
    }

    static func dropSubAttributes(_ value: JSONValue, _ names: [String]) -> JSONValue {
        let lowered = Set(names.map { $0.lowercased() })
        switch value {
        case .object(let object): return .object(object.filter { !lowered.contains($0.key.lowercased()) })
        case .array(let items): return .array(items.map { dropSubAttributes($0, names) })
        default: return value
        }
    }
}
