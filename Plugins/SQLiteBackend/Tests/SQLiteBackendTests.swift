import Foundation
import GatewayCore
import GatewayTesting
import SQLiteBackend
import Testing

@Suite struct AuthenticationTests {
    @Test func anOwnerTokenResolvesToItsOrganization() async throws {
        try await DirectoryFixture.run { fixture in
            let principal = try await fixture.backend.authenticate(token: BearerToken(fixture.token), context: .test())
            #expect(principal.organizationID == fixture.organization.id)
            #expect(principal.role == .owner)
            #expect(principal.features == .scimReady)
        }
    }

    @Test func anUnknownTokenIs401() async throws {
        try await DirectoryFixture.run { fixture in
            let error = await #expect(throws: SCIMError.self) {
                try await fixture.backend.authenticate(token: BearerToken("fgw_" + String(repeating: "0", count: 64)), context: .test())
            }
            #expect(error?.status == .unauthorized)
        }
    }

    @Test func aRevokedTokenFailsOnTheNextRequest() async throws {
        try await DirectoryFixture.run { fixture in
            let tokens = try await fixture.admin.listTokens(organizationID: fixture.organization.id)
            try await fixture.admin.revokeToken(organizationID: fixture.organization.id, tokenID: try #require(tokens.first).id)
            let error = await #expect(throws: SCIMError.self) {
                try await fixture.backend.authenticate(token: BearerToken(fixture.token), context: .test())
            }
            #expect(error?.detail.contains("revoked") == true)
        }
    }

    @Test func removingTheOwnerStopsItsTokens() async throws {
        try await DirectoryFixture.run { fixture in
            let org = fixture.organization.id
            // A second Owner so that the organization is not left without one.
            _ = try await fixture.admin.addMember(organizationID: org, email: "second@example.com", firstName: nil, lastName: nil, role: .owner)
            try await fixture.admin.removeMember(organizationID: org, email: fixture.ownerEmail)
            let error = await #expect(throws: SCIMError.self) {
                try await fixture.backend.authenticate(token: BearerToken(fixture.token), context: .test())
            }
            #expect(error?.status == .unauthorized)
            #expect(try await fixture.admin.listTokens(organizationID: org).isEmpty)
        }
    }

    @Test func onlyAnOwnerCanCreateATokenAndSecretsAreNotStored() async throws {
        try await DirectoryFixture.run { fixture in
            let org = fixture.organization.id
            _ = try await fixture.admin.addMember(organizationID: org, email: "m@example.com", firstName: nil, lastName: nil, role: .manager)
            let error = await #expect(throws: DirectoryError.self) {
                try await fixture.admin.createToken(organizationID: org, memberEmail: "m@example.com", description: nil)
            }
            #expect(error?.code == .notAllowed)
            let path = try #require(fixture.sqlite).path
            let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
            let wal = (try? Data(contentsOf: URL(fileURLWithPath: path + "-wal"))) ?? Data()
            #expect(bytes.range(of: Data(fixture.token.utf8)) == nil)
            #expect(wal.range(of: Data(fixture.token.utf8)) == nil)
        }
    }
}

@Suite struct AdministrationTests {
    @Test func duplicateEmailsAreRefusedCaseInsensitively() async throws {
        try await DirectoryFixture.run { fixture in
            let error = await #expect(throws: DirectoryError.self) {
                try await fixture.admin.addMember(
                    organizationID: fixture.organization.id,
                    email: "OWNER@example.com",
                    firstName: nil,
                    lastName: nil,
                    role: .standard
                )
            }
            #expect(error?.code == .conflict)
        }
    }

    @Test func unknownOrganizationsAreNamed() async throws {
        try await DirectoryFixture.run { fixture in
            let error = await #expect(throws: DirectoryError.self) { try await fixture.admin.listMembers(organizationID: "nope") }
            #expect(error?.message == "no organization with id nope")
        }
    }

    @Test func unmanagedGroupsAreFullyEditable() async throws {
        try await DirectoryFixture.run { fixture in
            let org = fixture.organization.id
            let group = try await fixture.admin.createGroup(organizationID: org, name: "Surveyors")
            try await fixture.admin.addGroupMember(organizationID: org, groupID: group.id, email: fixture.ownerEmail)
            #expect(try await fixture.admin.listGroups(organizationID: org).first?.memberCount == 1)
            try await fixture.admin.removeGroupMember(organizationID: org, groupID: group.id, email: fixture.ownerEmail)
            try await fixture.admin.deleteGroup(organizationID: org, groupID: group.id)
            #expect(try await fixture.admin.listGroups(organizationID: org).isEmpty)
        }
    }

    @Test func aStoreReopensWithItsData() async throws {
        try await DirectoryFixture.run { fixture in
            await fixture.backend.close()
            let reopened = try await SQLiteBackend(configuration: .init(path: "gateway.sqlite"), context: .test(directory: fixture.folder))
            #expect(try await SimulatedFulcrum(backend: reopened).listOrganizations().map(\.id) == [fixture.organization.id])
            _ = try await reopened.authenticate(token: BearerToken(fixture.token), context: .test())
            await reopened.close()
        }
    }
}
