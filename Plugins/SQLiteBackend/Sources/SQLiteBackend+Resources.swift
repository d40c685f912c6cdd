import Foundation
public import GatewayCore
import Logging
public import SCIMCore
import SQLiteNIO

/// The SCIM side of the embedded directory. Only *managed* objects (made through SCIM) exist here: unmanaged
/// members and groups are never listed, matched or found by id.
extension SQLiteBackend {
    public func create(_ resource: JSONValue, in type: ResourceType, context: GatewayContext) async throws -> SCIMResource {
        let principal = try context.requirePrincipal()
        let id = Self.newID()
        let now = Timestamp.now
        do {
            if type == .user {
                let draft = try Self.userDraft(resource, context: context, organizationID: principal.organizationID)
                let role = context.policy.role?(draft.attributes["roles"]) ?? .standard
                return try await store.write { connection in
                    let conflict = try await Self.checkUserUniqueness(
                        draft,
                        excluding: nil,
                        organizationID: principal.organizationID,
                        adopting: context.policy.onUnmanagedConflict == .adopt,
                        on: connection
                    )
                    if let unmanaged = conflict {
                        return try await Self.adopt(unmanaged, draft: draft, role: role, principal: principal, context: context, on: connection)
                    }
                    _ = try await connection.query(
                        """
                        INSERT INTO members (id, organization_id, email, first_name, last_name, role, managed, active, user_name,
                                             external_id, attributes, version, created_at, updated_at)
                        VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, 1, ?, ?)
                        """,
                        [
                            .text(id), .text(principal.organizationID), .optional(draft.email), .optional(draft.firstName),
                            .optional(draft.lastName), .text(role.rawValue), .optionalFlag(draft.active), .text(draft.userName),
                            .optional(draft.externalID), .text(try Self.encode(draft.attributes)), .text(now), .text(now),
                        ]
                    )
                    return try await Self.load(
                        id: id,
                        type: .user,
                        organizationID: principal.organizationID,
                        baseURL: context.baseURL,
                        on: connection
                    )
                }
            }
            let draft = try ResourceCodec.groupDraft(
                from: resource,
                keepUnsupported: context.policy.storeUnsupportedAttributes,
                schemas: context.schemas
            )
            return try await store.write { connection in
                try await Self.checkGroupName(draft.displayName, excluding: nil, organizationID: principal.organizationID, on: connection)
                try await Self.checkMembers(draft.memberIDs, organizationID: principal.organizationID, on: connection)
                _ = try await connection.query(
                    """
                    INSERT INTO groups (id, organization_id, name, managed, external_id, attributes, version, created_at, updated_at)
                    VALUES (?, ?, ?, 1, ?, ?, 1, ?, ?)
                    """,
                    [
                        .text(id), .text(principal.organizationID), .text(draft.displayName), .optional(draft.externalID),
                        .text(try Self.encode(draft.attributes)), .text(now), .text(now),
                    ]
                )
                for memberID in draft.memberIDs {
                    _ = try await connection.query("INSERT INTO group_members (group_id, member_id) VALUES (?, ?)", [.text(id), .text(memberID)])
                }
                return try await Self.load(id: id, type: .group, organizationID: principal.organizationID, baseURL: context.baseURL, on: connection)
            }
        } catch {
            throw Self.translate(error)
        }
    }

    public func get(id: String, in type: ResourceType, projection: Projection, context: GatewayContext) async throws -> SCIMResource {
        let principal = try context.requirePrincipal()
        return try await store.read { connection in
            try await Self.load(
                id: id,
                type: type,
                organizationID: principal.organizationID,
                projection: projection,
                baseURL: context.baseURL,
                on: connection
            )
        }
    }

    public func replace(
        id: String,
        with resource: JSONValue,
        in type: ResourceType,
        ifMatch: String?,
        context: GatewayContext
    ) async throws -> SCIMResource {
        try await update(id: id, in: type, ifMatch: ifMatch, context: context) { _ in resource }
    }

    public func patch(
        id: String,
        operations: [PatchOperation],
        in type: ResourceType,
        ifMatch: String?,
        context: GatewayContext
    ) async throws -> SCIMResource {
        let engine = PatchEngine(schemas: context.schemas.schemas(type), coreSchema: type.schema)
        return try await update(id: id, in: type, ifMatch: ifMatch, context: context) { current in try engine.apply(operations, to: current.body) }
    }

    /// Reads the resource, checks `If-Match`, computes its new form and writes it, in one write transaction:
    /// concurrent changes to one resource serialise and none is lost. An unchanged resource is not written.
    func update(
        id: String,
        in type: ResourceType,
        ifMatch: String?,
        context: GatewayContext,
        change: @Sendable (SCIMResource) throws -> JSONValue
    ) async throws -> SCIMResource {
        let principal = try context.requirePrincipal()
        do {
            return try await store.write { connection in
                let current = try await Self.load(
                    id: id,
                    type: type,
                    organizationID: principal.organizationID,
                    baseURL: context.baseURL,
                    on: connection
                )
                try Self.checkPrecondition(ifMatch, current: current)
                let changed = try change(current)
                if changed == current.body { return current }
                try await Self.save(changed, over: current, type: type, context: context, principal: principal, on: connection)
                return try await Self.load(id: id, type: type, organizationID: principal.organizationID, baseURL: context.baseURL, on: connection)
            }
        } catch {
            throw Self.translate(error)
        }
    }

    public func delete(id: String, in type: ResourceType, ifMatch: String?, context: GatewayContext) async throws {
        let principal = try context.requirePrincipal()
        try await store.write { connection in
            let current =
                try await Self.load(id: id, type: type, organizationID: principal.organizationID, baseURL: context.baseURL, on: connection)
            try Self.checkPrecondition(ifMatch, current: current)
            let table = type == .user ? "members" : "groups"
            _ = try await connection.query("DELETE FROM \(table) WHERE id = ?", [.text(id)])
        }
    }

    public func search(_ query: SearchQuery, in type: ResourceType, context: GatewayContext) async throws -> SearchResult {
        let principal = try context.requirePrincipal()
        let table = type == .user ? "members" : "groups"
        var whereClause = "organization_id = ? AND managed = 1"
        var binds: [SQLiteData] = [.text(principal.organizationID)]
        if let filter = query.filter {
            let compiled = try SQLFilter.compile(filter, type: type, schemas: context.schemas)
            whereClause += " AND \(compiled.sql)"
            binds += compiled.binds
        }
        var order = "created_at, id"
        if let sortBy = query.sortBy {
            let direction = query.descending ? "DESC" : "ASC"
            switch try SQLFilter.target(sortBy, type: type, schemas: context.schemas) {
            case .column(let column, let caseExact, _):
                order = "\(column)\(caseExact ? "" : " COLLATE NOCASE") \(direction), created_at, id"
            case .json(let path, let caseExact, _):
                order = "json_extract(attributes, '\(path)')\(caseExact ? "" : " COLLATE NOCASE") \(direction), created_at, id"
            default:
                throw SCIMError.invalidValue("sortBy \(sortBy) is not a sortable attribute")
            }
        }
        let countBinds = binds
        let pageBinds = binds + [.integer(query.count), .integer(query.startIndex - 1)]
        let clause = whereClause
        return try await store.read { connection in
            func count() async throws -> Int {
                try await connection.query("SELECT COUNT(*) AS n FROM \(table) WHERE \(clause)", countBinds).first?.int("n") ?? 0
            }
            guard query.count > 0 else { return SearchResult(totalResults: try await count(), resources: []) }
            let rows = try await connection.query("SELECT * FROM \(table) WHERE \(clause) ORDER BY \(order) LIMIT ? OFFSET ?", pageBinds)
            // A first page that is not full holds every match: no need to count them again (the common lookup case).
            let total = query.startIndex == 1 && rows.count < query.count ? rows.count : try await count()
            let resources = try await Self.render(rows, type: type, projection: query.projection, baseURL: context.baseURL, on: connection)
            return SearchResult(totalResults: total, resources: resources)
        }
    }

    // MARK: Writing

    static func checkPrecondition(_ ifMatch: String?, current: SCIMResource) throws {
        if let ifMatch, !ETag.matches(ifMatch, version: current.version) {
            throw SCIMError(status: .preconditionFailed, detail: "the resource has changed: its version is \(current.version)")
        }
    }

    /// Writes `resource` as the new state of `current` (replace and patch share this).
    static func save(
        _ resource: JSONValue,
        over current: SCIMResource,
        type: ResourceType,
        context: GatewayContext,
        principal: Principal,
        on connection: SQLiteConnection
    ) async throws {
        let now = Timestamp.now
        if let id = resource[attribute: "id"]?.stringValue, id != current.id {
            throw SCIMError(status: .badRequest, scimType: .mutability, detail: "id is read-only and cannot change")
        }
        if type == .user {
            let draft = try userDraft(resource, context: context, organizationID: principal.organizationID)
            // An update never adopts: an email taken by any other member is a conflict.
            _ = try await checkUserUniqueness(draft, excluding: current.id, organizationID: principal.organizationID, adopting: false, on: connection)
            let currentRole = try await connection.query("SELECT role FROM members WHERE id = ?", [.text(current.id)]).first?.string("role")
            // SCIM never grants or removes Owner; without a role mapping the role is left as it is.
            var role = MemberRole(rawValue: currentRole ?? "") ?? .standard
            if role != .owner, let mapping = context.policy.role { role = mapping(draft.attributes["roles"]) }
            _ = try await connection.query(
                """
                UPDATE members SET email = ?, first_name = ?, last_name = ?, role = ?, active = ?, user_name = ?, external_id = ?,
                                   attributes = ?, version = version + 1, updated_at = ?
                WHERE id = ?
                """,
                [
                    .optional(draft.email), .optional(draft.firstName), .optional(draft.lastName), .text(role.rawValue), .optionalFlag(draft.active),
                    .text(draft.userName), .optional(draft.externalID), .text(try encode(draft.attributes)), .text(now), .text(current.id),
                ]
            )
            return
        }
        let draft = try ResourceCodec.groupDraft(from: resource, keepUnsupported: context.policy.storeUnsupportedAttributes, schemas: context.schemas)
        try await checkGroupName(draft.displayName, excluding: current.id, organizationID: principal.organizationID, on: connection)
        let existing = Set(
            try await connection.query("SELECT member_id FROM group_members WHERE group_id = ?", [.text(current.id)]).compactMap {
                $0.string("member_id")
            }
        )
        // Only members new to the group need checking: one query each, so a PATCH adding 25 members to a group of
        // 10,000 checks 25, not 10,025.
        try await checkMembers(draft.memberIDs.filter { !existing.contains($0) }, organizationID: principal.organizationID, on: connection)
        _ = try await connection.query(
            "UPDATE groups SET name = ?, external_id = ?, attributes = ?, version = version + 1, updated_at = ? WHERE id = ?",
            [.text(draft.displayName), .optional(draft.externalID), .text(try encode(draft.attributes)), .text(now), .text(current.id)]
        )
        let wanted = Set(draft.memberIDs)
        for removed in existing.subtracting(wanted) {
            _ = try await connection.query("DELETE FROM group_members WHERE group_id = ? AND member_id = ?", [.text(current.id), .text(removed)])
        }
        for added in draft.memberIDs where !existing.contains(added) {
            _ = try await connection.query("INSERT INTO group_members (group_id, member_id) VALUES (?, ?)", [.text(current.id), .text(added)])
        }
    }

    /// The user as it will be stored: the attribute mapping applied (when there is one), then validated and split
    /// into member fields.
    static func userDraft(_ resource: JSONValue, context: GatewayContext, organizationID: String) throws -> ResourceCodec.UserDraft {
        var resource = resource
        var fields = MemberFields()
        if let mapping = context.policy.mapping { (resource, fields) = try mapping(resource, organizationID) }
        var draft = try ResourceCodec.userDraft(from: resource, keepUnsupported: context.policy.storeUnsupportedAttributes, schemas: context.schemas)
        // As with emails themselves, only a value that is an address becomes the member's email.
        if let email = fields.email, looksLikeEmail(email) { draft.email = email }
        if let firstName = fields.firstName { draft.firstName = firstName }
        if let lastName = fields.lastName { draft.lastName = lastName }
        return draft
    }

    /// Refuses a userName or email another member holds. With `adopting`, an email held by an unmanaged member is not
    /// a conflict: that member's id is returned, to be adopted.
    static func checkUserUniqueness(
        _ draft: ResourceCodec.UserDraft,
        excluding id: String?,
        organizationID: String,
        adopting: Bool,
        on connection: SQLiteConnection
    ) async throws -> String? {
        let sameName = try await connection.query(
            "SELECT id FROM members WHERE organization_id = ? AND user_name = ? COLLATE NOCASE",
            [.text(organizationID), .text(draft.userName)]
        )
        if let other = sameName.first?.string("id"), other != id {
            throw SCIMError.uniqueness("userName \(draft.userName) is already taken (userName is compared case-insensitively)")
        }
        guard let email = draft.email else { return nil }
        let sameEmail = try await connection.query(
            "SELECT id, managed FROM members WHERE organization_id = ? AND email = ? COLLATE NOCASE",
            [.text(organizationID), .text(email)]
        )
        if let row = sameEmail.first, let other = row.string("id"), other != id {
            if !row.bool("managed"), adopting { return other }
            if row.bool("managed") {
                throw SCIMError.uniqueness("email \(email) already belongs to another provisioned user")
            }
            throw SCIMError.uniqueness(
                "email \(email) belongs to an existing member created in Fulcrum (unmanaged); remove that member in Fulcrum "
                    + "or set onUnmanagedConflict: adopt in the managed-namespace stage to let the identity provider take it over"
            )
        }
        return nil
    }

    /// Makes an unmanaged member managed: it keeps its Fulcrum id (and an Owner stays an Owner); the adoption is recorded.
    static func adopt(
        _ memberID: String,
        draft: ResourceCodec.UserDraft,
        role: MemberRole,
        principal: Principal,
        context: GatewayContext,
        on connection: SQLiteConnection
    ) async throws -> SCIMResource {
        if memberID == principal.memberID {
            throw SCIMError.forbidden("the email \(draft.email ?? "") belongs to the Owner whose token is in use; SCIM cannot take over that member")
        }
        let now = Timestamp.now
        let currentRole = try await connection.query("SELECT role FROM members WHERE id = ?", [.text(memberID)]).first?.string("role")
        let keptRole = currentRole == MemberRole.owner.rawValue ? MemberRole.owner : role
        _ = try await connection.query(
            """
            UPDATE members SET managed = 1, first_name = COALESCE(?, first_name), last_name = COALESCE(?, last_name), role = ?, active = ?,
                               user_name = ?, external_id = ?, attributes = ?, version = version + 1, updated_at = ?
            WHERE id = ?
            """,
            [
                .optional(draft.firstName), .optional(draft.lastName), .text(keptRole.rawValue), .optionalFlag(draft.active), .text(draft.userName),
                .optional(draft.externalID), .text(try encode(draft.attributes)), .text(now), .text(memberID),
            ]
        )
        _ = try await connection.query(
            "INSERT INTO adoptions (member_id, organization_id, token_id, user_name, adopted_at) VALUES (?, ?, ?, ?, ?)",
            [.text(memberID), .text(principal.organizationID), .text(principal.tokenID), .text(draft.userName), .text(now)]
        )
        context.logger.notice(
            "adopted an unmanaged member",
            metadata: ["fulcrum.member_id": "\(memberID)", "scim.organization": "\(principal.organizationID)"]
        )
        return try await load(id: memberID, type: .user, organizationID: principal.organizationID, baseURL: context.baseURL, on: connection)
    }

    static func checkGroupName(_ name: String, excluding id: String?, organizationID: String, on connection: SQLiteConnection) async throws {
        let rows = try await connection.query(
            "SELECT id FROM groups WHERE organization_id = ? AND managed = 1 AND name = ? COLLATE NOCASE",
            [.text(organizationID), .text(name)]
        )
        if let other = rows.first?.string("id"), other != id {
            throw SCIMError.uniqueness("a group named \(name) already exists")
        }
    }

    /// Every member must be a managed user of the organization; a group id is refused as nesting.
    static func checkMembers(_ ids: [String], organizationID: String, on connection: SQLiteConnection) async throws {
        for id in ids {
            let rows = try await connection.query(
                "SELECT managed FROM members WHERE id = ? AND organization_id = ?",
                [.text(id), .text(organizationID)]
            )
            if rows.first?.bool("managed") == true { continue }
            let isGroup = try await connection.query("SELECT 1 FROM groups WHERE id = ? AND organization_id = ?", [.text(id), .text(organizationID)])
            if !isGroup.isEmpty { throw SCIMError.invalidValue("member \(id) is a Group: nested groups are not supported") }
            throw SCIMError.invalidValue("member \(id) is not a User provisioned in this organization")
        }
    }

    static func encode(_ attributes: [String: JSONValue]) throws -> String {
        String(decoding: JSONValue.object(attributes).serialized(), as: UTF8.self)
    }

    static func decode(_ text: String?) -> [String: JSONValue] {
        guard let text else { return [:] }
        let data = Array(text.utf8)
        return (try? JSONValue(parsing: data))?.objectValue ?? [:]
    }

    // MARK: Reading

    /// One managed resource of the organization, or 404.
    static func load(
        id: String,
        type: ResourceType,
        organizationID: String,
        projection: Projection = .all,
        baseURL: String,
        on connection: SQLiteConnection
    ) async throws -> SCIMResource {
        let table = type == .user ? "members" : "groups"
        let rows = try await connection.query(
            "SELECT * FROM \(table) WHERE id = ? AND organization_id = ? AND managed = 1",
            [.text(id), .text(organizationID)]
        )
        guard !rows.isEmpty else { throw SCIMError.notFound(type, id: id) }
        return try await render(rows, type: type, projection: projection, baseURL: baseURL, on: connection)[0]
    }

    static func render(
        _ rows: [SQLiteRow],
        type: ResourceType,
        projection: Projection,
        baseURL: String,
        on connection: SQLiteConnection
    )
        async throws -> [SCIMResource]
    {
        type == .user
            ? try await renderUsers(rows, withGroups: projection.includes(attribute: "groups"), baseURL: baseURL, on: connection)
            : try await renderGroups(rows, withMembers: projection.includes(attribute: "members"), baseURL: baseURL, on: connection)
    }

    static func placeholders(_ count: Int) -> String {
        Array(repeating: "?", count: count).joined(separator: ", ")
    }

    static func meta(_ row: SQLiteRow, type: ResourceType, id: String, baseURL: String) -> (JSONValue, String) {
        let version = "W/\"\(row.int("version"))\""
        let meta: JSONValue = [
            "resourceType": .string(type.name),
            "created": .string(row.string("created_at") ?? ""),
            "lastModified": .string(row.string("updated_at") ?? ""),
            "location": .string("\(baseURL)\(type.endpoint)/\(id)"),
            "version": .string(version),
        ]
        return (meta, version)
    }

    /// The core schema, then every extension the resource carries.
    static func schemas(core: String, body: [String: JSONValue]) -> JSONValue {
        let extensions = body.keys.filter { $0.lowercased().hasPrefix("urn:") && body[$0]?.objectValue != nil }.sorted()
        return .array(([core] + extensions).map { .string($0) })
    }

    static func renderUsers(_ rows: [SQLiteRow], withGroups: Bool, baseURL: String, on connection: SQLiteConnection) async throws -> [SCIMResource] {
        let ids = rows.compactMap { $0.string("id") }
        var groups: [String: [JSONValue]] = [:]
        if withGroups, !ids.isEmpty {
            let memberships = try await connection.query(
                """
                SELECT gm.member_id, g.id, g.name FROM group_members gm JOIN groups g ON g.id = gm.group_id
                WHERE g.managed = 1 AND gm.member_id IN (\(placeholders(ids.count))) ORDER BY g.name COLLATE NOCASE, g.id
                """,
                ids.map { .text($0) }
            )
            for row in memberships {
                let groupID = row.string("id") ?? ""
                groups[row.string("member_id") ?? "", default: []].append([
                    "value": .string(groupID), "display": .string(row.string("name") ?? ""),
                    "$ref": .string("\(baseURL)/Groups/\(groupID)"), "type": "direct",
                ])
            }
        }
        return rows.map { row in
            let id = row.string("id") ?? ""
            var body = decode(row.string("attributes"))
            body["id"] = .string(id)
            body["userName"] = .string(row.string("user_name") ?? "")
            if row.column("active") != .null { body["active"] = .bool(row.bool("active")) }
            if let externalID = row.string("external_id") { body["externalId"] = .string(externalID) }
            if let memberGroups = groups[id] { body["groups"] = .array(memberGroups) }
            body["schemas"] = schemas(core: SCIMSchema.user, body: body)
            let (meta, version) = meta(row, type: .user, id: id, baseURL: baseURL)
            body["meta"] = meta
            return SCIMResource(id: id, version: version, body: .object(body))
        }
    }

    static func renderGroups(
        _ rows: [SQLiteRow],
        withMembers: Bool,
        baseURL: String,
        on connection: SQLiteConnection
    ) async throws
        -> [SCIMResource]
    {
        let ids = rows.compactMap { $0.string("id") }
        var members: [String: [JSONValue]] = [:]
        if withMembers, !ids.isEmpty {
            let memberships = try await connection.query(
                """
                SELECT gm.group_id, m.id FROM group_members gm JOIN members m ON m.id = gm.member_id
                WHERE m.managed = 1 AND gm.group_id IN (\(placeholders(ids.count))) ORDER BY m.created_at, m.id
                """,
                ids.map { .text($0) }
            )
            for row in memberships {
                let memberID = row.string("id") ?? ""
                // `display` is left out: it is read-only and would differ from what the client wrote.
                members[row.string("group_id") ?? "", default: []].append([
                    "value": .string(memberID), "$ref": .string("\(baseURL)/Users/\(memberID)"), "type": "User",
                ])
            }
        }
        return rows.map { row in
            let id = row.string("id") ?? ""
            var body = decode(row.string("attributes"))
            body.merge([
                "schemas": [.string(SCIMSchema.group)],
                "id": .string(id),
                "displayName": .string(row.string("name") ?? ""),
            ]) { _, column in column }
            if withMembers { body["members"] = .array(members[id] ?? []) }
            body["schemas"] = schemas(core: SCIMSchema.group, body: body)
            if let externalID = row.string("external_id") { body["externalId"] = .string(externalID) }
            let (meta, version) = meta(row, type: .group, id: id, baseURL: baseURL)
            body["meta"] = meta
            return SCIMResource(id: id, version: version, body: .object(body))
        }
    }
}
