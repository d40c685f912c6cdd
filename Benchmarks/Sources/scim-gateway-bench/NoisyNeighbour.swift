import Foundation
import GatewayCore
import GatewayTesting
import SQLiteBackend
import Synchronization

/// One tenant's slow filter against everyone's point reads: seeds N members, then times `userName eq` lookups and
/// token authentications alone and again while `emails.value co "zzzz"` scans (as many as the organization's scan
/// bound admits) run back to back. In process, on the embedded directory.
enum NoisyNeighbour {
    static func run(members: Int, lookups: Int) async throws {
        try await DirectoryFixture.run { fixture in
            try await Seeder.seed(store: fixture.sqlite?.path ?? "", organizationID: fixture.organization.id, users: members)
            let context = try await fixture.context()
            let scan = SearchQuery(filter: try Filter(parsing: #"emails.value co "zzzz""#))
            let start = ContinuousClock.now
            _ = try await fixture.service.search(scan, in: .user, context: context)
            let scanSeconds = seconds(ContinuousClock.now - start)
            print("\(members) members; one emails.value co \"zzzz\" scan: \(String(format: "%.2f", scanSeconds)) s")
            print("phase                     lookup p50 ms  p99 ms   auth p50 ms  p99 ms   scans done")

            let quiet = try await measure(fixture, context: context, lookups: lookups, members: members)
            print(line("alone", quiet, scans: 0))

            let progress = Progress()
            let noisy = try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<fixture.service.scans.perOrganization {
                    group.addTask {
                        while !progress.stop.load(ordering: .relaxed) {
                            _ = try await fixture.service.search(scan, in: .user, context: context)
                            progress.scans.add(1, ordering: .relaxed)
                        }
                    }
                }
                let result = try await measure(fixture, context: context, lookups: lookups, members: members)
                progress.stop.store(true, ordering: .relaxed)
                try await group.waitForAll()
                return result
            }
            print(line("during \(fixture.service.scans.perOrganization) scans", noisy, scans: progress.scans.load(ordering: .relaxed)))
        }
    }

    final class Progress: Sendable {
        let stop = Atomic(false)
        let scans = Atomic(0)
    }

    struct Samples {
        var lookups: [Double] = []
        var auth: [Double] = []
    }

    static func measure(_ fixture: DirectoryFixture, context: GatewayContext, lookups: Int, members: Int) async throws -> Samples {
        var samples = Samples()
        let token = BearerToken(fixture.token)
        for index in 0..<lookups {
            let name = "user\((index * 7919) % members)@bench.example.com"
            let query = SearchQuery(filter: .compare(AttributePath(name: "userName"), .eq, .string(name)))
            var start = ContinuousClock.now
            _ = try await fixture.service.search(query, in: .user, context: context)
            samples.lookups.append(seconds(ContinuousClock.now - start) * 1000)
            start = ContinuousClock.now
            _ = try await fixture.backend.authenticate(token: token, context: context)
            samples.auth.append(seconds(ContinuousClock.now - start) * 1000)
        }
        return samples
    }

    static func line(_ phase: String, _ samples: Samples, scans: Int) -> String {
        func percentile(_ values: [Double], _ p: Int) -> Double {
            let sorted = values.sorted()
            return sorted[min(sorted.count - 1, sorted.count * p / 100)]
        }
        return phase.padding(toLength: 26, withPad: " ", startingAt: 0)
            + String(
                format: "%-15.2f%-9.2f%-13.2f%-9.2f%d",
                percentile(samples.lookups, 50),
                percentile(samples.lookups, 99),
                percentile(samples.auth, 50),
                percentile(samples.auth, 99),
                scans
            )
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
