internal import HTTPTypes

/// A PATCH path (RFC 7644 §3.5.2) resolved once against a resource type's schemas: `[urn:]attr[.sub]`,
/// `[urn:]attr[filter][.sub]`, or a whole extension (`urn:…:enterprise:2.0:User`). The validation stage, the PATCH
/// engine and the resource service read this one value, so a fully qualified `urn:…:core:2.0:Group:members` and a
/// short `members` are the same target everywhere.
public struct PatchPath: Sendable, Hashable {
    /// The path as the client wrote it.
    public var text: String
    /// The schema that holds the attribute; `nil` when the path names a schema URN that is not declared.
    public var schema: SchemaDefinition?
    /// The attribute's name, in the schema's spelling when the schema defines it.
    public var attribute: String
    public var definition: AttributeDefinition?
    /// The value filter of `attr[filter]`.
    public var filter: Filter?
    /// The sub-attribute, in the schema's spelling when defined.
    public var subAttribute: String?
    public var subDefinition: AttributeDefinition?
    /// Set when the path names a whole extension schema.
    public var wholeExtension: SchemaDefinition?

    /// The extension object the attribute lives in (`nil` for core attributes).
    public var container: String? {
        guard let schema, !isCore else { return nil }
        return schema.id
    }

    /// Whether the attribute belongs to the core schema.
    public var isCore: Bool { schema.map { $0.id.lowercased() == coreSchema.lowercased() } ?? false }

    let coreSchema: String

    /// Parses `text` and resolves it against `schemas` (the core schema of the type first, then its extensions).
    /// A value filter in the path is held to `filterLimits`, as a search filter is.
    /// - Throws: ``SCIMError`` 400 `invalidPath` for a path that is not well formed: deeper than `attr.sub`, or with
    ///   a value filter that is malformed, too long or too deep.
    public init(
        parsing text: String,
        schemas: [SchemaDefinition],
        coreSchema: String,
        filterLimits: FilterLimits = .default
    ) throws(SCIMError) {
        func invalid(_ why: String) -> SCIMError {
            SCIMError(status: .badRequest, scimType: .invalidPath, detail: "invalid path '\(SCIMError.excerpt(text))': \(why)")
        }
        self.text = text
        self.coreSchema = coreSchema
        if let whole = schemas.first(where: { $0.id.lowercased() == text.lowercased() && $0.id.lowercased() != coreSchema.lowercased() }) {
            self.schema = whole
            self.attribute = whole.id
            self.wholeExtension = whole
            return
        }
        var attributeText = text
        var filter: Filter?
        var subAttribute: String?
        if let open = text.firstIndex(of: "[") {
            guard let close = text.lastIndex(of: "]"), close > open else { throw invalid("missing ']'") }
            attributeText = String(text[..<open])
            do {
                filter = try Filter(parsing: String(text[text.index(after: open)..<close]), limits: filterLimits)
            } catch {
                throw invalid(error.detail)
            }
            let rest = text[text.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix("."), AttributePath.isName(rest.dropFirst()) else {
                    throw invalid("expected '.subAttribute' after ']'; a path goes no deeper than attribute.subAttribute")
                }
                subAttribute = String(rest.dropFirst())
            }
        }
        let parsed: AttributePath
        do {
            parsed = try AttributePath(parsing: attributeText, forFilter: false)
        } catch {
            throw invalid("not an attribute path")
        }
        if filter != nil, parsed.subAttribute != nil { throw invalid("a value filter follows the attribute, not a sub-attribute") }
        let urn = parsed.schema ?? coreSchema
        self.schema = schemas.first { $0.id.lowercased() == urn.lowercased() }
        self.definition = schema?.attribute(parsed.name)
        self.attribute = definition?.name ?? parsed.name
        self.filter = filter
        let sub = parsed.subAttribute ?? subAttribute
        self.subDefinition = sub.flatMap { definition?.subAttribute($0) }
        self.subAttribute = subDefinition?.name ?? sub
    }
}
