import Foundation
import GatewayCore
import GatewayTesting
import SQLiteBackend
import SQLiteNIO

/// `userName eq` latency at several store sizes: seeds an organization with N managed members through one SQL
/// statement (not N HTTP calls), then times the backend's search, the same call the SCIM edge makes.
enum FilterScale {
    static func run(sizes: [Int], queries: Int) async throws {
        print("userName eq on the embedded directory (in process, \(queries) lookups per size, random existing names)")
        print("size        p50 µs    p99 µs    store MiB")
        var medians: [Int: Double] = [:]
        for size in sizes {
            try await SQLiteFixture.run { fixture in
                try await seed(fixture, members: size)
                let context = try await fixture.context()
                var samples: [Double] = []
                samples.reserveCapacity(queries)
                var generator = SystemRandomNumberGenerator()
                for _ in 0..<queries {
                    let name = "user\(Int.random(in: 0..<size, using: &generator))@bench.example.com"
                    let query = SearchQuery(filter: .compare(AttributePath(name: "userName"), .eq, .string(name.uppercased())))
                    let start = ContinuousClock.now
                    let result = try await fixture.backend.search(query, in: .user, context: context)
                    samples.append(Double((ContinuousClock.now - start).components.attoseconds) / 1e12)
                    precondition(result.totalResults == 1, "lookup of \(name) found \(result.totalResults)")
                }
                samples.sort()
                let p50 = samples[samples.count / 2]
                let p99 = samples[min(samples.count - 1, samples.count * 99 / 100)]
                medians[size] = p50
                let bytes = (try? FileManager.default.attributesOfItem(atPath: fixture.backend.path)[.size] as? Int) ?? 0
                print(
                    String(size).padding(toLength: 12, withPad: " ", startingAt: 0)
                        + String(format: "%-10.1f%-10.1f%.1f", p50, p99, Double(bytes) / 1_048_576)
                )
            }
        }
        if let smallest = sizes.min(), let largest = sizes.max(), let low = medians[smallest], let high = medians[largest], smallest != largest {
            print(String(format: "p50 ratio %d / %d members: %.2f", largest, smallest, high / low))
        }
    }

    /// Inserts `members` managed members in one statement (a recursive CTE), as a bulk import would.
    static func seed(_ fixture: SQLiteFixture, members: Int) async throws {
        let connection = try await SQLiteConnection.open(storage: .file(path: fixture.backend.path))
        do {
            _ = try await connection.query("PRAGMA busy_timeout = 10000")
            _ = try await connection.query(
                """
                WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?)
                INSERT INTO members (id, organization_id, email, first_name, last_name, role, managed, active, user_name,
                                     external_id, attributes, version, created_at, updated_at)
                SELECT printf('00000000-0000-4000-8000-%012d', i), ?, printf('user%d@bench.example.com', i), 'Bench', printf('User %d', i),
                       'standard', 1, 1, printf('user%d@bench.example.com', i), printf('ext-%d', i),
                       json_object('emails', json_array(json_object('type', 'work', 'primary', json('true'),
                                                                    'value', printf('user%d@bench.example.com', i)))),
                       1, '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z'
                FROM n
                """,
                [.integer(members), .text(fixture.organization.id)]
            )
            _ = try await connection.query("ANALYZE")
            try await connection.close()
        } catch {
            try? await connection.close()
            throw error
        }
    }
}
