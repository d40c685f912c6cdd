internal import Foundation

/// An attribute definition of RFC 7643 §7, as `/Schemas` publishes it and the server enforces it.
public struct AttributeDefinition: Sendable, Hashable {
    public enum DataType: String, Sendable, Hashable, Codable {
        case string, boolean, decimal, integer, dateTime, reference, complex
    }

    public enum Mutability: String, Sendable, Hashable {
        case readOnly, readWrite, immutable, writeOnly
    }

    public enum Returned: String, Sendable, Hashable {
        case always, never, `default`, request
    }

    public enum Uniqueness: String, Sendable, Hashable {
        case none, server, global
    }

    public var name: String
    public var type: DataType
    public var multiValued: Bool
    public var required: Bool
    public var caseExact: Bool
    public var mutability: Mutability
    public var returned: Returned
    public var uniqueness: Uniqueness
    public var canonicalValues: [String]
    public var referenceTypes: [String]
    public var subAttributes: [AttributeDefinition]
    public var description: String

    public init(
        _ name: String,
        _ type: DataType = .string,
        multiValued: Bool = false,
        required: Bool = false,
        caseExact: Bool = false,
        mutability: Mutability = .readWrite,
        returned: Returned = .default,
        uniqueness: Uniqueness = .none,
        canonicalValues: [String] = [],
        referenceTypes: [String] = [],
        subAttributes: [AttributeDefinition] = [],
        description: String
    ) {
        self.name = name
        self.type = type
        self.multiValued = multiValued
        self.required = required
        self.caseExact = caseExact
        self.mutability = mutability
        self.returned = returned
        self.uniqueness = uniqueness
        self.canonicalValues = canonicalValues
        self.referenceTypes = referenceTypes
        self.subAttributes = subAttributes
        self.description = description
    }

    /// `value` checked against this simple attribute's type, in its stored form: booleans as booleans (Entra sends
    /// `"True"`), integers as integers, strings and references as strings, dateTimes as xsd:dateTime strings. The
    /// validation stage and the resource service both check values with this, so they cannot disagree.
    /// - Throws: ``SCIMError`` 400 `invalidValue` naming `path`.
    public func checked(_ value: JSONValue, path: String) throws(SCIMError) -> JSONValue {
        switch type {
        case .boolean:
            guard let flag = value.scimBoolean else { throw SCIMError.invalidValue("\(path) must be true or false") }
            return .bool(flag)
        case .string, .reference:
            guard value.stringValue != nil else { throw SCIMError.invalidValue("\(path) must be a string") }
            return value
        case .dateTime:
            guard let text = value.stringValue,
                (try? Date.ISO8601FormatStyle().parse(text)) != nil
                    || (try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text)) != nil
            else { throw SCIMError.invalidValue("\(path) must be an xsd:dateTime string") }
            return value
        case .integer:
            guard let number = value.intValue else { throw SCIMError.invalidValue("\(path) must be an integer") }
            return .integer(number)
        case .decimal:
            switch value {
            case .integer, .number: return value
            default: throw SCIMError.invalidValue("\(path) must be a number")
            }
        case .complex:
            throw SCIMError.invalidValue("\(path) must not be nested further")
        }
    }

    /// The sub-attribute called `name`, ignoring case.
    public func subAttribute(_ name: String) -> AttributeDefinition? {
        let lowered = name.lowercased()
        return subAttributes.first { $0.name.lowercased() == lowered }
    }

    /// The RFC 7643 §7 representation.
    public var json: JSONValue {
        var members: [String: JSONValue] = [
            "name": .string(name), "type": .string(type.rawValue), "multiValued": .bool(multiValued),
            "description": .string(description), "required": .bool(required), "caseExact": .bool(caseExact),
            "mutability": .string(mutability.rawValue), "returned": .string(returned.rawValue),
            "uniqueness": .string(uniqueness.rawValue),
        ]
        if !canonicalValues.isEmpty { members["canonicalValues"] = .array(canonicalValues.map { .string($0) }) }
        if !referenceTypes.isEmpty { members["referenceTypes"] = .array(referenceTypes.map { .string($0) }) }
        if !subAttributes.isEmpty { members["subAttributes"] = .array(subAttributes.map(\.json)) }
        return .object(members)
    }
}

/// A schema: an id (URN), a name and its attributes.
public struct SchemaDefinition: Sendable, Hashable {
    public var id: String
    public var name: String
    public var description: String
    public var attributes: [AttributeDefinition]

    public init(id: String, name: String, description: String, attributes: [AttributeDefinition]) {
        self.id = id
        self.name = name
        self.description = description
        self.attributes = attributes
    }

    /// The attribute called `name`, ignoring case.
    public func attribute(_ name: String) -> AttributeDefinition? {
        let lowered = name.lowercased()
        return attributes.first { $0.name.lowercased() == lowered }
    }

    /// The `/Schemas/{id}` representation.
    public func json(baseURL: String) -> JSONValue {
        [
            "schemas": [.string(SCIMSchema.schema)],
            "id": .string(id),
            "name": .string(name),
            "description": .string(description),
            "attributes": .array(attributes.map(\.json)),
            "meta": ["resourceType": "Schema", "location": .string("\(baseURL)/Schemas/\(id)")],
        ]
    }
}

extension SchemaDefinition {
    private static func multiValuedSubAttributes(_ valueType: AttributeDefinition.DataType, _ types: [String]) -> [AttributeDefinition] {
        [
            AttributeDefinition("value", valueType, description: "The value."),
            AttributeDefinition("display", description: "A human-readable name."),
            AttributeDefinition("type", canonicalValues: types, description: "A label for the value's function."),
            AttributeDefinition("primary", .boolean, description: "The primary value; at most one per attribute."),
        ]
    }

    /// The core User attributes of RFC 7643 §4.1 that a Fulcrum member does not store, and so `/Schemas` does not
    /// publish. Their shapes are still checked (`"phoneNumbers": "x"` is 400; canonical values are not enforced)
    /// before the `unsupportedAttributes` policy drops or keeps them; `password` is write-only and is never stored
    /// or returned in any mode.
    public static let unstoredUser = SchemaDefinition(
        id: SCIMSchema.user,
        name: "User (not stored)",
        description: "RFC 7643 User attributes a Fulcrum member does not store",
        attributes: [
            AttributeDefinition("password", mutability: .writeOnly, returned: .never, description: "Never stored, never returned."),
            AttributeDefinition("profileUrl", .reference, referenceTypes: ["external"], description: "A URI of the user's online profile."),
            AttributeDefinition(
                "phoneNumbers",
                .complex,
                multiValued: true,
                subAttributes: multiValuedSubAttributes(.string, []),
                description: "Phone numbers."
            ),
            AttributeDefinition(
                "ims",
                .complex,
                multiValued: true,
                subAttributes: multiValuedSubAttributes(.string, []),
                description: "Instant messaging addresses."
            ),
            AttributeDefinition(
                "photos",
                .complex,
                multiValued: true,
                subAttributes: multiValuedSubAttributes(.reference, []),
                description: "URLs of photos."
            ),
            AttributeDefinition(
                "addresses",
                .complex,
                multiValued: true,
                subAttributes: [
                    AttributeDefinition("formatted", description: "The full mailing address."),
                    AttributeDefinition("streetAddress", description: "The street address."),
                    AttributeDefinition("locality", description: "The city or locality."),
                    AttributeDefinition("region", description: "The state or region."),
                    AttributeDefinition("postalCode", description: "The zip or postal code."),
                    AttributeDefinition("country", description: "The country, as ISO 3166-1 alpha-2."),
                    AttributeDefinition("type", description: "A label for the address."),
                    AttributeDefinition("primary", .boolean, description: "The primary address."),
                ],
                description: "Physical mailing addresses."
            ),
            AttributeDefinition(
                "entitlements",
                .complex,
                multiValued: true,
                subAttributes: multiValuedSubAttributes(.string, []),
                description: "Entitlements."
            ),
            AttributeDefinition(
                "x509Certificates",
                .complex,
                multiValued: true,
                subAttributes: multiValuedSubAttributes(.string, []),
                description: "DER certificates, base64-encoded."
            ),
        ]
    )

    /// The core User schema, as far as a Fulcrum member stores it.
    public static let user = SchemaDefinition(
        id: SCIMSchema.user,
        name: "User",
        description: "A member of the Fulcrum organization",
        attributes: [
            AttributeDefinition(
                "userName",
                required: true,
                uniqueness: .server,
                description: "Unique identifier for the user within the organization; compared case-insensitively."
            ),
            AttributeDefinition(
                "name",
                .complex,
                subAttributes: [
                    AttributeDefinition("formatted", description: "The full name."),
                    AttributeDefinition("familyName", description: "Family name; the Fulcrum member's last name."),
                    AttributeDefinition("givenName", description: "Given name; the Fulcrum member's first name."),
                    AttributeDefinition("middleName", description: "Middle name."),
                    AttributeDefinition("honorificPrefix", description: "Honorific prefix."),
                    AttributeDefinition("honorificSuffix", description: "Honorific suffix."),
                ],
                description: "The components of the user's name."
            ),
            AttributeDefinition("displayName", description: "The name displayed to end users."),
            AttributeDefinition("nickName", description: "A casual name."),
            AttributeDefinition("title", description: "The user's title."),
            AttributeDefinition("userType", description: "The relationship to the organization."),
            AttributeDefinition("preferredLanguage", description: "Preferred written or spoken language."),
            AttributeDefinition("locale", description: "Default location for localization."),
            AttributeDefinition("timezone", description: "Time zone in IANA format."),
            AttributeDefinition("active", .boolean, description: "Whether the user is a member of the organization; false keeps the resource."),
            AttributeDefinition(
                "emails",
                .complex,
                multiValued: true,
                subAttributes: multiValuedSubAttributes(.string, ["work", "home", "other"]),
                description: "Email addresses; the primary (or work) one is the Fulcrum member's email."
            ),
            AttributeDefinition(
                "roles",
                .complex,
                multiValued: true,
                subAttributes: multiValuedSubAttributes(.string, []),
                description: "Application roles; mapped to a Fulcrum role."
            ),
            AttributeDefinition(
                "groups",
                .complex,
                multiValued: true,
                mutability: .readOnly,
                subAttributes: [
                    AttributeDefinition("value", mutability: .readOnly, description: "The group's id."),
                    AttributeDefinition("$ref", .reference, mutability: .readOnly, referenceTypes: ["Group"], description: "The group's URI."),
                    AttributeDefinition("display", mutability: .readOnly, description: "The group's displayName."),
                    AttributeDefinition("type", mutability: .readOnly, canonicalValues: ["direct"], description: "Membership type."),
                ],
                description: "Groups the user belongs to; change them through /Groups."
            ),
        ]
    )

    /// The enterprise User extension (RFC 7643 §4.3).
    public static let enterpriseUser = SchemaDefinition(
        id: SCIMSchema.enterpriseUser,
        name: "EnterpriseUser",
        description: "Enterprise User",
        attributes: [
            AttributeDefinition("employeeNumber", description: "Numeric or alphanumeric identifier assigned by the organization."),
            AttributeDefinition("costCenter", description: "Name of a cost center."),
            AttributeDefinition("organization", description: "Name of an organization."),
            AttributeDefinition("division", description: "Name of a division."),
            AttributeDefinition("department", description: "Name of a department."),
            AttributeDefinition(
                "manager",
                .complex,
                subAttributes: [
                    AttributeDefinition("value", description: "The id of the manager's User."),
                    AttributeDefinition("$ref", .reference, referenceTypes: ["User"], description: "The manager's URI."),
                    AttributeDefinition("displayName", mutability: .readOnly, description: "The manager's displayName."),
                ],
                description: "The user's manager; accepted as a bare id or an object, returned as an object."
            ),
        ]
    )

    /// The core Group schema.
    public static let group = SchemaDefinition(
        id: SCIMSchema.group,
        name: "Group",
        description: "A managed Fulcrum group",
        attributes: [
            AttributeDefinition(
                "displayName",
                required: true,
                uniqueness: .server,
                description: "The group's name; unique among managed groups of the organization."
            ),
            AttributeDefinition(
                "members",
                .complex,
                multiValued: true,
                subAttributes: [
                    AttributeDefinition("value", mutability: .immutable, description: "The id of a member User."),
                    AttributeDefinition("$ref", .reference, mutability: .immutable, referenceTypes: ["User"], description: "The member's URI."),
                    AttributeDefinition("display", mutability: .readOnly, description: "The member's displayName."),
                    AttributeDefinition("type", mutability: .immutable, canonicalValues: ["User"], description: "Always User: groups do not nest."),
                ],
                description: "Members of the group: users only."
            ),
        ]
    )

    /// Every schema the gateway publishes.
    public static let all: [SchemaDefinition] = [.user, .enterpriseUser, .group]
}
