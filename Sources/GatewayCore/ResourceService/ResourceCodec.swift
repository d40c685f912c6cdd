internal import Foundation
public import SCIMCore

/// Turns SCIM JSON into what the directory stores, and back. Attribute names are canonicalised to the schema's
/// spelling; attributes the schemas do not define are accepted and not stored (Entra's default mappings send some).
enum ResourceCodec {
    /// A validated User body.
    struct UserDraft: Sendable {
        var userName: String
        var externalID: String?
        /// `nil` when the client unassigned it (sent `null` or removed it); the member then stays active in Fulcrum.
        var active: Bool?
        /// The Fulcrum member email; `nil` until the identity provider sends one (the user is then not yet a member).
        var email: String?
        var firstName: String?
        var lastName: String?
        /// The stored SCIM attributes, other than the ones kept in columns.
        var attributes: [String: JSONValue]
    }

    /// A validated Group body.
    struct GroupDraft: Sendable {
        var displayName: String
        var externalID: String?
        var memberIDs: [String]
        /// Attributes kept as sent (only with `storeUnsupportedAttributes`).
        var attributes: [String: JSONValue] = [:]
    }

    static let columnAttributes: Set<String> = ["id", "meta", "schemas", "username", "externalid", "active", "groups"]

    /// Write-only attributes (RFC 7643 §4.1): never stored, whatever the `unsupportedAttributes` mode, so never
    /// returned.
    static let writeOnly: Set<String> = ["password"]

    /// Parses `"True"`, `"false"` and booleans, as Entra sends both.
    static func boolean(_ value: JSONValue, attribute: String) throws(SCIMError) -> Bool {
        guard let flag = value.scimBoolean else { throw SCIMError.invalidValue("\(attribute) must be true or false") }
        return flag
    }

    static func string(_ value: JSONValue?, attribute: String) throws(SCIMError) -> String? {
        guard let value, !value.isNull else { return nil }
        guard let text = value.stringValue else { throw SCIMError.invalidValue("\(attribute) must be a string") }
        return text
    }

    static func userDraft(from body: JSONValue, keepUnsupported: Bool = false, schemas: SchemaCatalog = .standard) throws(SCIMError) -> UserDraft {
        guard let userName = try string(body[attribute: "userName"], attribute: "userName")?.trimmingCharacters(in: .whitespaces),
            !userName.isEmpty
        else {
            throw SCIMError.invalidValue("userName is required")
        }
        let externalID = try string(body[attribute: "externalId"], attribute: "externalId")
        // Left out: active (the default). Sent as null or removed by a PATCH: unassigned.
        var active: Bool? = true
        if let value = body[attribute: "active"] { active = value.isNull ? nil : try boolean(value, attribute: "active") }
        let attributes = try canonicalAttributes(body, type: .user, keepUnsupported: keepUnsupported, schemas: schemas)
        let email = try fulcrumEmail(attributes: attributes, userName: userName)
        let name = attributes["name"]?.objectValue
        return UserDraft(
            userName: userName,
            externalID: externalID,
            active: active,
            email: email,
            firstName: name?["givenName"]?.stringValue,
            lastName: name?["familyName"]?.stringValue,
            attributes: attributes
        )
    }

    /// The Fulcrum member email: the primary email, else the work email, else the first, else `userName` when it
    /// is an email address; `nil` when there is none.
    static func fulcrumEmail(attributes: [String: JSONValue], userName: String) throws(SCIMError) -> String? {
        let emails = attributes["emails"]?.arrayValue ?? []
        let chosen =
            emails.first { $0["primary"]?.boolValue == true }
            ?? emails.first { $0["type"]?.stringValue?.lowercased() == "work" }
            ?? emails.first
        // emails.value SHOULD be an address (RFC 7643 §4.1.2); only one that is becomes the member's email.
        if let value = chosen?["value"]?.stringValue, FulcrumRules.looksLikeEmail(value) { return value }
        if let valid = emails.compactMap({ $0["value"]?.stringValue }).first(where: FulcrumRules.looksLikeEmail) { return valid }
        return FulcrumRules.looksLikeEmail(userName) ? userName : nil
    }

    /// Canonicalises and type-checks the stored attributes of a body: core attributes and the extensions the catalog
    /// knows for `type`, under their canonical names.
    static func canonicalAttributes(
        _ body: JSONValue,
        type: ResourceType,
        columns: Set<String> = columnAttributes,
        keepUnsupported: Bool = false,
        schemas: SchemaCatalog = .standard
    ) throws(SCIMError) -> [String: JSONValue] {
        guard case .object(let members) = body else { throw SCIMError.invalidSyntax("a \(type.name) must be a JSON object") }
        var result: [String: JSONValue] = [:]
        for (key, value) in members where !value.isNull {
            let lowered = key.lowercased()
            if columns.contains(lowered) || writeOnly.contains(lowered) { continue }
            if let extensionSchema = schemas.extensionSchema(key, of: type) {
                guard case .object(let inner) = value else {
                    throw SCIMError.invalidValue("\(extensionSchema.id) must be an object")
                }
                var stored: [String: JSONValue] = [:]
                for (innerKey, innerValue) in inner where !innerValue.isNull {
                    guard let definition = extensionSchema.attribute(innerKey) else {
                        if keepUnsupported { stored[innerKey] = innerValue }
                        continue
                    }
                    stored[definition.name] = try canonical(innerValue, definition: definition)
                }
                if !stored.isEmpty { result[extensionSchema.id] = .object(stored) }
                continue
            }
            if lowered.hasPrefix("urn:") {
                if keepUnsupported { result[key] = value }
                continue
            }
            guard let definition = schemas.core(type).attribute(key) else {
                if keepUnsupported { result[key] = value }
                continue
            }
            guard definition.mutability != .readOnly else { continue }
            result[definition.name] = try canonical(value, definition: definition)
        }
        return result
    }

    /// Checks `value` against `definition` and renames sub-attributes to their canonical spelling.
    static func canonical(_ value: JSONValue, definition: AttributeDefinition) throws(SCIMError) -> JSONValue {
        if definition.multiValued {
            let items: [JSONValue]
            if case .array(let array) = value { items = array } else { items = [value] }
            var result: [JSONValue] = []
            var primaries = 0
            for item in items where !item.isNull {
                let element = try canonicalSingle(item, definition: definition)
                if element["primary"]?.boolValue == true { primaries += 1 }
                result.append(element)
            }
            guard primaries <= 1 else { throw SCIMError.invalidValue("at most one of \(definition.name) may be primary") }
            return .array(result)
        }
        return try canonicalSingle(value, definition: definition)
    }

    static func canonicalSingle(_ value: JSONValue, definition: AttributeDefinition) throws(SCIMError) -> JSONValue {
        if definition.type == .complex || !definition.subAttributes.isEmpty {
            // The enterprise manager arrives as a bare id (Entra) or as an object; it is stored as an object.
            if definition.name == "manager", let id = value.stringValue { return ["value": .string(id)] }
            guard case .object(let members) = value else {
                if definition.multiValued, let scalar = value.stringValue { return ["value": .string(scalar)] }
                throw SCIMError.invalidValue("\(definition.name) must be an object")
            }
            var result: [String: JSONValue] = [:]
            for (key, inner) in members where !inner.isNull {
                guard let sub = definition.subAttribute(key) else { continue }
                result[sub.name] = try scalar(inner, definition: sub, parent: definition.name)
            }
            return .object(result)
        }
        return try scalar(value, definition: definition, parent: nil)
    }

    static func scalar(_ value: JSONValue, definition: AttributeDefinition, parent: String?) throws(SCIMError) -> JSONValue {
        try definition.checked(value, path: parent.map { "\($0).\(definition.name)" } ?? definition.name)
    }

    static let groupColumns: Set<String> = ["id", "meta", "schemas", "displayname", "externalid", "members"]

    static func groupDraft(from body: JSONValue, keepUnsupported: Bool = false, schemas: SchemaCatalog = .standard) throws(SCIMError) -> GroupDraft {
        guard let displayName = try string(body[attribute: "displayName"], attribute: "displayName")?.trimmingCharacters(in: .whitespaces),
            !displayName.isEmpty
        else {
            throw SCIMError.invalidValue("displayName is required")
        }
        let externalID = try string(body[attribute: "externalId"], attribute: "externalId")
        let attributes = try canonicalAttributes(body, type: .group, columns: groupColumns, keepUnsupported: keepUnsupported, schemas: schemas)
        return GroupDraft(
            displayName: displayName,
            externalID: externalID,
            memberIDs: try memberIDs(body[attribute: "members"]),
            attributes: attributes
        )
    }

    /// The `value`s of a `members` list, in order, without duplicates.
    static func memberIDs(_ value: JSONValue?) throws(SCIMError) -> [String] {
        guard let value, !value.isNull else { return [] }
        let items: [JSONValue]
        if case .array(let array) = value { items = array } else { items = [value] }
        var seen = Set<String>()
        var ids: [String] = []
        for item in items {
            guard let id = item[attribute: "value"]?.stringValue ?? item.stringValue, !id.isEmpty else {
                throw SCIMError.invalidValue("each member needs a 'value' with the id of a User")
            }
            if let type = item[attribute: "type"]?.stringValue, type.lowercased() == "group" {
                throw SCIMError.invalidValue("member \(id) is a Group: nested groups are not supported")
            }
            if seen.insert(id).inserted { ids.append(id) }
        }
        return ids
    }
}
