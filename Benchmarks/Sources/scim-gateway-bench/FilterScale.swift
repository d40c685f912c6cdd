import Foundation
import GatewayCore
import GatewayTesting
import SQLiteBackend

/// `userName eq` latency at several store sizes: seeds an organization with N managed members through one SQL
/// statement (not N HTTP calls), then times the backend's search, the same call the SCIM edge makes.
enum FilterScale {
    static func run(sizes: [Int], queries: Int) async throws {
        print("userName eq on the embedded directory (in process, \(queries) lookups per size, random existing names)")
        print("size        p50 µs    p99 µs    store MiB")
        var medians: [Int: Double] = [:]
        for size in sizes {
            try await DirectoryFixture.run { fixture in
                try await seed(fixture, members: size)
                let context = try await fixture.context()
                var samples: [Double] = []
                samples.reserveCapacity(queries)
                var generator = SystemRandomNumberGenerator()
                for _ in 0..<queries {
                    let name = "user\(Int.random(in: 0..<size, using: &generator))@bench.example.com"
                    let query = SearchQuery(filter: .compare(AttributePath(name: "userName"), .eq, .string(name.uppercased())))
                    let start = ContinuousClock.now
                    let result = try await fixture.service.search(query, in: .user, context: context)
                    samples.append(Double((ContinuousClock.now - start).components.attoseconds) / 1e12)
                    precondition(result.totalResults == 1, "lookup of \(name) found \(result.totalResults)")
                }
                samples.sort()
                let p50 = samples[samples.count / 2]
                let p99 = samples[min(samples.count - 1, samples.count * 99 / 100)]
                medians[size] = p50
                let bytes = (try? FileManager.default.attributesOfItem(atPath: fixture.sqlite?.path ?? "")[.size] as? Int) ?? 0
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

    static func seed(_ fixture: DirectoryFixture, members: Int) async throws {
        try await Seeder.seed(store: fixture.sqlite?.path ?? "", organizationID: fixture.organization.id, users: members)
    }
}
