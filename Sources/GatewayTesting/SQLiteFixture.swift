public import Foundation
public import GatewayCore
public import SQLiteBackend

/// A real embedded directory in a temporary folder with one SCIM-ready organization, its Owner and a token.
public struct SQLiteFixture: Sendable {
    public let backend: SQLiteBackend
    public let directory: URL
    public let organization: Organization
    public let ownerEmail: String
    public let token: String

    /// Opens a fresh store; `features` sets the organization's plan.
    public static func make(features: PlanFeatures = .scimReady, directory: URL = TemporaryDirectory.make()) async throws -> SQLiteFixture {
        let backend = try await SQLiteBackend(
            configuration: .init(path: "gateway.sqlite", synchronous: .normal),
            context: .test(directory: directory)
        )
        let organization = try await backend.createOrganization(name: "Example Field Ops", features: features)
        let owner = "owner@example.com"
        _ = try await backend.addMember(organizationID: organization.id, email: owner, firstName: "Olive", lastName: "Owner", role: .owner)
        let token = try await backend.createToken(organizationID: organization.id, memberEmail: owner, description: "tests")
        return SQLiteFixture(backend: backend, directory: directory, organization: organization, ownerEmail: owner, token: token.secret)
    }

    /// Runs `body` with a fresh fixture and closes its store afterwards, also when `body` throws.
    public static func run<T: Sendable>(
        features: PlanFeatures = .scimReady,
        _ body: (SQLiteFixture) async throws -> T
    ) async throws -> T {
        let fixture = try await make(features: features)
        defer { try? FileManager.default.removeItem(at: fixture.directory) }
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
    public func context() async throws -> GatewayContext {
        let principal = try await backend.authenticate(token: BearerToken(token), context: .test())
        return .test(principal: principal)
    }
}
