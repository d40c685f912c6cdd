import Crypto
import Foundation
public import GatewayCore
import Logging
public import SCIMCore
import SQLiteNIO
public import ServiceLifecycle

/// The embedded Fulcrum directory: organizations, members, groups and API tokens in one SQLite file (WAL mode,
/// foreign keys on, versioned migrations). The default backend, so one command runs the whole gateway.
///
/// ```yaml
/// backend:
///   use: sqlite
///   config:
///     path: data/gateway.sqlite   # relative to gateway.yaml
///     synchronous: full           # full | normal
///     readers: 2
/// ```
public struct SQLiteBackend: BackendAdapter, DirectoryAdministration {
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

        public init(path: String = "data/gateway.sqlite", synchronous: Synchronous = .full, readers: Int = 2) {
            self.path = path
            self.synchronous = synchronous
            self.readers = readers
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            path = try c.decodeIfPresent(String.self, forKey: .path) ?? path
            synchronous = try c.decodeIfPresent(Synchronous.self, forKey: .synchronous) ?? synchronous
            readers = try c.decodeIfPresent(Int.self, forKey: .readers) ?? readers
        }
    }

    public static let name: PluginName = "sqlite"

    let store: SQLiteStore
    let logger: Logger

    public init(configuration: Configuration, context: PluginContext) async throws {
        guard (1...16).contains(configuration.readers) else {
            throw ConfigurationError.invalidValue("readers", "must be between 1 and 16")
        }
        let path = context.resolve(path: configuration.path).path
        do {
            self.store = try await SQLiteStore.open(
                path: path,
                readers: configuration.readers,
                synchronous: configuration.synchronous,
                logger: context.logger
            )
        } catch {
            throw ConfigurationError.invalidValue("path", "cannot open the store at \(path): \(error)")
        }
        self.logger = context.logger
    }

    /// The file the store lives in.
    public var path: String { store.path }

    public var services: [any Service] { [StoreService(store: store)] }

    /// Closes the store; for commands that run without a service group.
    public func close() async { await store.close() }

    public func checkReadiness() async throws {
        _ = try await store.read { try await $0.query("SELECT 1") }
    }

    // MARK: Authentication

    public func authenticate(token: BearerToken, context: GatewayContext) async throws -> Principal {
        let digest = Self.digest(token.secret)
        let rows = try await store.read { connection in
            try await connection.query(
                """
                SELECT t.id AS token_id, t.revoked_at, t.last_used_at, m.id AS member_id, m.role, m.active,
                       o.id AS organization_id, o.name, o.plan, o.sso, o.developer_pack
                FROM api_tokens t
                JOIN members m ON m.id = t.member_id
                JOIN organizations o ON o.id = t.organization_id
                WHERE t.digest = ?
                """,
                [.text(digest)]
            )
        }
        guard let row = rows.first, let tokenID = row.string("token_id") else {
            throw SCIMError.unauthorized("the bearer token is not valid")
        }
        guard row.string("revoked_at") == nil else { throw SCIMError.unauthorized("the bearer token has been revoked") }
        guard row.isActiveMember, row.string("role") == MemberRole.owner.rawValue else {
            throw SCIMError.unauthorized("the bearer token belongs to a member who is no longer an Owner of the organization")
        }
        let principal = Principal(
            organizationID: row.string("organization_id") ?? "",
            organizationName: row.string("name") ?? "",
            memberID: row.string("member_id") ?? "",
            role: .owner,
            features: PlanFeatures(
                plan: Plan(rawValue: row.string("plan") ?? "") ?? .essentials,
                sso: row.bool("sso"),
                developerPack: row.bool("developer_pack")
            ),
            tokenID: tokenID
        )
        // Record use at most once a minute, so authentication stays a read on the hot path.
        // Timestamps sort as text, so "older than a minute" needs no date parsing.
        let now = Date()
        if row.string("last_used_at").map({ $0 < Timestamp.format(now.addingTimeInterval(-60)) }) ?? true {
            _ = try? await store.write { connection in
                try await connection.query("UPDATE api_tokens SET last_used_at = ? WHERE id = ?", [.text(Timestamp.format(now)), .text(tokenID)])
            }
        }
        return principal
    }

    static func digest(_ secret: String) -> String {
        hex(SHA256.hash(data: Data(secret.utf8)))
    }

    static func newToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return "fgw_" + hex((0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }

    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    static func newID() -> String { UUID().uuidString.lowercased() }

    /// Translates store failures at the boundary, by type.
    static func translate(_ error: any Error) -> any Error {
        guard let sqliteError = error as? SQLiteError else { return error }
        switch sqliteError.reason {
        case .constraintUniqueFailed, .constraintPrimaryKeyFailed:
            return SCIMError.uniqueness("a resource with that unique value already exists")
        case .busy, .busyTimeout, .locked:
            return SCIMError(status: .serviceUnavailable, detail: "the store is busy; retry the request")
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

/// ISO 8601 timestamps with milliseconds, in UTC: sortable as text.
enum Timestamp {
    static let style = Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt)

    static func format(_ date: Date) -> String { style.format(date) }

    static var now: String { format(Date()) }
}
