import Foundation
import SQLiteNIO

/// Fills a store with managed users and groups through a few SQL statements (recursive CTEs), the way a bulk import
/// would, so that scale runs need not make a million HTTP calls. Ids are predictable:
/// user `i` is `00000000-0000-4000-8000-<i, 12 digits>`, `user<i>@bench.example.com`, `ext-<i>`;
/// group `g` is `10000000-0000-4000-8000-<g, 12 digits>`, `Bench Group <g>`, with users `g*size ..< (g+1)*size`.
/// The values are ASCII, so SQLite's `lower()` computes the same normalised keys as `DirectoryKey.fold`.
enum Seeder {
    static func seed(store path: String, organizationID: String? = nil, users: Int, groups: Int = 0, groupSize: Int = 0) async throws {
        let connection = try await SQLiteConnection.open(storage: .file(path: path))
        do {
            _ = try await connection.query("PRAGMA busy_timeout = 30000")
            let organization: String
            if let organizationID {
                organization = organizationID
            } else {
                let rows = try await connection.query("SELECT id FROM organizations ORDER BY created_at LIMIT 1")
                guard let first = rows.first?.column("id")?.string else { throw SeedError.noOrganization(path) }
                organization = first
            }
            _ = try await connection.query("BEGIN IMMEDIATE")
            _ = try await connection.query(
                """
                WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?)
                INSERT INTO members (id, organization_id, email, email_key, first_name, last_name, role, managed, active, user_name,
                                     user_name_key, external_id, attributes, version, created_at, updated_at)
                SELECT printf('00000000-0000-4000-8000-%012d', i), ?, printf('user%d@bench.example.com', i),
                       printf('user%d@bench.example.com', i), 'Bench', printf('User %d', i), 'standard', 1, 1,
                       printf('user%d@bench.example.com', i), printf('user%d@bench.example.com', i), printf('ext-%d', i),
                       json_object('name', json_object('givenName', 'Bench', 'familyName', printf('User %d', i)),
                                   'emails', json_array(json_object('type', 'work', 'primary', json('true'),
                                                                    'value', printf('user%d@bench.example.com', i)))),
                       1, '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z'
                FROM n
                """,
                [.integer(users), .text(organization)]
            )
            if groups > 0 {
                _ = try await connection.query(
                    """
                    WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?)
                    INSERT INTO groups (id, organization_id, name, name_key, managed, external_id, attributes, version, created_at, updated_at)
                    SELECT printf('10000000-0000-4000-8000-%012d', i), ?, printf('Bench Group %d', i), printf('bench group %d', i), 1,
                           printf('gext-%d', i), '{}', 1,
                           '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z'
                    FROM n
                    """,
                    [.integer(groups), .text(organization)]
                )
                if groupSize > 0 {
                    _ = try await connection.query(
                        """
                        WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?)
                        INSERT OR IGNORE INTO group_members (group_id, member_id)
                        SELECT printf('10000000-0000-4000-8000-%012d', i / ?), printf('00000000-0000-4000-8000-%012d', i)
                        FROM n
                        """,
                        [.integer(min(users, groups * groupSize)), .integer(groupSize)]
                    )
                }
            }
            _ = try await connection.query("COMMIT")
            _ = try await connection.query("ANALYZE")
            try await connection.close()
        } catch {
            _ = try? await connection.query("ROLLBACK")
            try? await connection.close()
            throw error
        }
    }

    enum SeedError: Error, CustomStringConvertible {
        case noOrganization(String)
        var description: String {
            switch self {
            case .noOrganization(let path): "no organization in \(path): start the gateway once so that it bootstraps"
            }
        }
    }
}
