import AsyncHTTPClient
import Foundation
public import GatewayCore
import Logging
import Metrics
import NIOCore
import NIOHTTP1
import NIOSSL
import SCIMCore
public import SQLiteBackend
public import ServiceLifecycle
import Synchronization

/// Fronts Fulcrum's REST API v2: the Secret Token is an Owner's Fulcrum API token, passed through as `X-ApiToken`;
/// every SCIM write becomes the fewest Fulcrum calls (README, "Fronting Fulcrum"), and a **ledger** in the gateway's
/// own store keeps every managed user and group with its version, SCIM attributes and Fulcrum ids, so reads cost no
/// upstream call. The ledger changes only after Fulcrum accepted the call, in the same transaction.
///
/// ```yaml
/// backend:
///   use: fulcrum
///   config:
///     baseURL: https://api.fulcrumapp.com/api/v2
///     entitlements: all            # or a list of Fulcrum organization ids with Enterprise and SSO
///     ledger: { path: data/fulcrum-ledger.sqlite }
/// ```
public struct FulcrumBackend: BackendAdapter {
    /// Which organizations have Enterprise and SSO: Fulcrum's API does not say.
    public enum Entitlements: Codable, Sendable, Hashable {
        case all
        case organizations([String])

        public init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let word = try? container.decode(String.self) {
                guard word == "all" else {
                    throw DecodingError.dataCorruptedError(in: container, debugDescription: "'all' or a list of organization ids")
                }
                self = .all
            } else {
                self = .organizations(try container.decode([String].self))
            }
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .all: try container.encode("all")
            case .organizations(let ids): try container.encode(ids)
            }
        }

        func includes(_ organizationID: String) -> Bool {
            switch self {
            case .all: true
            case .organizations(let ids): ids.contains(organizationID)
            }
        }
    }

    public enum Delivery: String, Codable, Sendable, Hashable {
        case synchronous
        case queued
    }

    public struct Configuration: Codable, Sendable, Hashable {
        /// Fulcrum's API root: `https://api.fulcrumapp.com/api/v2` (US; `-au`, `-ca`, `-eu` hosts for other regions),
        /// or the emulator's `http://127.0.0.1:PORT/api/v2`. Plain HTTP only to a loopback address.
        public var baseURL: String
        public var entitlements: Entitlements = .all
        /// Fulcrum's limit per token (a sliding hour). Default 5000.
        public var callsPerHour: Int = 5000
        /// Calls of each hour that writes leave to reads and reconcile. Default 250.
        public var readReserve: Int = 250
        /// Per call, in seconds. Default 15.
        public var timeoutSeconds: Int = 15
        /// Retries of a call that failed with 429, 5xx or a timeout (a POST only after checking it did not land).
        public var retries: Int = 3
        /// The longest a request waits for Fulcrum's `Retry-After` before answering 429 itself, in seconds. Default 30.
        public var maximumWaitSeconds: Int = 30
        /// A PEM file of the CA that signs Fulcrum's certificate, for a private CA. Verification is always on.
        public var caCertificate: String?
        /// How long a token's `users.json` answer is reused. Default 60.
        public var tokenCacheSeconds: Int = 60
        /// How long Fulcrum's member list (to find members made in Fulcrum) is reused. Default 60.
        public var memberListCacheSeconds: Int = 60
        /// Remove the token's Owner from a group Fulcrum made it a member of on creation. Default true.
        public var removeGroupCreator: Bool = true
        /// `synchronous`: a write answers after Fulcrum accepted it. `queued`: after the ledger and the outbox committed;
        /// a worker delivers to Fulcrum at its pace (README, "Queued delivery"). Default synchronous.
        public var delivery: Delivery = .synchronous
        /// Attempts of a queued delivery that fails with 429, 5xx or no answer before it is parked. Default 50.
        public var maxAttempts: Int = 50
        /// The ledger's store. Default `data/fulcrum-ledger.sqlite`.
        public var ledger: SQLiteBackend.Configuration = .init(path: "data/fulcrum-ledger.sqlite")

        public init(baseURL: String) { self.baseURL = baseURL }

        enum CodingKeys: String, CodingKey, CaseIterable {
            case baseURL, entitlements, callsPerHour, readReserve, timeoutSeconds, retries, maximumWaitSeconds, caCertificate
            case tokenCacheSeconds, memberListCacheSeconds, removeGroupCreator, ledger, delivery, maxAttempts
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            baseURL = try c.decode(String.self, forKey: .baseURL)
            entitlements = try c.decodeIfPresent(Entitlements.self, forKey: .entitlements) ?? .all
            callsPerHour = try c.decodeIfPresent(Int.self, forKey: .callsPerHour) ?? 5000
            readReserve = try c.decodeIfPresent(Int.self, forKey: .readReserve) ?? 250
            timeoutSeconds = try c.decodeIfPresent(Int.self, forKey: .timeoutSeconds) ?? 15
            retries = try c.decodeIfPresent(Int.self, forKey: .retries) ?? 3
            maximumWaitSeconds = try c.decodeIfPresent(Int.self, forKey: .maximumWaitSeconds) ?? 30
            caCertificate = try c.decodeIfPresent(String.self, forKey: .caCertificate)
            tokenCacheSeconds = try c.decodeIfPresent(Int.self, forKey: .tokenCacheSeconds) ?? 60
            memberListCacheSeconds = try c.decodeIfPresent(Int.self, forKey: .memberListCacheSeconds) ?? 60
            removeGroupCreator = try c.decodeIfPresent(Bool.self, forKey: .removeGroupCreator) ?? true
            ledger = try c.decodeIfPresent(SQLiteBackend.Configuration.self, forKey: .ledger) ?? .init(path: "data/fulcrum-ledger.sqlite")
            delivery = try c.decodeIfPresent(Delivery.self, forKey: .delivery) ?? .synchronous
            maxAttempts = try c.decodeIfPresent(Int.self, forKey: .maxAttempts) ?? 50
        }
    }

    public static let name: PluginName = "fulcrum"

    let configuration: Configuration
    let ledger: SQLiteBackend
    let client: FulcrumClient
    let state: SharedState
    let logger: Logger
    let queue = DeliveryQueue()
    let metrics: any MetricsFactory

    /// What every copy of the backend shares: the token cache and Fulcrum's member lists.
    final class SharedState: Sendable {
        let sessions = Mutex<[String: (expires: ContinuousClock.Instant, session: Session)]>([:])
        /// Resolutions under way, so concurrent requests with an expired token make one `users.json` call, not one each.
        let resolving = Mutex<[String: Task<Session, any Error>]>([:])
        let memberLists = Mutex<[String: UpstreamMembers]>([:])
        /// The organizations the backlog gauges last showed, so one that emptied is set to 0.
        let reportedBacklog = Mutex<Set<String>>([])
        let backlogReported = Mutex<ContinuousClock.Instant?>(nil)
    }

    public init(configuration: Configuration, context: PluginContext) async throws {
        guard let url = URL(string: configuration.baseURL), let scheme = url.scheme, let host = url.host, ["http", "https"].contains(scheme) else {
            throw ConfigurationError.invalidValue("baseURL", "must be an http(s) URL such as https://api.fulcrumapp.com/api/v2")
        }
        if scheme == "http", !["127.0.0.1", "localhost", "::1"].contains(host) {
            throw ConfigurationError.invalidValue("baseURL", "plain http is allowed only to a loopback address (the emulator); use https")
        }
        guard configuration.callsPerHour > 0, (0..<configuration.callsPerHour).contains(configuration.readReserve) else {
            throw ConfigurationError.invalidValue("readReserve", "must be at least 0 and less than callsPerHour")
        }
        guard (1...300).contains(configuration.timeoutSeconds) else {
            throw ConfigurationError.invalidValue("timeoutSeconds", "must be between 1 and 300")
        }
        guard (0...10).contains(configuration.retries) else { throw ConfigurationError.invalidValue("retries", "must be between 0 and 10") }
        guard (1...10000).contains(configuration.maxAttempts) else {
            throw ConfigurationError.invalidValue("maxAttempts", "must be between 1 and 10000")
        }
        var tls = TLSConfiguration.makeClientConfiguration()
        if let caCertificate = configuration.caCertificate {
            let path = context.resolve(path: caCertificate).path
            do {
                tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(path))
            } catch {
                throw ConfigurationError.invalidValue("caCertificate", "cannot read a PEM certificate at \(path): \(error)")
            }
        }
        self.configuration = configuration
        var ledgerContext = context
        ledgerContext.logger[metadataKey: "store"] = "fulcrum-ledger"
        do {
            ledger = try await SQLiteBackend(configuration: configuration.ledger, context: ledgerContext)
        } catch let error as ConfigurationError {
            throw ConfigurationError(error.code, path: "ledger." + error.path, message: error.message)
        }
        let http = HTTPClient(
            eventLoopGroupProvider: .singleton,
            configuration: .init(
                tlsConfiguration: tls,
                redirectConfiguration: .disallow,
                timeout: .init(connect: .seconds(Int64(min(10, configuration.timeoutSeconds))), read: .seconds(Int64(configuration.timeoutSeconds))),
                connectionPool: .init(idleTimeout: .seconds(60))
            )
        )
        logger = context.logger
        metrics = context.metricsFactory
        client = FulcrumClient(
            http: http,
            baseURL: configuration.baseURL.hasSuffix("/") ? String(configuration.baseURL.dropLast()) : configuration.baseURL,
            timeout: .seconds(Int64(configuration.timeoutSeconds)),
            retries: configuration.retries,
            maximumWait: .seconds(configuration.maximumWaitSeconds),
            budget: UpstreamBudget(callsPerHour: configuration.callsPerHour, reserve: configuration.readReserve),
            logger: context.logger
        )
        state = SharedState()
    }

    public var services: [any Service] {
        ledger.services + [ClientService(client: client.http)] + (configuration.delivery == .queued ? [OutboxWorker(backend: self)] : [])
    }

    /// Organizations, members, tokens and unmanaged groups are Fulcrum's: administered there, not by the gateway.
    public var administration: (any DirectoryAdministration)? { nil }

    public func close() async {
        await ledger.close()
        try? await client.http.shutdown()
    }

    public func checkReadiness() async throws { try await ledger.checkReadiness() }

    /// With queued delivery: the backlog per organization (`outbox ORG: N waiting, oldest Ts, P parked`).
    public func readinessDetail() async -> [String] {
        guard configuration.delivery == .queued else { return [] }
        guard let backlog = try? await backlog() else { return ["outbox: unreadable"] }
        guard !backlog.isEmpty else { return ["outbox: empty"] }
        return backlog.map { item in
            let age = item.oldest.map { ", oldest \(Int(Date().timeIntervalSince($0)))s" } ?? ""
            return "outbox \(item.organizationID): \(item.waiting) waiting\(age), \(item.parked) parked"
        }
    }

    // MARK: Transactions: reads from the ledger, writes through Fulcrum

    public func read<T: Sendable>(_ body: (any DirectoryTransaction) async throws -> T) async throws -> T {
        try await ledger.read(body)
    }

    public func scan<T: Sendable>(_ body: (any DirectoryTransaction) async throws -> T) async throws -> T {
        try await ledger.scan(body)
    }

    /// A write with no principal (the admin side): the ledger alone.
    public func write<T: Sendable>(_ body: (any DirectoryTransaction) async throws -> T) async throws -> T {
        try await ledger.write(body)
    }

    public func write<T: Sendable>(for principal: Principal, _ body: (any DirectoryTransaction) async throws -> T) async throws -> T {
        guard let session = session(for: principal) else {
            throw SCIMError.unauthorized("the token's Fulcrum session has expired; send the request again")
        }
        do {
            let queued = configuration.delivery == .queued
            let result = try await ledger.write { ledger in
                let directory = FulcrumDirectory(ledger: ledger, session: session, backend: self, queued: queued)
                let result = try await body(directory)
                try await directory.finish()
                return result
            }
            if queued { queue.wake() }
            return result
        } catch let repair as LedgerRepair {
            // Fulcrum no longer has the object: the ledger follows, and the client is told it is gone.
            try await ledger.write { ledger in
                switch repair.type {
                case .user: try await ledger.deleteMember(id: repair.id)
                default: try await ledger.deleteGroup(id: repair.id)
                }
                try await ledger.deleteUpstreamLink(id: repair.id)
            }
            logger.warning(
                "a managed object was gone from Fulcrum; the ledger forgot it",
                metadata: ["scim.resource_type": "\(repair.type)", "scim.id": "\(repair.id)"]
            )
            throw SCIMError.notFound(repair.type, id: repair.id)
        }
    }

    // MARK: Authentication

    /// `users.json` resolves the token: its organization is `current_organization`, and its role there must be the
    /// system Owner role. Answers are cached for ``Configuration/tokenCacheSeconds``.
    public func authenticate(token: BearerToken, context: GatewayContext) async throws -> Principal {
        let digest = FulcrumRules.digest(token.secret)
        if let cached = state.sessions.withLock({ $0[digest] }), cached.expires > .now { return cached.session.principal }
        let task = state.resolving.withLock { resolving in
            if let running = resolving[digest] { return running }
            let task = Task { try await self.resolve(secret: token.secret, digest: digest) }
            resolving[digest] = task
            return task
        }
        let session: Session
        do {
            session = try await task.value
        } catch {
            state.resolving.withLock { _ = $0.removeValue(forKey: digest) }
            throw error
        }
        let expires = ContinuousClock.now + .seconds(configuration.tokenCacheSeconds)
        state.sessions.withLock { sessions in
            // Expired entries stay a while: a request authenticated just before expiry still finds its session.
            sessions = sessions.filter { $0.value.expires + .seconds(600) > .now }
            sessions[digest] = (expires, session)
        }
        state.resolving.withLock { _ = $0.removeValue(forKey: digest) }
        // Deliveries waiting for this organization's token (after a restart) can go now.
        if configuration.delivery == .queued { queue.wake() }
        return session.principal
    }

    func session(for principal: Principal) -> Session? {
        state.sessions.withLock { $0[principal.tokenID]?.session }
    }

    func resolve(secret: String, digest: String) async throws -> Session {
        let whoami: FulcrumClient.Response
        do {
            whoami = try await client.send(.GET, "/users.json", token: secret, budgetKey: digest)
        } catch FulcrumClient.UpstreamRefusal.notFound {
            throw SCIMError.unauthorized("Fulcrum does not know this token")
        }
        guard let user = whoami.json?["user"] as? [String: any Sendable], let userID = user["id"] as? String,
            let organization = user["current_organization"] as? [String: any Sendable], let organizationID = organization["id"] as? String
        else {
            throw SCIMError(status: .badGateway, detail: "Fulcrum's users.json did not name the token's user and organization")
        }
        let contexts = user["contexts"] as? [[String: any Sendable]] ?? []
        let role = contexts.first { $0["id"] as? String == organizationID }?["role"] as? [String: any Sendable]
        guard role?["name"] as? String == "Owner", role?["is_system"] as? Bool == true else {
            throw SCIMError.unauthorized("the bearer token belongs to a member who is not an Owner of the Fulcrum organization")
        }
        let roles = RoleTable(try await client.list("/roles.json", key: "roles", token: secret, budgetKey: digest))
        let members = try await memberList(organizationID: organizationID, secret: secret, digest: digest, fresh: false)
        let owner = members.byID.values.first { $0.userID == userID }
        let name = organization["name"] as? String ?? organizationID
        let entitled = configuration.entitlements.includes(organizationID)
        let features = PlanFeatures(plan: entitled ? .enterprise : .professional, sso: entitled, developerPack: true)
        let principal = Principal(
            organizationID: organizationID,
            organizationName: name,
            memberID: owner?.id ?? "fulcrum-user:\(userID)",
            role: .owner,
            features: features,
            tokenID: digest
        )
        // The ledger holds the organization its records belong to.
        try await ledger.write { ledger in
            let stored = Organization(id: organizationID, name: name, features: features)
            if let existing = try await ledger.organization(id: organizationID) {
                if existing != stored { try await ledger.update(stored) }
            } else {
                try await ledger.insert(stored)
            }
        }
        return Session(secret: secret, digest: digest, principal: principal, userID: userID, roles: roles, ownerMembershipID: owner?.id)
    }

    /// Fulcrum's members of the organization, reused for ``Configuration/memberListCacheSeconds`` unless `fresh`.
    func memberList(organizationID: String, secret: String, digest: String, fresh: Bool) async throws -> UpstreamMembers {
        if !fresh, let cached = state.memberLists.withLock({ $0[organizationID] }),
            cached.fetched + .seconds(configuration.memberListCacheSeconds) > .now
        {
            return cached
        }
        let listed = try await client.list("/memberships.json", key: "memberships", token: secret, budgetKey: digest).compactMap(UpstreamMember.init)
        let members = UpstreamMembers(fetched: .now, members: listed)
        state.memberLists.withLock { $0[organizationID] = members }
        return members
    }

    /// Keeps the cached member list in step with a change Fulcrum accepted, so the next create needs no list call.
    /// In place: the cache is not copied.
    func noteMembership(_ organizationID: String, upsert member: UpstreamMember? = nil, remove id: String? = nil) {
        state.memberLists.withLock { lists in
            if let id { lists[organizationID]?.remove(id: id) }
            if let member { lists[organizationID]?.upsert(member) }
        }
    }
}

/// Thrown inside a write when Fulcrum no longer has a linked object; the write is rolled back, then the ledger
/// forgets the object and the client gets 404.
struct LedgerRepair: Error {
    var type: ResourceType
    var id: String
}

/// Shuts the shared HTTP client down when the gateway stops.
struct ClientService: Service {
    let client: HTTPClient

    func run() async throws {
        try? await gracefulShutdown()
        try await client.shutdown()
    }
}
