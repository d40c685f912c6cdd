import Foundation
import GatewayCore

/// A SCIM attribute path a rule reads or writes: `name.givenName`, `emails[type eq "work"].value`,
/// `urn:…:enterprise:2.0:User:employeeNumber`, checked against the schemas.
struct SourcePath: Sendable, Hashable {
    let container: String?
    let attribute: String
    let filter: Filter?
    let subAttribute: String?
    let multiValued: Bool
    let writable: Bool

    init?(_ text: String, schemas: SchemaCatalog) {
        var attributeText = text
        var filter: Filter?
        var sub: String?
        if let open = text.firstIndex(of: "[") {
            guard let close = text.lastIndex(of: "]"), close > open else { return nil }
            attributeText = String(text[..<open])
            guard let parsed = try? Filter(parsing: String(text[text.index(after: open)..<close])) else { return nil }
            filter = parsed
            let rest = text[text.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix("."), rest.count > 1 else { return nil }
                sub = String(rest.dropFirst())
            }
        }
        guard let path = try? AttributePath(parsing: attributeText, forFilter: false) else { return nil }
        var schema = schemas.core(.user)
        var container: String?
        if let urn = path.schema, urn.lowercased() != schema.id.lowercased() {
            guard let found = schemas.extensionSchema(urn, of: .user) else { return nil }
            schema = found
            container = found.id
        }
        guard let definition = schema.attribute(path.name) else { return nil }
        let subName = sub ?? path.subAttribute
        var writable = definition.mutability != .readOnly
        if let subName {
            guard let subDefinition = definition.subAttribute(subName) else { return nil }
            writable = writable && subDefinition.mutability != .readOnly
            self.subAttribute = subDefinition.name
        } else {
            self.subAttribute = nil
        }
        self.container = container
        self.attribute = definition.name
        self.filter = filter
        self.multiValued = definition.multiValued
        self.writable = writable
    }

    /// `true` when writing one may change what the other reads (same attribute, and the same or no sub-attribute).
    func overlaps(_ other: SourcePath) -> Bool {
        guard container == other.container, attribute == other.attribute else { return false }
        return subAttribute == nil || other.subAttribute == nil || subAttribute == other.subAttribute
    }

    /// The string value at this path in `user`; for a multi-valued attribute, the matching (or primary, or first) element's.
    func read(_ user: JSONValue) -> String? {
        let base = container.map { user[attribute: $0] } ?? user
        guard let value = base?[attribute: attribute], !value.isNull else { return nil }
        var element = value
        if multiValued {
            let items = value.arrayValue ?? [value]
            let chosen: JSONValue?
            if let filter {
                chosen = items.first { filter.matches($0) }
            } else {
                chosen = items.first { $0[attribute: "primary"]?.scimBoolean == true } ?? items.first
            }
            guard let chosen else { return nil }
            element = chosen
        }
        if let subAttribute { return Self.text(element[attribute: subAttribute]) }
        if multiValued { return Self.text(element[attribute: "value"] ?? element) }
        return Self.text(element)
    }

    static func text(_ value: JSONValue?) -> String? {
        switch value {
        case .string(let text)?: text
        case .integer(let number)?: String(number)
        case .number(let number)?: String(number)
        case .bool(let flag)?: flag ? "true" : "false"
        default: nil
        }
    }
}
