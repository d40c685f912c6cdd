import ArgumentParser
import Foundation
import FulcrumBackend
import GatewayCore
import Logging
import SCIMCore

/// `scim-gateway fulcrum …`: operations of the `fulcrum` backend.
struct FulcrumCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fulcrum",
        abstract: "Operate the fulcrum backend (the gateway in front of Fulcrum's API).",
        subcommands: [Reconcile.self]
    )

    struct Reconcile: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compare the ledger with Fulcrum and list the drift; --apply repairs it.",
            discussion: """
                Fulcrum's deletions are followed (a member removed in Fulcrum reads back active: false, a deleted group is \
                forgotten); what SCIM owns is pushed back (managed members' names and emails, managed groups' names and \
                members). The token (an Owner's Fulcrum API token) is read from --token or FULCRUM_API_TOKEN.
                """
        )
        @OptionGroup var options: ConfigOption
        @Option(help: "The Fulcrum organization id.") var org: String
        @Option(help: "An Owner's Fulcrum API token (default: $FULCRUM_API_TOKEN).") var token: String?
        @Flag(help: "Repair what can be repaired safely.") var apply = false

        func run() async throws {
            guard let secret = token ?? ProcessInfo.processInfo.environment["FULCRUM_API_TOKEN"], !secret.isEmpty else {
                FileHandle.standardError.write(Data("error: give an Owner's Fulcrum API token with --token or FULCRUM_API_TOKEN\n".utf8))
                throw ExitCode.failure
            }
            let document = try options.load()
            var logger = Logger(label: "scim-gateway")
            logger.logLevel = .warning
            let gateway = try await options.assemble(document, logger: logger)
            guard let backend = gateway.backend as? FulcrumBackend else {
                await gateway.backend.close()
                FileHandle.standardError.write(
                    Data(
                        "error: backend \(document.backend.name) is not fulcrum; reconcile compares the fulcrum backend's ledger with Fulcrum\n".utf8
                    )
                )
                throw ExitCode.failure
            }
            let outcome: Result<[FulcrumBackend.Drift], any Error>
            do {
                outcome = .success(
                    try await backend.reconcile(token: secret, organizationID: org, apply: apply) { line in
                        FileHandle.standardError.write(Data("\(line)\n".utf8))
                    }
                )
            } catch {
                outcome = .failure(error)
            }
            await backend.close()
            switch outcome {
            case .success(let drift):
                for item in drift { print(item) }
                let verb = apply ? "repaired" : "found (run with --apply to repair)"
                print(drift.isEmpty ? "no drift" : "\(drift.count) differences \(verb)")
            case .failure(let error as SCIMError):
                FileHandle.standardError.write(Data("error: \(error.detail)\n".utf8))
                throw ExitCode.failure
            case .failure(let error):
                throw error
            }
        }
    }
}
