public import Foundation
public import GatewayCore
public import SQLiteBackend

/// The directories the backend-neutral suites run on.
public enum DirectoryKind: String, Sendable, CaseIterable, CustomStringConvertible {
    /// The embedded SQLite directory, in a temporary folder.
    case sqlite
    /// The in-memory directory of the tests (``MemoryBackend``).
    case memory

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
    public let admin: SimulatedFulcrum
    /// The SCIM protocol over ``backend``.
    public let service: ResourceService
    /// A temporary folder for the store and anything else the test writes.
    public let folder: URL
    public let organization: Organization
    public let ownerEmail: String
    public let token: String

    /// Opens a fresh store; `features` sets the organization's plan.
    public static func make(
        _ kind: DirectoryKind = .sqlite,
        features: PlanFeatures = .scimReady,
        folder: URL = TemporaryDirectory.make()
    ) async throws -> DirectoryFixture {
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
            organization: organization,
            ownerEmail: owner,
            token: token.secret
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
            await fixture.backend.close()
            return result
        } catch {
            await fixture.backend.close()
            throw error
        }
    }

    /// A request context acting for the fixture's Owner, as the authentication stage would set it.
    public func context(policy: ProvisioningPolicy = .default) async throws -> GatewayContext {
        let principal = try await backend.authenticate(token: BearerToken(token), context: .test())
        var context = GatewayContext.test(principal: principal)
        context.policy = policy
        return context
    }
}
