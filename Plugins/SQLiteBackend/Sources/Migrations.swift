import GatewayCore
import Logging
import SQLiteNIO

/// Versioned schema migrations, tracked in `PRAGMA user_version`. Each migration is a list of single statements
/// (and, where SQL cannot compute a value, a step in Swift) applied in one transaction; a new release appends a
/// migration and never edits an old one.
enum Migrations {
    struct Migration: Sendable {
        var statements: [String]
        /// Runs after `statements`, then `finally`.
        var backfill: (@Sendable (SQLiteConnection) async throws -> Void)? = nil
        var finally: [String] = []
    }

    static let all: [Migration] = statements.map { Migration(statements: $0) } + [normalisedKeys, listingByRowID, upstreamLinks, outbox]

    /// 6: queued delivery: what Fulcrum holds of each record as last delivered, and the outbox.
    static let outbox = Migration(statements: [
        "ALTER TABLE upstream_links ADD COLUMN delivered TEXT",
        """
        CREATE TABLE outbox (
            sequence INTEGER PRIMARY KEY AUTOINCREMENT,
            organization_id TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('member', 'group')),
            resource_id TEXT NOT NULL,
            deleted_upstream_id TEXT,
            revision INTEGER NOT NULL DEFAULT 1,
            created_at TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            not_before TEXT,
            parked INTEGER NOT NULL DEFAULT 0,
            last_error TEXT
        )
        """,
        "CREATE UNIQUE INDEX outbox_pending ON outbox (resource_id) WHERE parked = 0",
        "CREATE INDEX outbox_organization ON outbox (organization_id, parked, sequence)",
    ])

    /// 5: the `fulcrum` backend's ledger links each managed member and group to its Fulcrum membership or group.
    static let upstreamLinks = Migration(statements: [
        """
        CREATE TABLE upstream_links (
            id TEXT PRIMARY KEY,
            organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
            kind TEXT NOT NULL CHECK (kind IN ('member', 'group')),
            upstream_id TEXT,
            user_id TEXT
        )
        """,
        "CREATE INDEX upstream_links_organization ON upstream_links (organization_id, kind)",
    ])

    /// 4: listings order by creation time, then insertion (the rowid every index ends with), so ties are stable on
    /// every store and a page needs no sort.
    static let listingByRowID = Migration(statements: [
        "DROP INDEX members_listing",
        "CREATE INDEX members_listing ON members (organization_id, managed, created_at)",
        "DROP INDEX groups_listing",
        "CREATE INDEX groups_listing ON groups (organization_id, managed, created_at)",
    ])

    /// 3: unique keys computed in Swift (Unicode NFC and case folding, ``DirectoryKey``) replace SQLite's ASCII-only
    /// `COLLATE NOCASE` for userName, emails and group names.
    static let normalisedKeys = Migration(
        statements: [
            "ALTER TABLE members ADD COLUMN email_key TEXT",
            "ALTER TABLE members ADD COLUMN user_name_key TEXT",
            "ALTER TABLE groups ADD COLUMN name_key TEXT",
        ],
        backfill: { connection in
            for row in try await connection.query("SELECT id, email, user_name FROM members") {
                _ = try await connection.query(
                    "UPDATE members SET email_key = ?, user_name_key = ? WHERE id = ?",
                    [
                        .optional(row.string("email").map(DirectoryKey.fold)), .optional(row.string("user_name").map(DirectoryKey.fold)),
                        .text(row.string("id") ?? ""),
                    ]
                )
            }
            for row in try await connection.query("SELECT id, name FROM groups") {
                _ = try await connection.query(
                    "UPDATE groups SET name_key = ? WHERE id = ?",
                    [.text(DirectoryKey.fold(row.string("name") ?? "")), .text(row.string("id") ?? "")]
                )
            }
        },
        finally: [
            "DROP INDEX members_email",
            "DROP INDEX members_user_name",
            "DROP INDEX groups_name",
            "CREATE UNIQUE INDEX members_email_key ON members (organization_id, email_key) WHERE email_key IS NOT NULL",
            "CREATE UNIQUE INDEX members_user_name_key ON members (organization_id, user_name_key) WHERE user_name_key IS NOT NULL",
            "CREATE UNIQUE INDEX groups_name_key ON groups (organization_id, managed, name_key)",
        ]
    )

    static let statements: [[String]] = [
        // 1: the Fulcrum directory.
        [
            """
            CREATE TABLE organizations (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                plan TEXT NOT NULL,
                sso INTEGER NOT NULL,
                developer_pack INTEGER NOT NULL,
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL
            )
            """,
            """
            CREATE TABLE members (
                id TEXT PRIMARY KEY,
                organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
                email TEXT,
                first_name TEXT,
                last_name TEXT,
                role TEXT NOT NULL CHECK (role IN ('owner', 'manager', 'standard')),
                managed INTEGER NOT NULL DEFAULT 0,
                active INTEGER DEFAULT 1,
                user_name TEXT,
                external_id TEXT,
                attributes TEXT NOT NULL DEFAULT '{}',
                version INTEGER NOT NULL DEFAULT 1,
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL
            )
            """,
            "CREATE UNIQUE INDEX members_email ON members (organization_id, email COLLATE NOCASE)",
            "CREATE UNIQUE INDEX members_user_name ON members (organization_id, user_name COLLATE NOCASE) WHERE user_name IS NOT NULL",
            "CREATE INDEX members_external_id ON members (organization_id, external_id) WHERE external_id IS NOT NULL",
            "CREATE INDEX members_listing ON members (organization_id, managed, created_at, id)",
            """
            CREATE TABLE groups (
                id TEXT PRIMARY KEY,
                organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
                name TEXT NOT NULL,
                managed INTEGER NOT NULL DEFAULT 0,
                external_id TEXT,
                attributes TEXT NOT NULL DEFAULT '{}',
                version INTEGER NOT NULL DEFAULT 1,
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL
            )
            """,
            "CREATE UNIQUE INDEX groups_name ON groups (organization_id, managed, name COLLATE NOCASE)",
            "CREATE INDEX groups_external_id ON groups (organization_id, external_id) WHERE external_id IS NOT NULL",
            "CREATE INDEX groups_listing ON groups (organization_id, managed, created_at, id)",
            """
            CREATE TABLE group_members (
                group_id TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
                member_id TEXT NOT NULL REFERENCES members(id) ON DELETE CASCADE,
                PRIMARY KEY (group_id, member_id)
            ) WITHOUT ROWID
            """,
            "CREATE INDEX group_members_member ON group_members (member_id)",
            """
            CREATE TABLE api_tokens (
                id TEXT PRIMARY KEY,
                organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
                member_id TEXT NOT NULL REFERENCES members(id) ON DELETE CASCADE,
                digest TEXT NOT NULL UNIQUE,
                description TEXT,
                created_at TEXT NOT NULL,
                last_used_at TEXT,
                revoked_at TEXT
            )
            """,
            "CREATE INDEX api_tokens_member ON api_tokens (member_id)",
        ],
        // 2: adoptions of members made in Fulcrum by the identity provider (onUnmanagedConflict: adopt).
        [
            """
            CREATE TABLE adoptions (
                member_id TEXT NOT NULL REFERENCES members(id) ON DELETE CASCADE,
                organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
                token_id TEXT,
                user_name TEXT NOT NULL,
                adopted_at TEXT NOT NULL
            )
            """,
            "CREATE INDEX adoptions_member ON adoptions (member_id)",
        ],
    ]

    /// Applies every migration newer than the store's `user_version`.
    static func apply(to connection: SQLiteConnection, logger: Logger) async throws {
        let current = try await connection.query("PRAGMA user_version").first?.column("user_version")?.integer ?? 0
        guard current < all.count else { return }
        for version in (current + 1)...all.count {
            _ = try await connection.query("BEGIN IMMEDIATE")
            do {
                // Another process may have migrated while this one waited for the lock.
                let now = try await connection.query("PRAGMA user_version").first?.column("user_version")?.integer ?? 0
                if now < version {
                    let migration = all[version - 1]
                    for statement in migration.statements { _ = try await connection.query(statement) }
                    try await migration.backfill?(connection)
                    for statement in migration.finally { _ = try await connection.query(statement) }
                    _ = try await connection.query("PRAGMA user_version = \(version)")
                    logger.notice("store migrated", metadata: ["store.schema_version": "\(version)"])
                }
                _ = try await connection.query("COMMIT")
            } catch {
                _ = try? await connection.query("ROLLBACK")
                throw error
            }
        }
    }
}
