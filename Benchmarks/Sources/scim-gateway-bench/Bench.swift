import Foundation

/// `scim-gateway-bench`: measurements held to the targets in BENCHMARKS.md. Build in release mode:
///
///     swift run -c release scim-gateway-bench filter-scale [--sizes 1000,1000000] [--queries 2000]
///     swift run -c release scim-gateway-bench noisy-neighbour [--members 300000] [--lookups 500]
@main
struct Bench {
    static func main() async throws {
        var arguments = Array(CommandLine.arguments.dropFirst())
        guard let command = arguments.first else {
            print("usage: scim-gateway-bench seed | sync | filter-scale | noisy-neighbour …  (see Benchmarks/README.md)")
            return
        }
        arguments.removeFirst()
        func option(_ name: String) -> String? {
            guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return nil }
            return arguments[index + 1]
        }
        switch command {
        case "seed":
            guard let store = option("--store") else { throw BenchError.usage("seed --store PATH --users N [--groups G --group-size K]") }
            try await Seeder.seed(
                store: store,
                users: Int(option("--users") ?? "1000") ?? 1000,
                groups: Int(option("--groups") ?? "0") ?? 0,
                groupSize: Int(option("--group-size") ?? "0") ?? 0
            )
        case "sync":
            guard let port = option("--port").flatMap(Int.init), let token = option("--token"), let certificate = option("--certificate") else {
                throw BenchError.usage("sync --port N --token T --certificate PEM [--users 10000 --groups 100 --members 100 --workers 8 --batch 25]")
            }
            try await InitialSync.run(
                .init(
                    host: option("--host") ?? "localhost",
                    port: port,
                    token: token,
                    certificate: certificate,
                    users: Int(option("--users") ?? "10000") ?? 10000,
                    groups: Int(option("--groups") ?? "100") ?? 100,
                    members: Int(option("--members") ?? "100") ?? 100,
                    workers: Int(option("--workers") ?? "8") ?? 8,
                    batch: Int(option("--batch") ?? "25") ?? 25
                )
            )
        case "noisy-neighbour":
            let members = Int(option("--members") ?? "300000") ?? 300_000
            let lookups = Int(option("--lookups") ?? "500") ?? 500
            try await NoisyNeighbour.run(members: members, lookups: lookups)
        case "filter-scale":
            let sizes = (option("--sizes") ?? "1000,1000000").split(separator: ",").compactMap { Int($0) }
            let queries = Int(option("--queries") ?? "2000") ?? 2000
            try await FilterScale.run(sizes: sizes, queries: queries)
        default:
            print("unknown benchmark \(command)")
            exit(64)
        }
    }
}

enum BenchError: Error, CustomStringConvertible {
    case usage(String)
    var description: String {
        switch self {
        case .usage(let text): "usage: scim-gateway-bench \(text)"
        }
    }
}
