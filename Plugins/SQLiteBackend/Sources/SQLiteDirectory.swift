import Foundation
import GatewayCore
import SCIMCore
import SQLFilterCompiler
import SQLiteNIO

/// One transaction of the embedded directory on a SQLite connection: records in, records out.
struct SQLiteDirectory: DirectoryTransaction {
    let connection: SQLiteConnection

    func query(_ sql: String, _ binds: [SQLiteData] = []) async throws -> [SQLiteRow] {
        try await connection.query(sql, binds)
    }

    // MARK: Organizations

    func organization(id: String) async throws -> Organization? {
        try await query("SELECT * FROM organizations WHERE id = ?", [.text(id)]).first.map(Self.organization(from:))
    }

    func organizations() async throws -> [Organization] {
        try await query("SELECT * FROM organizations ORDER BY created_at, rowid").map(Self.organization(from:))
    }

    func insert(_ organization: Organization) async throws {
        let now = Timestamp.now
        _ = try await query(
            "INSERT INTO organizations (id, name, plan, sso, developer_pack, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                .text(organization.id), .text(organization.name), .text(organization.features.plan.rawValue), .flag(organization.features.sso),
                .flag(organization.features.developerPack), .text(now), .text(now),
            ]
        )
    }

    func update(_ organization: Organization) async throws {
        _ = try await query(
            "UPDATE organizations SET name = ?, plan = ?, sso = ?, developer_pack = ?, updated_at = ? WHERE id = ?",
            [
                .text(organization.name), .text(organization.features.plan.rawValue), .flag(organization.features.sso),
                .flag(organization.features.developerPack), .text(Timestamp.now), .text(organization.id),
            ]
        )
    }

    static func organization(from row: SQLiteRow) -> Organization {
        Organization(
            id: row.string("id") ?? "",
            name: row.string("name") ?? "",
            features: PlanFeatures(
                plan: Plan(rawValue: row.string("plan") ?? "") ?? .essentials,
                sso: row.bool("sso"),
                developerPack: row.bool("developer_pack")
            )
        )
    }

    // MARK: Members

    func member(id: String, organizationID: String) async throws -> MemberRecord? {
        try await query("SELECT * FROM members WHERE id = ? AND organization_id = ?", [.text(id), .text(organizationID)]).first.map(
            Self.member(from:)
        )
    }

    func member(organizationID: String, _ key: MemberLookup) async throws -> MemberRecord? {
        let (column, value) =
            switch key {
            case .email(let key): ("email_key", key)
            case .userName(let key): ("user_name_key", key)
            }
        return try await query("SELECT * FROM members WHERE organization_id = ? AND \(column) = ?", [.text(organizationID), .text(value)])
            .first.map(Self.member(from:))
    }

    func members(organizationID: String) async throws -> [MemberRecord] {
        try await query("SELECT * FROM members WHERE organization_id = ? ORDER BY created_at, rowid", [.text(organizationID)]).map(Self.member(from:))
    }

    /// The member's columns and values, in one list so the two cannot drift apart.
    static func memberFields(_ member: MemberRecord) -> [(String, SQLiteData)] {
        [
            ("email", .optional(member.email)), ("email_key", .optional(member.emailKey)), ("first_name", .optional(member.firstName)),
            ("last_name", .optional(member.lastName)), ("role", .text(member.role.rawValue)), ("managed", .flag(member.managed)),
            ("active", .optionalFlag(member.active)), ("user_name", .optional(member.userName)), ("user_name_key", .optional(member.userNameKey)),
            ("external_id", .optional(member.externalID)), ("attributes", .text(encode(member.attributes))), ("version", .integer(member.version)),
            ("created_at", .text(member.createdAt)), ("updated_at", .text(member.updatedAt)),
        ]
    }

    func insert(_ member: MemberRecord) async throws {
        try await insert(into: "members", [("id", .text(member.id)), ("organization_id", .text(member.organizationID))] + Self.memberFields(member))
    }

    func update(_ member: MemberRecord) async throws {
        try await update("members", id: member.id, Self.memberFields(member))
    }

    func insert(into table: String, _ fields: [(String, SQLiteData)]) async throws {
        _ = try await query(
            "INSERT INTO \(table) (\(fields.map(\.0).joined(separator: ", "))) VALUES (\(Self.placeholders(fields.count)))",
            fields.map(\.1)
        )
    }

    /// Every column but the creation time, which never changes (so the listing index is left alone).
    func update(_ table: String, id: String, _ fields: [(String, SQLiteData)]) async throws {
        let changed = fields.filter { $0.0 != "created_at" }
        _ = try await query(
            "UPDATE \(table) SET \(changed.map { "\($0.0) = ?" }.joined(separator: ", ")) WHERE id = ?",
            changed.map(\.1) + [.text(id)]
        )
    }

    func deleteMember(id: String) async throws {
        // Foreign keys cascade to group_members, api_tokens and adoptions.
        _ = try await query("DELETE FROM members WHERE id = ?", [.text(id)])
    }

    static func member(from row: SQLiteRow) -> MemberRecord {
        MemberRecord(
            id: row.string("id") ?? "",
            organizationID: row.string("organization_id") ?? "",
            email: row.string("email"),
            firstName: row.string("first_name"),
            lastName: row.string("last_name"),
            role: MemberRole(rawValue: row.string("role") ?? "") ?? .standard,
            managed: row.bool("managed"),
            active: row.column("active") == .null ? nil : row.bool("active"),
            userName: row.string("user_name"),
            externalID: row.string("external_id"),
            attributes: decode(row.string("attributes")),
            version: row.int("version"),
            createdAt: row.string("created_at") ?? "",
            updatedAt: row.string("updated_at") ?? ""
        )
    }

    // MARK: Groups

    func group(id: String, organizationID: String) async throws -> GroupRecord? {
        try await query("SELECT * FROM groups WHERE id = ? AND organization_id = ?", [.text(id), .text(organizationID)]).first.map(Self.group(from:))
    }

    func group(organizationID: String, managed: Bool, nameKey: String) async throws -> GroupRecord? {
        try await query(
            "SELECT * FROM groups WHERE organization_id = ? AND managed = ? AND name_key = ?",
            [.text(organizationID), .flag(managed), .text(nameKey)]
        ).first.map(Self.group(from:))
    }

    func groups(organizationID: String) async throws -> [GroupRecord] {
        try await query("SELECT * FROM groups WHERE organization_id = ? ORDER BY created_at, rowid", [.text(organizationID)]).map(Self.group(from:))
    }

    /// The group's columns and values, in one list so the two cannot drift apart.
    static func groupFields(_ group: GroupRecord) -> [(String, SQLiteData)] {
        [
            ("name", .text(group.name)), ("name_key", .text(group.nameKey)), ("managed", .flag(group.managed)),
            ("external_id", .optional(group.externalID)), ("attributes", .text(encode(group.attributes))), ("version", .integer(group.version)),
            ("created_at", .text(group.createdAt)), ("updated_at", .text(group.updatedAt)),
        ]
    }

    func insert(_ group: GroupRecord) async throws {
        try await insert(into: "groups", [("id", .text(group.id)), ("organization_id", .text(group.organizationID))] + Self.groupFields(group))
    }

    func update(_ group: GroupRecord) async throws {
        try await update("groups", id: group.id, Self.groupFields(group))
    }

    func deleteGroup(id: String) async throws {
        _ = try await query("DELETE FROM groups WHERE id = ?", [.text(id)])
    }

    static func group(from row: SQLiteRow) -> GroupRecord {
        GroupRecord(
            id: row.string("id") ?? "",
            organizationID: row.string("organization_id") ?? "",
            name: row.string("name") ?? "",
            managed: row.bool("managed"),
            externalID: row.string("external_id"),
            attributes: decode(row.string("attributes")),
            version: row.int("version"),
            createdAt: row.string("created_at") ?? "",
            updatedAt: row.string("updated_at") ?? ""
        )
    }

    // MARK: Membership

    func memberIDs(ofGroups groupIDs: [String]) async throws -> [String: [String]] {
        guard !groupIDs.isEmpty else { return [:] }
        var result: [String: [String]] = [:]
        for row in try await query(
            """
            SELECT gm.group_id, gm.member_id FROM group_members gm JOIN members m ON m.id = gm.member_id
            WHERE gm.group_id IN (\(Self.placeholders(groupIDs.count))) ORDER BY m.created_at, m.rowid
            """,
            groupIDs.map { .text($0) }
        ) {
            result[row.string("group_id") ?? "", default: []].append(row.string("member_id") ?? "")
        }
        return result
    }

    func managedGroups(ofMembers memberIDs: [String]) async throws -> [String: [GroupReference]] {
        guard !memberIDs.isEmpty else { return [:] }
        var result: [String: [GroupReference]] = [:]
        for row in try await query(
            """
            SELECT gm.member_id, g.id, g.name FROM group_members gm JOIN groups g ON g.id = gm.group_id
            WHERE g.managed = 1 AND gm.member_id IN (\(Self.placeholders(memberIDs.count))) ORDER BY g.name_key, g.id
            """,
            memberIDs.map { .text($0) }
        ) {
            result[row.string("member_id") ?? "", default: []].append(GroupReference(id: row.string("id") ?? "", name: row.string("name") ?? ""))
        }
        return result
    }

    func changeMembers(ofGroup groupID: String, adding: [String], removing: [String]) async throws {
        for memberID in removing {
            _ = try await query("DELETE FROM group_members WHERE group_id = ? AND member_id = ?", [.text(groupID), .text(memberID)])
        }
        for memberID in adding {
            _ = try await query("INSERT OR IGNORE INTO group_members (group_id, member_id) VALUES (?, ?)", [.text(groupID), .text(memberID)])
        }
    }

    func touchMembers(_ ids: [String], at time: String) async throws {
        try await touch("members", ids, at: time)
    }

    func touchGroups(_ ids: [String], at time: String) async throws {
        try await touch("groups", ids, at: time)
    }

    /// Raises versions in batches that stay below SQLite's bound-parameter limit.
    private func touch(_ table: String, _ ids: [String], at time: String) async throws {
        var start = 0
        while start < ids.count {
            let batch = ids[start..<min(ids.count, start + 500)]
            _ = try await query(
                "UPDATE \(table) SET version = version + 1, updated_at = ? WHERE id IN (\(Self.placeholders(batch.count)))",
                [.text(time)] + batch.map { .text($0) }
            )
            start += batch.count
        }
    }

    // MARK: Tokens

    func token(digest: String) async throws -> TokenRecord? {
        try await query("SELECT * FROM api_tokens WHERE digest = ?", [.text(digest)]).first.map(Self.token(from:))
    }

    func credential(digest: String) async throws -> Credential? {
        guard
            let row = try await query(
                """
                SELECT t.id, t.revoked_at, t.last_used_at, t.member_id, m.role, m.active, o.id AS organization_id, o.name, o.plan, o.sso,
                       o.developer_pack
                FROM api_tokens t JOIN members m ON m.id = t.member_id JOIN organizations o ON o.id = t.organization_id
                WHERE t.digest = ?
                """,
                [.text(digest)]
            ).first
        else { return nil }
        return Credential(
            tokenID: row.string("id") ?? "",
            revoked: row.string("revoked_at") != nil,
            lastUsedAt: row.string("last_used_at"),
            memberID: row.string("member_id") ?? "",
            role: MemberRole(rawValue: row.string("role") ?? "") ?? .standard,
            memberActive: row.column("active") == .null || row.bool("active"),
            organization: Organization(
                id: row.string("organization_id") ?? "",
                name: row.string("name") ?? "",
                features: PlanFeatures(
                    plan: Plan(rawValue: row.string("plan") ?? "") ?? .essentials,
                    sso: row.bool("sso"),
                    developerPack: row.bool("developer_pack")
                )
            )
        )
    }

    func tokens(organizationID: String) async throws -> [TokenRecord] {
        try await query("SELECT * FROM api_tokens WHERE organization_id = ? ORDER BY created_at, rowid", [.text(organizationID)]).map(
            Self.token(from:)
        )
    }

    func insert(_ token: TokenRecord) async throws {
        _ = try await query(
            """
            INSERT INTO api_tokens (id, organization_id, member_id, digest, description, created_at, last_used_at, revoked_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [
                .text(token.id), .text(token.organizationID), .text(token.memberID), .text(token.digest), .optional(token.description),
                .text(token.createdAt), .optional(token.lastUsedAt), .optional(token.revokedAt),
            ]
        )
    }

    func update(_ token: TokenRecord) async throws {
        _ = try await query(
            "UPDATE api_tokens SET description = ?, last_used_at = ?, revoked_at = ? WHERE id = ?",
            [.optional(token.description), .optional(token.lastUsedAt), .optional(token.revokedAt), .text(token.id)]
        )
    }

    static func token(from row: SQLiteRow) -> TokenRecord {
        TokenRecord(
            id: row.string("id") ?? "",
            organizationID: row.string("organization_id") ?? "",
            memberID: row.string("member_id") ?? "",
            digest: row.string("digest") ?? "",
            description: row.string("description"),
            createdAt: row.string("created_at") ?? "",
            lastUsedAt: row.string("last_used_at"),
            revokedAt: row.string("revoked_at")
        )
    }

    func recordAdoption(memberID: String, organizationID: String, tokenID: String, userName: String, at time: String) async throws {
        _ = try await query(
            "INSERT INTO adoptions (member_id, organization_id, token_id, user_name, adopted_at) VALUES (?, ?, ?, ?, ?)",
            [.text(memberID), .text(organizationID), .text(tokenID), .text(userName), .text(time)]
        )
    }

    // MARK: Upstream links

    func upstreamLink(id: String) async throws -> UpstreamLink? {
        try await query("SELECT * FROM upstream_links WHERE id = ?", [.text(id)]).first.map(Self.link(from:))
    }

    func upstreamLinks(organizationID: String) async throws -> [UpstreamLink] {
        try await query("SELECT * FROM upstream_links WHERE organization_id = ? ORDER BY rowid", [.text(organizationID)]).map(Self.link(from:))
    }

    func save(_ link: UpstreamLink) async throws {
        _ = try await query(
            """
            INSERT INTO upstream_links (id, organization_id, kind, upstream_id, user_id, delivered) VALUES (?, ?, ?, ?, ?, ?)
            ON CONFLICT (id) DO UPDATE SET upstream_id = excluded.upstream_id, user_id = excluded.user_id, delivered = excluded.delivered
            """,
            [
                .text(link.id), .text(link.organizationID), .text(link.kind.rawValue), .optional(link.upstreamID), .optional(link.userID),
                .optional(link.delivered.map { String(decoding: $0.serialized(), as: UTF8.self) }),
            ]
        )
    }

    func deleteUpstreamLink(id: String) async throws {
        _ = try await query("DELETE FROM upstream_links WHERE id = ?", [.text(id)])
    }

    static func link(from row: SQLiteRow) -> UpstreamLink {
        UpstreamLink(
            id: row.string("id") ?? "",
            organizationID: row.string("organization_id") ?? "",
            kind: UpstreamLink.Kind(rawValue: row.string("kind") ?? "") ?? .member,
            upstreamID: row.string("upstream_id"),
            userID: row.string("user_id"),
            delivered: row.string("delivered").flatMap { try? JSONValue(parsing: Array($0.utf8)) }
        )
    }

    // MARK: Outbox

    func enqueue(_ entry: OutboxEntry) async throws {
        _ = try await query(
            """
            INSERT INTO outbox (organization_id, kind, resource_id, deleted_upstream_id, revision, created_at) VALUES (?, ?, ?, ?, 1, ?)
            ON CONFLICT (resource_id) WHERE parked = 0 DO UPDATE SET revision = revision + 1,
                deleted_upstream_id = coalesce(excluded.deleted_upstream_id, deleted_upstream_id)
            """,
            [
                .text(entry.organizationID), .text(entry.kind.rawValue), .text(entry.resourceID), .optional(entry.deletedUpstreamID),
                .text(entry.createdAt),
            ]
        )
    }

    func outboxEntries(organizationID: String?, parked: Bool?) async throws -> [OutboxEntry] {
        var conditions: [String] = []
        var binds: [SQLiteData] = []
        if let organizationID {
            conditions.append("organization_id = ?")
            binds.append(.text(organizationID))
        }
        if let parked {
            conditions.append("parked = ?")
            binds.append(.flag(parked))
        }
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        return try await query("SELECT * FROM outbox \(whereClause) ORDER BY sequence", binds).map(Self.outboxEntry(from:))
    }

    func outboxEntry(sequence: Int) async throws -> OutboxEntry? {
        try await query("SELECT * FROM outbox WHERE sequence = ?", [.integer(sequence)]).first.map(Self.outboxEntry(from:))
    }

    static func outboxEntry(from row: SQLiteRow) -> OutboxEntry {
        OutboxEntry(
            sequence: row.column("sequence")?.integer ?? 0,
            organizationID: row.string("organization_id") ?? "",
            kind: UpstreamLink.Kind(rawValue: row.string("kind") ?? "") ?? .member,
            resourceID: row.string("resource_id") ?? "",
            deletedUpstreamID: row.string("deleted_upstream_id"),
            revision: row.column("revision")?.integer ?? 1,
            createdAt: row.string("created_at") ?? "",
            attempts: row.column("attempts")?.integer ?? 0,
            notBefore: row.string("not_before"),
            parked: row.bool("parked"),
            lastError: row.string("last_error")
        )
    }

    func update(_ entry: OutboxEntry) async throws {
        _ = try await query(
            "UPDATE outbox SET attempts = ?, not_before = ?, parked = ?, last_error = ?, deleted_upstream_id = ? WHERE sequence = ?",
            [
                .integer(entry.attempts), .optional(entry.notBefore), .flag(entry.parked), .optional(entry.lastError),
                .optional(entry.deletedUpstreamID), .integer(entry.sequence),
            ]
        )
    }

    func deleteOutboxEntry(sequence: Int) async throws {
        _ = try await query("DELETE FROM outbox WHERE sequence = ?", [.integer(sequence)])
    }

    // MARK: Search

    func searchMembers(organizationID: String, query: SearchQuery, schemas: SchemaCatalog) async throws -> (total: Int, page: [MemberRecord]) {
        let (total, rows) = try await search("members", type: .user, organizationID: organizationID, query: query, schemas: schemas)
        return (total, rows.map(Self.member(from:)))
    }

    func searchGroups(organizationID: String, query: SearchQuery, schemas: SchemaCatalog) async throws -> (total: Int, page: [GroupRecord]) {
        let (total, rows) = try await search("groups", type: .group, organizationID: organizationID, query: query, schemas: schemas)
        return (total, rows.map(Self.group(from:)))
    }

    private func search(
        _ table: String,
        type: ResourceType,
        organizationID: String,
        query: SearchQuery,
        schemas: SchemaCatalog
    ) async throws -> (Int, [SQLiteRow]) {
        let compiler = SQLFilterCompiler(dialect: SQLiteDialect(), type: type, schemas: schemas, lenient: query.acrossTypes)
        var compiled = SQLBinds(dialect: compiler.dialect, values: [.text(organizationID)])
        var clause = "organization_id = ? AND managed = 1"
        if let filter = query.filter { clause += " AND " + (try compiler.compile(filter, binds: &compiled)) }
        let binds = compiled.values.map(SQLiteData.init)
        var order = "created_at, rowid"
        if let sortBy = query.sortBy {
            order = "\(try compiler.orderKey(sortBy)) \(query.descending ? "DESC" : "ASC"), created_at, rowid"
        }
        func count() async throws -> Int {
            try await self.query("SELECT COUNT(*) AS n FROM \(table) WHERE \(clause)", binds).first?.int("n") ?? 0
        }
        guard query.count > 0 else { return (try await count(), []) }
        let rows = try await self.query(
            "SELECT * FROM \(table) WHERE \(clause) ORDER BY \(order) LIMIT ? OFFSET ?",
            binds + [.integer(query.count), .integer(query.startIndex - 1)]
        )
        // A first page that is not full holds every match: no need to count them again (the common lookup case).
        let total = query.startIndex == 1 && rows.count < query.count ? rows.count : try await count()
        return (total, rows)
    }

    // MARK: Values

    static func placeholders(_ count: Int) -> String {
        Array(repeating: "?", count: count).joined(separator: ", ")
    }

    static func encode(_ attributes: [String: JSONValue]) -> String {
        String(decoding: JSONValue.object(attributes).serialized(), as: UTF8.self)
    }

    static func decode(_ text: String?) -> [String: JSONValue] {
        guard let text else { return [:] }
        return (try? JSONValue(parsing: Array(text.utf8)))?.objectValue ?? [:]
    }
}

extension SQLiteData {
    init(_ value: SQLValue) {
        switch value {
        case .text(let text): self = .text(text)
        case .integer(let number): self = .integer(number)
        case .real(let number): self = .float(number)
        }
    }
}
