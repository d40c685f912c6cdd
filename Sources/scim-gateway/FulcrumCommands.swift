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

/// `scim-gateway outbox …`: the queued deliveries of the fulcrum backend.
struct OutboxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "outbox",
        abstract: "Inspect and steer the fulcrum backend's queued deliveries.",
        subcommands: [List.self, Retry.self, Drop.self]
    )

    static func withBackend(_ options: ConfigOption, _ body: (FulcrumBackend) async throws -> Void) async throws {
        let document = try options.load()
        var logger = Logger(label: "scim-gateway")
        logger.logLevel = .warning
        let gateway = try await options.assemble(document, logger: logger)
        guard let backend = gateway.backend as? FulcrumBackend else {
            await gateway.backend.close()
            FileHandle.standardError.write(Data("error: backend \(document.backend.name) has no outbox; the fulcrum backend has one\n".utf8))
            throw ExitCode.failure
        }
        do {
            try await body(backend)
            await backend.close()
        } catch {
            await backend.close()
            throw error
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List pending and parked deliveries, oldest first.")
        @OptionGroup var options: ConfigOption
        @Option(help: "Only this organization.") var org: String?
        @Flag(help: "Only parked entries.") var parked = false

        func run() async throws {
            try await OutboxCommand.withBackend(options) { backend in
                let entries = try await backend.outbox(organizationID: org, parkedOnly: parked)
                var rows = [["ID", "ORGANIZATION", "KIND", "RESOURCE", "STATE", "ATTEMPTS", "SINCE", "LAST ERROR"]]
                for entry in entries {
                    let state =
                        entry.parked ? "parked" : entry.notBefore.map { "retry at \($0)" } ?? (entry.deletedUpstreamID != nil ? "delete" : "pending")
                    rows.append([
                        "\(entry.sequence)", entry.organizationID, entry.kind.rawValue, entry.resourceID, state, "\(entry.attempts)", entry.createdAt,
                        entry.lastError ?? "",
                    ])
                }
                print(entries.isEmpty ? "the outbox is empty" : table(rows))
            }
        }
    }

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Put a parked entry (or --all parked and waiting ones) back in the queue, due now.")
        @OptionGroup var options: ConfigOption
        @Argument(help: "The entry's ID (from outbox list).") var id: Int?
        @Flag(help: "Every parked or waiting entry.") var all = false

        func validate() throws {
            if id != nil && all { throw ValidationError("give an entry ID or --all, not both") }
            if id == nil && !all { throw ValidationError("give an entry ID or --all") }
        }

        func run() async throws {
            try await OutboxCommand.withBackend(options) { backend in
                let count = try await backend.retryOutbox(sequence: all ? nil : id)
                if count == 0, let id {
                    FileHandle.standardError.write(Data("error: no outbox entry \(id)\n".utf8))
                    throw ExitCode.failure
                }
                print("\(count) entries due now")
            }
        }
    }

    struct Drop: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove an entry for good (its change is never delivered).")
        @OptionGroup var options: ConfigOption
        @Argument(help: "The entry's ID (from outbox list).") var id: Int

        func run() async throws {
            try await OutboxCommand.withBackend(options) { backend in
                guard try await backend.dropOutbox(sequence: id) else {
                    FileHandle.standardError.write(Data("error: no outbox entry \(id)\n".utf8))
                    throw ExitCode.failure
                }
                print("dropped \(id)")
            }
        }
    }
}
