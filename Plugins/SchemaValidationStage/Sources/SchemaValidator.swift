import Foundation
import GatewayCore

/// Validates SCIM bodies against the published schemas. Pure: no I/O, no state.
struct SchemaValidator: Sendable {
    let enforceCanonicalValues: Bool
    let catalog: SchemaCatalog
    var limits = Limits()

    /// How long strings may be, in characters.
    struct Limits: Sendable, Hashable {
        /// `userName`, `displayName`, `externalId`, `emails.value`, `members.value`.
        var identifier = 512
        /// Every other string.
        var string = 8192
        /// Filters, including the value filters of PATCH paths.
        var filter = FilterLimits.default
    }

    static let identifierPaths: Set<String> = ["username", "displayname", "externalid", "emails.value", "members.value"]

    func core(_ type: ResourceType) -> SchemaDefinition { catalog.core(type) }
    func extensions(_ type: ResourceType) -> [SchemaDefinition] { catalog.extensions(type) }

    // MARK: Resources

    func validateResource(_ body: JSONValue, type: ResourceType, dropUnsupported: Bool, unsupported: inout [String]) throws(SCIMError) -> JSONValue {
        guard case .object(let members) = body else { throw SCIMError.invalidSyntax("a \(type.name) must be a JSON object") }
        var result: [String: JSONValue] = [:]
        let schema = core(type)
        for (key, value) in members {
            let lowered = key.lowercased()
            switch lowered {
            case "schemas":
                guard value.isNull || (value.arrayValue?.allSatisfy { $0.stringValue != nil } ?? false) else {
                    throw SCIMError.invalidValue("schemas must be a list of schema URNs")
                }
                result[key] = value
                continue
            case "id":
                result[key] = value  // the backend refuses a different id with 400 mutability
                continue
            case "meta":
                continue  // read-only: ignored on input
            case "externalid":
                guard value.isNull || value.stringValue != nil else { throw SCIMError.invalidValue("externalId must be a string") }
                try checkLength(value, path: "externalId")
                result[key] = value
                continue
            default:
                break
            }
            if lowered.hasPrefix("urn:") {
                if lowered == schema.id.lowercased(), case .object(let inner) = value {
                    // Core attributes qualified by the core URN as an object: validate them as core attributes.
                    let nested = try validateAttributes(
                        inner,
                        schema: schema,
                        prefix: "",
                        dropUnsupported: dropUnsupported,
                        unsupported: &unsupported
                    )
                    result.merge(nested) { first, _ in first }
                    continue
                }
                guard let extensionSchema = extensions(type).first(where: { $0.id.lowercased() == lowered }) else {
                    unsupported.append(key)
                    if !dropUnsupported { result[key] = value }
                    continue
                }
                guard !value.isNull else { continue }
                guard case .object(let inner) = value else { throw SCIMError.invalidValue("\(key) must be an object") }
                let validated = try validateAttributes(
                    inner,
                    schema: extensionSchema,
                    prefix: key + ":",
                    dropUnsupported: dropUnsupported,
                    unsupported: &unsupported
                )
                result[key] = .object(validated)
                continue
            }
            if let kept = try validateAttribute(key, value, schema: schema, dropUnsupported: dropUnsupported, unsupported: &unsupported) {
                result[key] = kept
            }
        }
        for attribute in schema.attributes where attribute.required {
            let value = result.first { $0.key.lowercased() == attribute.name.lowercased() }?.value
            guard let value, !value.isNull else { throw SCIMError.invalidValue("\(attribute.name) is required") }
        }
        return .object(result)
    }

    /// Validates the attributes of an object against `schema` (a `schemas` member is left out).
    func validateAttributes(
        _ members: [String: JSONValue],
        schema: SchemaDefinition,
        prefix: String,
        dropUnsupported: Bool,
        unsupported: inout [String]
    ) throws(SCIMError) -> [String: JSONValue] {
        var result: [String: JSONValue] = [:]
        for (key, value) in members where key.lowercased() != "schemas" {
            if let kept = try validateAttribute(
                key,
                value,
                schema: schema,
                dropUnsupported: dropUnsupported,
                unsupported: &unsupported,
                prefix: prefix
            ) {
                result[key] = kept
            }
        }
        return result
    }

    /// Validates one attribute; `nil` when it is dropped (read-only, or unsupported and dropped).
    func validateAttribute(
        _ key: String,
        _ value: JSONValue,
        schema: SchemaDefinition,
        dropUnsupported: Bool,
        unsupported: inout [String],
        prefix: String = ""
    ) throws(SCIMError) -> JSONValue? {
        guard let definition = schema.attribute(key) else {
            guard prefix.isEmpty, schema.id == SCIMSchema.user, let unstored = SchemaDefinition.unstoredUser.attribute(key) else {
                unsupported.append(prefix + key)
                return dropUnsupported ? nil : value
            }
            // An RFC 7643 attribute this deployment does not store: its shape is checked all the same.
            let checked = try validate(value, definition: unstored, path: unstored.name, dropUnsupported: dropUnsupported, unsupported: &unsupported)
            if unstored.mutability == .writeOnly { return nil }
            unsupported.append(unstored.name)
            return dropUnsupported ? nil : checked
        }
        if definition.mutability == .readOnly { return nil }
        return try validate(
            value,
            definition: definition,
            path: prefix + definition.name,
            dropUnsupported: dropUnsupported,
            unsupported: &unsupported
        )
    }

    func validate(
        _ value: JSONValue,
        definition: AttributeDefinition,
        path: String,
        dropUnsupported: Bool,
        unsupported: inout [String]
    ) throws(SCIMError) -> JSONValue {
        if value.isNull { return value }
        if definition.multiValued {
            guard case .array(let items) = value else { throw SCIMError.invalidValue("\(path) is multi-valued: send a list") }
            var result: [JSONValue] = []
            var primaries = 0
            for item in items where !item.isNull {
                let element = try validateSingle(
                    item,
                    definition: definition,
                    path: path,
                    dropUnsupported: dropUnsupported,
                    unsupported: &unsupported
                )
                if element[attribute: "primary"]?.scimBoolean == true { primaries += 1 }
                result.append(element)
            }
            guard primaries <= 1 else { throw SCIMError.invalidValue("at most one of \(path) may be primary; \(primaries) are") }
            return .array(result)
        }
        return try validateSingle(value, definition: definition, path: path, dropUnsupported: dropUnsupported, unsupported: &unsupported)
    }

    func validateSingle(
        _ value: JSONValue,
        definition: AttributeDefinition,
        path: String,
        dropUnsupported: Bool,
        unsupported: inout [String]
    ) throws(SCIMError) -> JSONValue {
        guard definition.type == .complex else { return try scalar(value, definition: definition, path: path) }
        // Entra sends the enterprise manager as a bare id.
        if definition.name == "manager", value.stringValue != nil { return value }
        guard case .object(let members) = value else { throw SCIMError.invalidValue("\(path) must be an object") }
        var result: [String: JSONValue] = [:]
        for (key, inner) in members {
            guard let sub = definition.subAttribute(key) else {
                unsupported.append("\(path).\(key)")
                if !dropUnsupported { result[key] = inner }
                continue
            }
            if sub.mutability == .readOnly { continue }
            result[key] = inner.isNull ? inner : try scalar(inner, definition: sub, path: "\(path).\(sub.name)")
        }
        return .object(result)
    }

    /// The type check every writer shares (``AttributeDefinition/checked(_:path:)``), plus canonical values.
    func scalar(_ value: JSONValue, definition: AttributeDefinition, path: String) throws(SCIMError) -> JSONValue {
        _ = try definition.checked(value, path: path)
        try checkLength(value, path: path)
        if enforceCanonicalValues, !definition.canonicalValues.isEmpty, let text = value.stringValue,
            !definition.canonicalValues.contains(where: { $0.lowercased() == text.lowercased() })
        {
            throw SCIMError.invalidValue("\(path) must be one of \(definition.canonicalValues.joined(separator: ", ")), not '\(text)'")
        }
        return value
    }

    /// A string longer than its limit is 400 `invalidValue` naming the attribute and the limit.
    func checkLength(_ value: JSONValue, path: String) throws(SCIMError) {
        guard let text = value.stringValue else { return }
        let limit = Self.identifierPaths.contains(path.lowercased()) ? limits.identifier : limits.string
        // Counting UTF-8 first keeps the common case (short strings) free of grapheme breaking.
        guard text.utf8.count > limit, text.count > limit else { return }
        throw SCIMError.invalidValue("\(path) is longer than \(limit) characters")
    }

    // MARK: PATCH

    /// A PATCH path, resolved against the schemas.
    struct Target {
        var schema: SchemaDefinition
        var definition: AttributeDefinition?
        var wholeExtension: Bool
        var hasFilter: Bool
        var subAttribute: AttributeDefinition?
        var subName: String?
    }

    /// The path resolved once (``PatchPath``, shared with the engine and the service); `nil` for an attribute the
    /// schemas do not define (unsupported).
    func resolve(_ path: String, type: ResourceType) throws(SCIMError) -> Target? {
        let resolved = try PatchPath(
            parsing: path,
            schemas: [core(type)] + extensions(type),
            coreSchema: core(type).id,
            filterLimits: limits.filter
        )
        if let whole = resolved.wholeExtension {
            return Target(schema: whole, definition: nil, wholeExtension: true, hasFilter: false, subAttribute: nil, subName: nil)
        }
        guard let schema = resolved.schema else { return nil }
        guard let definition = resolved.definition else {
            if ["id", "meta", "schemas", "externalid"].contains(resolved.attribute.lowercased()) {
                return Target(
                    schema: schema,
                    definition: nil,
                    wholeExtension: false,
                    hasFilter: resolved.filter != nil,
                    subAttribute: nil,
                    subName: resolved.subAttribute
                )
            }
            return nil
        }
        return Target(
            schema: schema,
            definition: definition,
            wholeExtension: false,
            hasFilter: resolved.filter != nil,
            subAttribute: resolved.subDefinition,
            subName: resolved.subAttribute
        )
    }

    /// Checks each operation; drops what is not stored (write-only `password` always, unsupported attributes when
    /// `dropUnsupported`) and, in a no-path value, an `id` equal to the resource's own (Okta sends it). What is left
    /// may be empty: a PATCH that changes nothing stored is a no-op, answered like any other.
    func validatePatch(
        _ operations: [PatchOperation],
        type: ResourceType,
        resourceID: String,
        dropUnsupported: Bool,
        unsupported: inout [String]
    ) throws(SCIMError) -> [PatchOperation] {
        var kept: [PatchOperation] = []
        for operation in operations {
            guard let path = operation.path else {
                guard case .object(let members) = operation.value else {
                    throw SCIMError.invalidValue("\(operation.op.rawValue) without a path needs an object value")
                }
                var value: [String: JSONValue] = [:]
                for (key, inner) in members {
                    if key.lowercased() == "schemas" { continue }
                    if key.lowercased() == "id", inner.stringValue == resourceID { continue }
                    if let unstored = try self.unstored(key, type: type) {
                        let checked = try validate(
                            inner,
                            definition: unstored,
                            path: unstored.name,
                            dropUnsupported: dropUnsupported,
                            unsupported: &unsupported
                        )
                        if unstored.mutability == .writeOnly { continue }
                        unsupported.append(unstored.name)
                        if !dropUnsupported { value[key] = checked }
                        continue
                    }
                    if let target = try resolve(key, type: type) {
                        value[key] = try validateValue(
                            inner,
                            target: target,
                            op: operation.op,
                            path: key,
                            dropUnsupported: dropUnsupported,
                            unsupported: &unsupported
                        )
                    } else {
                        unsupported.append(key)
                        if !dropUnsupported { value[key] = inner }
                    }
                }
                if !value.isEmpty { kept.append(PatchOperation(op: operation.op, path: nil, value: .object(value))) }
                continue
            }
            if let unstored = try self.unstored(path, type: type) {
                if operation.op != .remove, let value = operation.value {
                    let list: JSONValue = unstored.multiValued && value.arrayValue == nil ? [value] : value
                    _ = try validate(list, definition: unstored, path: unstored.name, dropUnsupported: dropUnsupported, unsupported: &unsupported)
                }
                if unstored.mutability == .writeOnly { continue }
                unsupported.append(path)
                if !dropUnsupported { kept.append(operation) }
                continue
            }
            guard let target = try resolve(path, type: type) else {
                unsupported.append(path)
                if !dropUnsupported { kept.append(operation) }
                continue
            }
            var checked = operation
            if operation.op != .remove, let value = operation.value {
                checked.value = try validateValue(
                    value,
                    target: target,
                    op: operation.op,
                    path: path,
                    dropUnsupported: dropUnsupported,
                    unsupported: &unsupported
                )
            } else {
                try checkMutability(target, op: operation.op, path: path)
            }
            kept.append(checked)
        }
        return kept
    }

    /// The RFC 7643 User attribute a plain path names when this deployment does not store it (`password`,
    /// `phoneNumbers`); paths into it (`phoneNumbers[type eq "work"].value`) are not shape-checked.
    func unstored(_ path: String, type: ResourceType) throws(SCIMError) -> AttributeDefinition? {
        guard type == .user, core(type).attribute(path) == nil else { return nil }
        let name = path.lowercased().hasPrefix(SCIMSchema.user.lowercased() + ":") ? String(path.dropFirst(SCIMSchema.user.count + 1)) : path
        return SchemaDefinition.unstoredUser.attribute(name)
    }

    func checkMutability(_ target: Target, op: PatchOperation.Op, path: String) throws(SCIMError) {
        let attributeName = target.definition?.name.lowercased()
        if target.definition == nil, !target.wholeExtension, let name = path.split(separator: "[").first?.split(separator: ".").first?.lowercased(),
            ["id", "meta", "schemas"].contains(name)
        {
            throw SCIMError(status: .badRequest, scimType: .mutability, detail: "\(path) is read-only")
        }
        if target.definition?.mutability == .readOnly || target.subAttribute?.mutability == .readOnly {
            throw SCIMError(status: .badRequest, scimType: .mutability, detail: "\(path) is read-only")
        }
        if op == .replace, target.subAttribute?.mutability == .immutable || target.definition?.mutability == .immutable {
            throw SCIMError(status: .badRequest, scimType: .mutability, detail: "\(path) is immutable: it cannot be replaced")
        }
        _ = attributeName
    }

    func validateValue(
        _ value: JSONValue,
        target: Target,
        op: PatchOperation.Op,
        path: String,
        dropUnsupported: Bool,
        unsupported: inout [String]
    ) throws(SCIMError) -> JSONValue {
        try checkMutability(target, op: op, path: path)
        if target.wholeExtension {
            guard case .object(let members) = value else { throw SCIMError.invalidValue("\(path) takes an object value") }
            return .object(
                try validateAttributes(
                    members,
                    schema: target.schema,
                    prefix: path + ":",
                    dropUnsupported: dropUnsupported,
                    unsupported: &unsupported
                )
            )
        }
        guard let definition = target.definition else {
            // externalId
            guard value.isNull || value.stringValue != nil else { throw SCIMError.invalidValue("\(path) must be a string") }
            return value
        }
        if let subName = target.subName {
            guard let sub = target.subAttribute else {
                unsupported.append(path)
                return value
            }
            return try scalar(value, definition: sub, path: "\(definition.name).\(sub.name)")
        }
        if target.hasFilter {
            return try validateSingle(
                value,
                definition: definition,
                path: definition.name,
                dropUnsupported: dropUnsupported,
                unsupported: &unsupported
            )
        }
        if definition.multiValued {
            // A single element is accepted for add/replace and treated as a one-element list.
            let list: JSONValue = value.arrayValue != nil ? value : [value]
            return try validate(list, definition: definition, path: definition.name, dropUnsupported: dropUnsupported, unsupported: &unsupported)
        }
        if definition.type == .complex, case .object = value {
            return try validateSingle(
                value,
                definition: definition,
                path: definition.name,
                dropUnsupported: dropUnsupported,
                unsupported: &unsupported
            )
        }
        return try validate(value, definition: definition, path: definition.name, dropUnsupported: dropUnsupported, unsupported: &unsupported)
    }
}
