public import Foundation
import FulcrumBackend
import FulcrumEmulator
public import GatewayCore
public import SQLiteBackend

/// The directories the backend-neutral suites run on.
public enum DirectoryKind: String, Sendable, CaseIterable, CustomStringConvertible {
    /// The embedded SQLite directory, in a temporary folder.
    case sqlite
    /// The in-memory directory of the tests (``MemoryBackend``).
    case memory
    /// The `fulcrum` backend in front of a `fulcrum-emulator` running in the test process.
    case fulcrum

    public var description: String { rawValue }
}

/// A fresh directory with one SCIM-ready organization, its Owner and a token; the SCIM service and the Fulcrum side
/// (admin commands) over it.
public struct DirectoryFixture: Sendable {
    public let kind: DirectoryKind
    public let backend: any BackendAdapter
    /// The embedded directory, when ``kind`` is `.sqlite`.
    public let sqlite: SQLiteBackend?
    /// What the admin commands do: Fulcrum itself.
    public let admin: any DirectoryAdministration
    /// The SCIM protocol over ``backend``.
    public let service: ResourceService
    /// A temporary folder for the store and anything else the test writes.
    public let folder: URL
    /// The emulator behind the backend, when ``kind`` is `.fulcrum`.
    public let emulator: RunningEmulator?
    public let organization: Organization
    public let ownerEmail: String
    public let token: String

    /// Opens a fresh store; `features` sets the organization's plan.
    public static func make(
        _ kind: DirectoryKind = .sqlite,
        features: PlanFeatures = .scimReady,
        folder: URL = TemporaryDirectory.make()
    ) async throws -> DirectoryFixture {
        if kind == .fulcrum { return try await fulcrum(features: features, folder: folder) }
        let sqlite: SQLiteBackend? =
            kind == .sqlite
            ? try await SQLiteBackend(configuration: .init(path: "gateway.sqlite", synchronous: .normal), context: .test(directory: folder))
            : nil
        let backend: any BackendAdapter = sqlite ?? MemoryBackend()
        let admin = SimulatedFulcrum(backend: backend)
        let organization = try await admin.createOrganization(name: "Example Field Ops", features: features)
        let owner = "owner@example.com"
        _ = try await admin.addMember(organizationID: organization.id, email: owner, firstName: "Olive", lastName: "Owner", role: .owner)
        let token = try await admin.createToken(organizationID: organization.id, memberEmail: owner, description: "tests")
        return DirectoryFixture(
            kind: kind,
            backend: backend,
            sqlite: sqlite,
            admin: admin,
            service: ResourceService(backend: backend),
            folder: folder,
            emulator: nil,
            organization: organization,
            ownerEmail: owner,
            token: token.secret
        )
    }

    /// An emulator with the organization, its Owner and token, and the `fulcrum` backend in front of it. Tokens are
    /// not cached, so a change made on Fulcrum's side shows at once, as the suites expect.
    static func fulcrum(features: PlanFeatures, folder: URL) async throws -> DirectoryFixture {
        let emulator = Emulator()
        let running = try await RunningEmulator.start(emulator)
        let owner = "owner@example.com"
        let (organizationID, token) = try emulator.withModel { model in
            let organization = model.addOrganization(name: "Example Field Ops", developerPack: features.developerPack)
            let role = model.role(named: "Owner", in: organization.id)?.id
            let membership = try model.addMembership(
                organizationID: organization.id,
                email: owner,
                firstName: "Olive",
                lastName: "Owner",
                roleID: role,
                managed: false
            )
            let token = FulcrumRules.newToken()
            model.addToken(token, userID: membership.userID, organizationID: organization.id)
            return (organization.id, token)
        }
        var configuration = FulcrumBackend.Configuration(baseURL: running.baseURL)
        configuration.ledger = .init(path: "ledger.sqlite", synchronous: .normal)
        configuration.tokenCacheSeconds = 0
        configuration.memberListCacheSeconds = 0
        configuration.maximumWaitSeconds = 2
        configuration.entitlements = features.plan == .enterprise && features.sso ? .all : .organizations([])
        let backend = try await FulcrumBackend(configuration: configuration, context: .test(directory: folder))
        return DirectoryFixture(
            kind: .fulcrum,
            backend: backend,
            sqlite: nil,
            admin: EmulatedFulcrum(emulator: emulator, backend: backend),
            service: ResourceService(backend: backend),
            folder: folder,
            emulator: running,
            organization: Organization(id: organizationID, name: "Example Field Ops", features: features),
            ownerEmail: owner,
            token: token
        )
    }

    /// Runs `body` with a fresh fixture and closes its store afterwards, also when `body` throws.
    public static func run<T: Sendable>(
        _ kind: DirectoryKind = .sqlite,
        features: PlanFeatures = .scimReady,
        _ body: (DirectoryFixture) async throws -> T
    ) async throws -> T {
        let fixture = try await make(kind, features: features)
        defer { try? FileManager.default.removeItem(at: fixture.folder) }
        do {
            let result = try await body(fixture)
            await fixture.close()
            return result
        } catch {
            await fixture.close()
            throw error
        }
    }

    /// Closes the backend and stops the emulator.
    public func close() async {
        await backend.close()
        await emulator?.stop()
    }

    /// A request context acting for the fixture's Owner, as the authentication stage would set it.
    public func context(policy: ProvisioningPolicy = .default) async throws -> GatewayContext {
        let principal = try await backend.authenticate(token: BearerToken(token), context: .test())
        var context = GatewayContext.test(principal: principal)
        context.policy = policy
        return context
    }
}
