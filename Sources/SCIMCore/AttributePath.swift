internal import HTTPTypes

/// A SCIM attribute path: `[schema URN ":"] name ["." subAttribute]` (RFC 7644 §3.10).
///
/// Names compare case-insensitively; ``name`` and ``subAttribute`` keep the spelling the client used.
public struct AttributePath: Sendable, Hashable, CustomStringConvertible {
    /// The schema URN, when the path was qualified (`urn:…:enterprise:2.0:User`).
    public var schema: String?
    public var name: String
    public var subAttribute: String?

    public init(schema: String? = nil, name: String, subAttribute: String? = nil) {
        self.schema = schema
        self.name = name
        self.subAttribute = subAttribute
    }

    /// Parses `name`, `name.sub`, `urn:…:name` or `urn:…:name.sub`.
    /// - Throws: ``SCIMError`` `invalidPath`-style 400 (`invalidFilter` when `forFilter`) for an empty or malformed path.
    public init(parsing text: String, forFilter: Bool = true) throws(SCIMError) {
        func fail() -> SCIMError {
            SCIMError(
                status: .badRequest,
                scimType: forFilter ? .invalidFilter : .invalidPath,
                detail: "'\(text)' is not a valid attribute path"
            )
        }
        var rest = Substring(text)
        var schema: String?
        if text.lowercased().hasPrefix("urn:") {
            // The URN is everything before the last ':' that precedes the attribute name.
            guard let colon = text.lastIndex(of: ":") else { throw fail() }
            schema = String(text[..<colon])
            rest = text[text.index(after: colon)...]
        }
        let parts = rest.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), parts.allSatisfy({ Self.isName($0) }) else { throw fail() }
        self.schema = schema
        self.name = String(parts[0])
        self.subAttribute = parts.count == 2 ? String(parts[1]) : nil
    }

    static func isName(_ text: Substring) -> Bool {
        guard let first = text.first, first.isLetter || first == "$" else { return false }
        return text.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "$" }
    }

    /// The lowercased `name` or `name.sub`, without the schema: the key used to look up attribute definitions.
    public var key: String {
        let base = name.lowercased()
        guard let subAttribute else { return base }
        return base + "." + subAttribute.lowercased()
    }

    public var description: String {
        var text = schema.map { $0 + ":" } ?? ""
        text += name
        if let subAttribute { text += "." + subAttribute }
        return text
    }
}

extension AttributePath {
    /// A path written inside `container[…]`, as the attribute it names: `type` in `emails[type eq "work"]` is
    /// `emails.type` (and so is `emails.type`, spelled out).
    public func inside(_ container: AttributePath) -> AttributePath {
        let sub = subAttribute != nil && name.lowercased() == container.name.lowercased() ? subAttribute! : name
        return AttributePath(schema: container.schema, name: container.name, subAttribute: sub)
    }
}

extension Filter {
    /// The filter inside `container[…]` with every path made a sub-attribute of `container`:
    /// `name[givenName eq "x"]` is `name.givenName eq "x"`.
    public func qualified(in container: AttributePath) -> Filter {
        switch self {
        case .and(let lhs, let rhs): .and(lhs.qualified(in: container), rhs.qualified(in: container))
        case .or(let lhs, let rhs): .or(lhs.qualified(in: container), rhs.qualified(in: container))
        case .not(let inner): .not(inner.qualified(in: container))
        case .present(let path): .present(path.inside(container))
        case .compare(let path, let op, let value): .compare(path.inside(container), op, value)
        case .valuePath: self
        }
    }
}
