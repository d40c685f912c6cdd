import Foundation

/// `scim-gateway-bench`: measurements held to the targets in BENCHMARKS.md. Build in release mode:
///
///     swift run -c release scim-gateway-bench filter-scale [--sizes 1000,1000000] [--queries 2000]
@main
struct Bench {
    static func main() async throws {
        var arguments = Array(CommandLine.arguments.dropFirst())
        guard let command = arguments.first else {
            print("usage: scim-gateway-bench filter-scale [--sizes 1000,1000000] [--queries 2000]")
            return
        }
        arguments.removeFirst()
        func option(_ name: String) -> String? {
            guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return nil }
            return arguments[index + 1]
        }
        switch command {
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
