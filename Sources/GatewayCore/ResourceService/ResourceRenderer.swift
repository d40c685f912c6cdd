public import SCIMCore

/// A managed group as it appears in a user's `groups`.
public struct GroupReference: Sendable, Hashable {
    public var id: String
    public var name: String

    public init(id: String, name: String) {
        self.id = id
        self.name = name
    }
}

/// Renders directory records as SCIM resources: attributes, `schemas`, `meta` and the weak ETag.
public enum ResourceRenderer {
    /// `W/"3"` for version 3.
    public static func version(_ number: Int) -> String { "W/\"\(number)\"" }

    /// The user `record` with its `groups` (`nil`: left out, as the projection asked).
    public static func user(_ record: MemberRecord, groups: [GroupReference]?, baseURL: String) -> SCIMResource {
        var body = record.attributes
        body["password"] = nil  // write-only; a store written before it was dropped may still hold one
        body["id"] = .string(record.id)
        body["userName"] = .string(record.userName ?? "")
        if let active = record.active { body["active"] = .bool(active) }
        if let externalID = record.externalID { body["externalId"] = .string(externalID) }
        if let groups, !groups.isEmpty {
            body["groups"] = .array(
                groups.map {
                    ["value": .string($0.id), "display": .string($0.name), "$ref": .string("\(baseURL)/Groups/\($0.id)"), "type": "direct"]
                }
            )
        }
        body["schemas"] = schemas(core: SCIMSchema.user, body: body)
        body["meta"] = meta(
            type: .user,
            id: record.id,
            version: record.version,
            created: record.createdAt,
            modified: record.updatedAt,
            baseURL: baseURL
        )
        return SCIMResource(id: record.id, version: version(record.version), body: .object(body))
    }

    /// The group `record` with its `members` (`nil`: left out, as the projection asked).
    public static func group(_ record: GroupRecord, memberIDs: [String]?, baseURL: String) -> SCIMResource {
        var body = record.attributes
        body["id"] = .string(record.id)
        body["displayName"] = .string(record.name)
        if let memberIDs {
            // `display` is left out: it is read-only and would differ from what the client wrote.
            body["members"] = .array(memberIDs.map { ["value": .string($0), "$ref": .string("\(baseURL)/Users/\($0)"), "type": "User"] })
        }
        if let externalID = record.externalID { body["externalId"] = .string(externalID) }
        body["schemas"] = schemas(core: SCIMSchema.group, body: body)
        body["meta"] = meta(
            type: .group,
            id: record.id,
            version: record.version,
            created: record.createdAt,
            modified: record.updatedAt,
            baseURL: baseURL
        )
        return SCIMResource(id: record.id, version: version(record.version), body: .object(body))
    }

    static func meta(type: ResourceType, id: String, version number: Int, created: String, modified: String, baseURL: String) -> JSONValue {
        [
            "resourceType": .string(type.name),
            "created": .string(created),
            "lastModified": .string(modified),
            "location": .string("\(baseURL)\(type.endpoint)/\(id)"),
            "version": .string(version(number)),
        ]
    }

    /// The core schema, then every extension the resource carries.
    static func schemas(core: String, body: [String: JSONValue]) -> JSONValue {
        let extensions = body.keys.filter { $0.lowercased().hasPrefix("urn:") && body[$0]?.objectValue != nil }.sorted()
        return .array(([core] + extensions).map { .string($0) })
    }

    /// Renders a page of users, loading their groups in one call when the projection shows them.
    public static func users(
        _ records: [MemberRecord],
        projection: Projection,
        baseURL: String,
        in directory: any DirectoryTransaction
    ) async throws -> [SCIMResource] {
        var groups: [String: [GroupReference]]? = nil
        if projection.includes(attribute: "groups"), !records.isEmpty {
            groups = try await directory.managedGroups(ofMembers: records.map(\.id))
        }
        return records.map { record in user(record, groups: groups.map { $0[record.id] ?? [] }, baseURL: baseURL) }
    }

    /// Renders a page of groups, loading their managed members in one call when the projection shows them.
    public static func groups(
        _ records: [GroupRecord],
        projection: Projection,
        baseURL: String,
        in directory: any DirectoryTransaction
    ) async throws -> [SCIMResource] {
        var members: [String: [String]]? = nil
        if projection.includes(attribute: "members"), !records.isEmpty {
            members = try await directory.memberIDs(ofGroups: records.map(\.id))
        }
        return records.map { record in group(record, memberIDs: members.map { $0[record.id] ?? [] }, baseURL: baseURL) }
    }
}
