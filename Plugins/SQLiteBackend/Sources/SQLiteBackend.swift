import Foundation
public import GatewayCore
import Logging
public import SCIMCore
import SQLiteNIO
public import ServiceLifecycle

/// The embedded Fulcrum directory: organizations, members, groups and API tokens in one SQLite file (WAL mode,
/// foreign keys on, versioned migrations). The default backend, so one command runs the whole gateway.
///
/// It implements storage only (``DirectoryTransaction``); the SCIM protocol and Fulcrum's rules run above it in
/// the ``ResourceService``, and the admin commands' Fulcrum side in ``SimulatedFulcrum``.
///
/// ```yaml
/// backend:
///   use: sqlite
///   config:
///     path: data/gateway.sqlite   # relative to gateway.yaml
///     synchronous: full           # full | normal
///     readers: 2
///     busyTimeout: 10000          # milliseconds
/// ```
public struct SQLiteBackend: BackendAdapter {
    /// How hard a commit waits for the disk.
    public enum Synchronous: String, Codable, Sendable {
        /// fsync on every commit: an acknowledged write survives a power loss.
        case full
        /// fsync at checkpoints: an acknowledged write survives `kill -9` of the process, not a power loss.
        case normal
    }

    /// The `config:` block.
    public struct Configuration: Codable, Sendable, Hashable {
        /// The store file, relative to the config file. Default `data/gateway.sqlite`.
        public var path: String = "data/gateway.sqlite"
        /// Commit durability. Default `full`.
        public var synchronous: Synchronous = .full
        /// Reader connections for concurrent queries. Default 2.
        public var readers: Int = 2
        /// How long a statement waits for another process's lock (the admin commands, say) before the request gets
        /// 503 with `Retry-After`, in milliseconds. Default 10000.
        public var busyTimeout: Int = 10000

        public init(path: String = "data/gateway.sqlite", synchronous: Synchronous = .full, readers: Int = 2, busyTimeout: Int = 10000) {
            self.path = path
            self.synchronous = synchronous
            self.readers = readers
            self.busyTimeout = busyTimeout
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            path = try c.decodeIfPresent(String.self, forKey: .path) ?? path
            synchronous = try c.decodeIfPresent(Synchronous.self, forKey: .synchronous) ?? synchronous
            readers = try c.decodeIfPresent(Int.self, forKey: .readers) ?? readers
            busyTimeout = try c.decodeIfPresent(Int.self, forKey: .busyTimeout) ?? busyTimeout
        }
    }

    public static let name: PluginName = "sqlite"

    let store: SQLiteStore

    public init(configuration: Configuration, context: PluginContext) async throws {
        guard (1...16).contains(configuration.readers) else {
            throw ConfigurationError.invalidValue("readers", "must be between 1 and 16")
        }
        guard (0...600_000).contains(configuration.busyTimeout) else {
            throw ConfigurationError.invalidValue("busyTimeout", "must be between 0 and 600000 milliseconds")
        }
        let path = context.resolve(path: configuration.path).path
        do {
            self.store = try await SQLiteStore.open(
                path: path,
                readers: configuration.readers,
                synchronous: configuration.synchronous,
                busyTimeout: configuration.busyTimeout,
                logger: context.logger
            )
        } catch {
            throw ConfigurationError.invalidValue("path", "cannot open the store at \(path): \(error)")
        }
    }

    /// The file the store lives in.
    public var path: String { store.path }

    public var services: [any Service] { [StoreService(store: store)] }

    /// Closes the store; for commands that run without a service group.
    public func close() async { await store.close() }

    /// Ready when the writer can run a transaction and a reader can query: a writer stuck in a failed transaction
    /// is not ready, whatever the readers say.
    public func checkReadiness() async throws {
        try await write { _ in }
        try await read { directory in _ = try await directory.organizations() }
    }

    public func read<T: Sendable>(_ body: (any DirectoryTransaction) async throws -> T) async throws -> T {
        do {
            return try await store.read { try await body(SQLiteDirectory(connection: $0)) }
        } catch {
            throw Self.translate(error)
        }
    }

    public func scan<T: Sendable>(_ body: (any DirectoryTransaction) async throws -> T) async throws -> T {
        do {
            return try await store.read(lane: .scan) { try await body(SQLiteDirectory(connection: $0)) }
        } catch {
            throw Self.translate(error)
        }
    }

    public func readCredentials<T: Sendable>(_ body: (any DirectoryTransaction) async throws -> T) async throws -> T {
        do {
            return try await store.read(lane: .credentials) { try await body(SQLiteDirectory(connection: $0)) }
        } catch {
            throw Self.translate(error)
        }
    }

    public func write<T: Sendable>(_ body: (any DirectoryTransaction) async throws -> T) async throws -> T {
        do {
            return try await store.write { try await body(SQLiteDirectory(connection: $0)) }
        } catch {
            throw Self.translate(error)
        }
    }

    /// Translates store failures at the boundary, by type; every call goes through here.
    static func translate(_ error: any Error) -> any Error {
        guard let sqliteError = error as? SQLiteError else { return error }
        switch sqliteError.reason {
        case .constraintUniqueFailed, .constraintPrimaryKeyFailed:
            return SCIMError.uniqueness("a resource with that unique value already exists")
        case .busy, .busyTimeout, .locked:
            var busy = SCIMError(status: .serviceUnavailable, detail: "the store is busy; retry the request")
            busy.headers[.retryAfter] = "1"
            return busy
        default:
            return error
        }
    }
}

/// Closes the store when the gateway shuts down (after the listener has drained).
struct StoreService: Service {
    let store: SQLiteStore

    func run() async throws {
        try? await gracefulShutdown()
        await store.close()
    }
}
