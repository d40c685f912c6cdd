import ArgumentParser
import Foundation
import FulcrumEmulator
import Hummingbird
import Logging

/// `fulcrum-emulator serve`: a local Fulcrum API v2 for tests, benchmarks and trying the gateway without Fulcrum.
@main
struct FulcrumEmulatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fulcrum-emulator",
        abstract: "A faithful local Fulcrum REST API v2 (memberships, roles, groups, whoami) for the scim-gateway.",
        subcommands: [Serve.self],
        defaultSubcommand: Serve.self
    )
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Serves http://127.0.0.1:PORT/api/v2 from a seed file.")

    @Option(help: "The port (0: a free one).") var port: Int = 8080
    @Option(help: "The address to listen on (loopback by default).") var host: String = "127.0.0.1"
    @Option(help: "The seed file: organizations, Owners and their tokens, unmanaged members and groups.") var seed: String?
    @Option(help: "API calls per hour per user before 429 (Fulcrum: 5000).") var callsPerHour: Int?
    @Option(help: "A JSON or YAML file of behaviour switches (see EmulatorBehaviour).") var behaviour: String?

    func run() async throws {
        var model = EmulatorModel()
        var switches = EmulatorBehaviour()
        var lines: [String] = []
        do {
            if let seed {
                let file = try EmulatorSeed.load(URL(fileURLWithPath: seed))
                if let seeded = file.behaviour { switches = seeded }
                for (name, id) in try file.apply(to: &model) { lines.append("organization \(name): \(id)") }
            }
            if let behaviour { switches = try EmulatorBehaviour.load(URL(fileURLWithPath: behaviour)) }
            if let callsPerHour { switches.callsPerHour = callsPerHour }
            try switches.validate()
        } catch {
            FileHandle.standardError.write(Data("fulcrum-emulator: \(error)\n".utf8))
            throw ExitCode(78)
        }
        var logger = Logger(label: "fulcrum-emulator")
        logger.logLevel = .warning
        let emulator = Emulator(model: model, behaviour: switches)
        let host = self.host
        let seeded = lines
        let app = emulator.application(host: host, port: port, logger: logger) { port in
            let text = (seeded + ["fulcrum-emulator listening on http://\(host):\(port)/api/v2"]).joined(separator: "\n") + "\n"
            FileHandle.standardOutput.write(Data(text.utf8))
        }
        try await app.runService()
    }
}
