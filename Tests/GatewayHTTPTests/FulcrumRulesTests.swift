import Foundation
import GatewayCore
import GatewayTesting
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing

/// One scenario per Fulcrum rule, through the real pipeline with Entra's payloads, checking the SCIM view and the
/// Fulcrum-side view (what `scim-gateway member list` / `group list` print).
@Suite struct FulcrumRulesTests {
    typealias Entra = EntraDialectTests.Entra

    /// Every rule runs on the embedded directory and on the in-memory one: the rules live in the service, not in a
    /// backend.
    func withRules(
        _ kind: DirectoryKind,
        namespace: String = "roleMapping: { Manager: manager }",
        _ body: @escaping @Sendable (Entra) async throws -> Void
    ) async throws {
        try await withEdge(kind, namespace: namespace) { fixture, client in try await body(Entra(fixture: fixture, client: client)) }
    }

    func members(_ entra: Entra) async throws -> [Member] {
        try await entra.fixture.admin.listMembers(organizationID: entra.fixture.organization.id)
    }

    static func user(_ name: String, roles: JSONValue = []) -> JSONValue {
        [
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": .string("\(name)@contoso.test"), "active": true,
            "externalId": .string("ext-\(name)"), "name": ["givenName": .string(name.capitalized), "familyName": "Tester"],
            "emails": [["primary": true, "type": "work", "value": .string("\(name)@contoso.test")]], "roles": roles,
        ]
    }

    @Test(arguments: DirectoryKind.allCases)
    func pushedUsersBecomeManagedMembersWithEmailNamesAndMappedRole(kind: DirectoryKind) async throws {
        try await withRules(kind) { entra in
            let id = try await entra.create(Self.user("alice", roles: [["primary": "True", "value": "Manager"]]))
            _ = try await entra.create(Self.user("bob", roles: [["primary": "True", "value": "Astronaut"]]))
            let listed = try await members(entra)
            let alice = try #require(listed.first { $0.id == id })
            #expect(alice.email == "alice@contoso.test")
            #expect(alice.firstName == "Alice")
            #expect(alice.lastName == "Tester")
            #expect(alice.role == .manager)
            #expect(alice.managed)
            #expect(listed.first { $0.email == "bob@contoso.test" }?.role == .standard)
            #expect(listed.first { $0.email == entra.fixture.ownerEmail }?.managed == false)
        }
    }

    @Test(arguments: DirectoryKind.allCases)
    func assignUnassignReassignRestoresGroupMembership(kind: DirectoryKind) async throws {
        try await withRules(kind) { entra in
            let alice = try await entra.create(Self.user("alice"))
            let group = try await entra.create(["displayName": "Field Crew", "members": [["value": .string(alice)]]], at: "/scim/v2/Groups")
            let org = entra.fixture.organization.id
            // Unassign: Entra disables.
            try await entra.send(
                .patch,
                "/scim/v2/Users/\(alice)",
                EntraDialectTests.patch([["op": "Replace", "path": "active", "value": "False"]]),
                expect: .ok
            )
            #expect(try await members(entra).contains { $0.id == alice } == false)
            #expect(try await entra.fixture.admin.listGroups(organizationID: org).first?.memberCount == 0)
            #expect(try await entra.get("/scim/v2/Users/\(alice)")[attribute: "active"] == false)
            #expect(try await entra.get("/scim/v2/Groups/\(group)")[attribute: "members"]?.arrayValue?.count == 1)
            // A deactivated member cannot hold tokens.
            await #expect(throws: DirectoryError.self) {
                try await entra.fixture.admin.createToken(organizationID: org, memberEmail: "alice@contoso.test", description: nil)
            }
            // Reassign: everything comes back as it was.
            try await entra.send(
                .patch,
                "/scim/v2/Users/\(alice)",
                EntraDialectTests.patch([["op": "Replace", "path": "active", "value": "True"]]),
                expect: .ok
            )
            #expect(try await members(entra).contains { $0.id == alice })
            #expect(try await entra.fixture.admin.listGroups(organizationID: org).first?.memberCount == 1)
            // DELETE is for good.
            try await entra.send(.delete, "/scim/v2/Users/\(alice)", expect: .noContent)
            try await entra.send(.get, "/scim/v2/Users/\(alice)", expect: .notFound)
            #expect(try await entra.get("/scim/v2/Groups/\(group)")[attribute: "members"] == [])
        }
    }

    @Test(arguments: DirectoryKind.allCases)
    func emailAndNameChangesFlowThroughAndCollisionsChangeNothing(kind: DirectoryKind) async throws {
        try await withRules(kind) { entra in
            let alice = try await entra.create(Self.user("alice"))
            _ = try await entra.create(Self.user("bob"))
            try await entra.send(
                .patch,
                "/scim/v2/Users/\(alice)",
                EntraDialectTests.patch([
                    ["op": "Replace", "path": #"emails[type eq "work"].value"#, "value": "alice.new@contoso.test"],
                    ["op": "Replace", "path": "name.givenName", "value": "Alicia"],
                    ["op": "Replace", "path": "name.familyName", "value": "Tested"],
                ]),
                expect: .ok
            )
            var member = try #require(try await members(entra).first { $0.id == alice })
            #expect(member.email == "alice.new@contoso.test")
            #expect(member.firstName == "Alicia")
            #expect(member.lastName == "Tested")
            let conflict = try await entra.send(
                .patch,
                "/scim/v2/Users/\(alice)",
                EntraDialectTests.patch([
                    ["op": "Replace", "path": "name.givenName", "value": "Nope"],
                    ["op": "Replace", "path": #"emails[type eq "work"].value"#, "value": "BOB@contoso.test"],
                ]),
                expect: .conflict
            )
            #expect(conflict?[attribute: "scimType"] == "uniqueness")
            member = try #require(try await members(entra).first { $0.id == alice })
            #expect(member.email == "alice.new@contoso.test")
            #expect(member.firstName == "Alicia")
        }
    }

    @Test(arguments: DirectoryKind.allCases)
    func unmanagedObjectsAreInvisibleToSCIMAndNamesMayRepeatAcrossNamespaces(kind: DirectoryKind) async throws {
        try await withRules(kind) { entra in
            let org = entra.fixture.organization.id
            let backend = entra.fixture.admin
            let sam = try await backend.addMember(organizationID: org, email: "sam@contoso.test", firstName: "Sam", lastName: nil, role: .standard)
            let fulcrumGroup = try await backend.createGroup(organizationID: org, name: "Surveyors")
            try await entra.send(.get, "/scim/v2/Users/\(sam.id)", expect: .notFound)
            try await entra.send(.get, "/scim/v2/Groups/\(fulcrumGroup.id)", expect: .notFound)
            #expect(try await entra.get("/scim/v2/Users?filter=userName+eq+%22sam@contoso.test%22")[attribute: "totalResults"] == 0)
            #expect(try await entra.get("/scim/v2/Users")[attribute: "totalResults"] == 0)
            #expect(try await entra.get("/scim/v2/Groups?filter=displayName+eq+%22Surveyors%22")[attribute: "totalResults"] == 0)
            try await entra.send(
                .patch,
                "/scim/v2/Users/\(sam.id)",
                EntraDialectTests.patch([["op": "Replace", "path": "active", "value": false]]),
                expect: .notFound
            )

            // Same name, other namespace: both exist.
            let managed = try await entra.create(["displayName": "Surveyors"], at: "/scim/v2/Groups")
            let groups = try await backend.listGroups(organizationID: org)
            #expect(groups.filter { $0.name == "Surveyors" }.map(\.managed).sorted { !$0 && $1 } == [false, true])
            // An unmanaged member cannot be put in a managed group.
            let refused = try await entra.send(
                .patch,
                "/scim/v2/Groups/\(managed)",
                EntraDialectTests.patch([["op": "Add", "path": "members", "value": [["value": .string(sam.id)]]]]),
                expect: .badRequest
            )
            #expect(refused?[attribute: "detail"]?.stringValue?.contains(sam.id) == true)
        }
    }

    @Test(arguments: DirectoryKind.allCases)
    func theFulcrumSideCannotEditManagedObjects(kind: DirectoryKind) async throws {
        try await withRules(kind) { entra in
            let org = entra.fixture.organization.id
            let backend = entra.fixture.admin
            let alice = try await entra.create(Self.user("alice"))
            let group = try await entra.create(["displayName": "Field Crew", "members": [["value": .string(alice)]]], at: "/scim/v2/Groups")
            let attempts: [@Sendable () async throws -> Void] = [
                { try await backend.addGroupMember(organizationID: org, groupID: group, email: entra.fixture.ownerEmail) },
                { try await backend.removeGroupMember(organizationID: org, groupID: group, email: "alice@contoso.test") },
                { try await backend.renameGroup(organizationID: org, groupID: group, name: "Renamed") },
                { try await backend.deleteGroup(organizationID: org, groupID: group) },
                {
                    _ = try await backend.updateMember(
                        organizationID: org,
                        email: "alice@contoso.test",
                        newEmail: "x@y.test",
                        firstName: nil,
                        lastName: nil,
                        role: nil
                    )
                },
                {
                    _ = try await backend.updateMember(
                        organizationID: org,
                        email: "alice@contoso.test",
                        newEmail: nil,
                        firstName: "X",
                        lastName: nil,
                        role: nil
                    )
                },
                { try await backend.removeMember(organizationID: org, email: "alice@contoso.test") },
            ]
            for attempt in attempts {
                let error = await #expect(throws: DirectoryError.self) { try await attempt() }
                #expect(error?.code == .managed)
                #expect(error?.message.contains("identity provider") == true)
            }
            #expect(try await entra.get("/scim/v2/Groups/\(group)")[attribute: "members"]?.arrayValue?.count == 1)
            #expect(try await entra.get("/scim/v2/Groups/\(group)")[attribute: "displayName"] == "Field Crew")
        }
    }

    @Test(arguments: DirectoryKind.allCases)
    func rejectIsTheDefaultForAnEmailHeldByAnUnmanagedMember(kind: DirectoryKind) async throws {
        try await withRules(kind) { entra in
            let org = entra.fixture.organization.id
            _ = try await entra.fixture.admin.addMember(
                organizationID: org,
                email: "alice@contoso.test",
                firstName: nil,
                lastName: nil,
                role: .manager
            )
            let error = try await entra.send(.post, "/scim/v2/Users", Self.user("alice"), expect: .conflict)
            #expect(error?[attribute: "scimType"] == "uniqueness")
            #expect(error?[attribute: "detail"]?.stringValue?.contains("onUnmanagedConflict: adopt") == true)
            #expect(try await members(entra).first { $0.email == "alice@contoso.test" }?.managed == false)
        }
    }

    @Test(arguments: DirectoryKind.allCases)
    func adoptionKeepsTheFulcrumIdAndAnOwnerStaysOwner(kind: DirectoryKind) async throws {
        try await withRules(kind, namespace: "onUnmanagedConflict: adopt") { entra in
            let org = entra.fixture.organization.id
            let backend = entra.fixture.admin
            let existing = try await backend.addMember(organizationID: org, email: "alice@contoso.test", firstName: "A", lastName: nil, role: .owner)
            let adopted = try await entra.create(Self.user("alice"))
            #expect(adopted == existing.id)
            let member = try #require(try await members(entra).first { $0.id == existing.id })
            #expect(member.managed)
            #expect(member.role == .owner)
            #expect(member.firstName == "Alice")
            #expect(try await entra.get("/scim/v2/Users/\(adopted)")[attribute: "userName"] == "alice@contoso.test")
            // SCIM cannot take the Owner role away.
            try await entra.send(
                .patch,
                "/scim/v2/Users/\(adopted)",
                EntraDialectTests.patch([["op": "Replace", "path": "roles", "value": [["primary": true, "value": "User"]]]]),
                expect: .ok
            )
            #expect(try await members(entra).first { $0.id == existing.id }?.role == .owner)
        }
    }

    @Test(arguments: DirectoryKind.allCases)
    func scimNeverChangesTheMemberWhoseTokenIsInUse(kind: DirectoryKind) async throws {
        try await withRules(kind, namespace: "onUnmanagedConflict: adopt") { entra in
            // Adopting the token's own Owner is refused too.
            let error = try await entra.send(.post, "/scim/v2/Users", ["userName": .string(entra.fixture.ownerEmail)], expect: .forbidden)
            #expect(error?[attribute: "status"] == "403")
            #expect(try await members(entra).first { $0.email == entra.fixture.ownerEmail }?.managed == false)
        }
    }

    @Test(arguments: DirectoryKind.allCases)
    func rolesChangeWithTheMappingAndNeverGrantOwner(kind: DirectoryKind) async throws {
        try await withRules(kind) { entra in
            let id = try await entra.create(Self.user("carol"))
            #expect(try await members(entra).first { $0.id == id }?.role == .standard)
            try await entra.send(
                .patch,
                "/scim/v2/Users/\(id)",
                EntraDialectTests.patch([["op": "Add", "path": "roles", "value": [["primary": "True", "value": "manager"]]]]),
                expect: .ok
            )
            #expect(try await members(entra).first { $0.id == id }?.role == .manager)
            try await entra.send(
                .patch,
                "/scim/v2/Users/\(id)",
                EntraDialectTests.patch([["op": "Replace", "path": "roles", "value": [["primary": "True", "value": "Owner"]]]]),
                expect: .ok
            )
            #expect(try await members(entra).first { $0.id == id }?.role == .standard)
        }
    }

    @Test(arguments: DirectoryKind.allCases)
    func aDemotedOwnersTokenAndARevokedTokenStopAtOnce(kind: DirectoryKind) async throws {
        try await withRules(kind) { entra in
            let org = entra.fixture.organization.id
            let backend = entra.fixture.admin
            _ = try await backend.addMember(organizationID: org, email: "second@contoso.test", firstName: nil, lastName: nil, role: .owner)
            let second = try await backend.createToken(organizationID: org, memberEmail: "second@contoso.test", description: nil)
            _ = try await backend.updateMember(
                organizationID: org,
                email: entra.fixture.ownerEmail,
                newEmail: nil,
                firstName: nil,
                lastName: nil,
                role: .manager
            )
            try await entra.send(.get, "/scim/v2/Users", expect: .unauthorized)
            let revokeID = try #require(try await backend.listTokens(organizationID: org).first { $0.memberEmail == "second@contoso.test" }?.id)
            var headers = entra.headers
            headers[.authorization] = "Bearer \(second.secret)"
            try await entra.client.execute(uri: "/scim/v2/Users", method: .get, headers: headers) { #expect($0.status == .ok) }
            try await backend.revokeToken(organizationID: org, tokenID: revokeID)
            try await entra.client.execute(uri: "/scim/v2/Users", method: .get, headers: headers) { #expect($0.status == .unauthorized) }
            // The last Owner cannot be demoted or removed.
            let last = await #expect(throws: DirectoryError.self) {
                try await backend.updateMember(
                    organizationID: org,
                    email: "second@contoso.test",
                    newEmail: nil,
                    firstName: nil,
                    lastName: nil,
                    role: .standard
                )
            }
            #expect(last?.code == .notAllowed)
        }
    }

    @Test(arguments: DirectoryKind.allCases)
    func aDowngradedPlanGets403OnEveryCallAndNothingIsWritten(kind: DirectoryKind) async throws {
        try await withRules(kind) { entra in
            let org = entra.fixture.organization.id
            let id = try await entra.create(Self.user("alice"))
            _ = try await entra.fixture.admin.updateOrganization(id: org, plan: .professional, sso: nil, developerPack: false)
            for (method, path, body) in [
                (HTTPRequest.Method.get, "/scim/v2/Users/\(id)", nil), (.post, "/scim/v2/Users", Self.user("bob")),
                (.patch, "/scim/v2/Users/\(id)", EntraDialectTests.patch([["op": "Replace", "path": "active", "value": "False"]])),
                (.delete, "/scim/v2/Users/\(id)", nil), (.get, "/scim/v2/ServiceProviderConfig", nil),
            ] as [(HTTPRequest.Method, String, JSONValue?)] {
                if kind == .fulcrum {
                    // Fulcrum itself refuses the token of an organization without the Developer Pack: 401 with the reason.
                    // Then the stage remembers the refusal for a few seconds without asking Fulcrum again.
                    let detail = try await entra.send(method, path, body, expect: .unauthorized)?[attribute: "detail"]?.stringValue ?? ""
                    #expect(detail.contains("Developer Pack") || detail.contains("refused less than"))
                    continue
                }
                let error = try await entra.send(method, path, body, expect: .forbidden)
                #expect(
                    error?[attribute: "detail"]?.stringValue?.hasSuffix("the Enterprise plan (current plan: professional) and the Developer Pack")
                        == true
                )
            }
            _ = try await entra.fixture.admin.updateOrganization(id: org, plan: .enterprise, sso: nil, developerPack: true)
            // The authentication stage remembers a refused token for failedTokenSeconds.
            if kind == .fulcrum { return }
            #expect(try await entra.get("/scim/v2/Users/\(id)")[attribute: "active"] == true)
            #expect(try await entra.get("/scim/v2/Users")[attribute: "totalResults"] == 1)
        }
    }
}
