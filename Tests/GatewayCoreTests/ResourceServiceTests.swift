import Foundation
import GatewayCore
import GatewayTesting
import Testing

/// The SCIM resource service on every directory: each defect the first review found has its case here, run on the
/// embedded SQLite directory and on the in-memory one.
@Suite struct ResourceServiceTests {
    static let kinds = DirectoryKind.allCases
    static let policy = ProvisioningPolicy(rules: FulcrumRules(roleMapping: ["Manager": .manager]))

    static func user(_ name: String, roles: JSONValue? = nil) -> JSONValue {
        var body: [String: JSONValue] = [
            "userName": .string("\(name)@example.com"), "name": ["givenName": .string(name.capitalized), "familyName": "Tester"],
            "emails": [["primary": true, "type": "work", "value": .string("\(name)@example.com")]],
        ]
        if let roles { body["roles"] = roles }
        return .object(body)
    }

    static func patch(_ op: PatchOperation.Op, _ path: String?, _ value: JSONValue? = nil) -> PatchOperation {
        PatchOperation(op: op, path: path, value: value)
    }

    func member(_ fixture: DirectoryFixture, _ id: String) async throws -> Member? {
        try await fixture.admin.listMembers(organizationID: fixture.organization.id).first { $0.id == id }
    }

    // 1. A role an administrator set on a managed member stands until `roles` changes.
    @Test(arguments: kinds)
    func aRoleSetInFulcrumStandsUntilTheIdentityProviderChangesRoles(kind: DirectoryKind) async throws {
        try await DirectoryFixture.run(kind) { fixture in
            let context = try await fixture.context(policy: Self.policy)
            let alice = try await fixture.service.create(Self.user("alice"), in: .user, context: context)
            #expect(try await member(fixture, alice.id)?.role == .standard)
            _ = try await fixture.admin.updateMember(
                organizationID: fixture.organization.id,
                email: "alice@example.com",
                newEmail: nil,
                firstName: nil,
                lastName: nil,
                role: .manager
            )
            _ = try await fixture.service.patch(
                id: alice.id,
                operations: [Self.patch(.replace, "name.givenName", "Alicia")],
                in: .user,
                ifMatch: nil,
                context: context
            )
            #expect(try await member(fixture, alice.id)?.role == .manager)
            // The identity provider sends roles: its mapping wins from then on.
            _ = try await fixture.service.patch(
                id: alice.id,
                operations: [Self.patch(.replace, "roles", [["primary": true, "value": "Field Worker"]])],
                in: .user,
                ifMatch: nil,
                context: context
            )
            #expect(try await member(fixture, alice.id)?.role == .standard)
        }
    }

    // 2. Every change to a representation changes its version, membership included.
    @Test(arguments: kinds)
    func versionsFollowMembershipChanges(kind: DirectoryKind) async throws {
        try await DirectoryFixture.run(kind) { fixture in
            let context = try await fixture.context()
            let alice = try await fixture.service.create(Self.user("alice"), in: .user, context: context)
            let group = try await fixture.service.create(
                ["displayName": "Crew", "members": [["value": .string(alice.id)]]],
                in: .group,
                context: context
            )
            let joined = try await fixture.service.get(id: alice.id, in: .user, projection: .all, context: context)
            #expect(joined.version != alice.version)
            #expect(joined.body[attribute: "groups"]?.arrayValue?.count == 1)
            // A rename changes what the member's `groups` shows.
            _ = try await fixture.service.patch(
                id: group.id,
                operations: [Self.patch(.replace, "displayName", "Field Crew")],
                in: .group,
                ifMatch: nil,
                context: context
            )
            let renamed = try await fixture.service.get(id: alice.id, in: .user, projection: .all, context: context)
            #expect(renamed.version != joined.version)
            let before = try await fixture.service.get(id: group.id, in: .group, projection: .all, context: context)
            try await fixture.service.delete(id: alice.id, in: .user, ifMatch: nil, context: context)
            let after = try await fixture.service.get(id: group.id, in: .group, projection: .all, context: context)
            #expect(after.version != before.version)
            #expect(after.body[attribute: "members"] == [])
        }
    }

    // 3. Only a remove with no value empties a group; an explicit list removes exactly its entries.
    @Test(arguments: kinds, [JSONValue.array([]), .null, [["value": "not-a-member"]]])
    func anExplicitRemoveListRemovesExactlyItsEntries(kind: DirectoryKind, value: JSONValue) async throws {
        try await DirectoryFixture.run(kind) { fixture in
            let context = try await fixture.context()
            let group = try await groupOfThree(fixture, context: context)
            let patched = try await fixture.service.patch(
                id: group,
                operations: [Self.patch(.remove, "members", value)],
                in: .group,
                ifMatch: nil,
                context: context
            )
            #expect(patched.body[attribute: "members"]?.arrayValue?.count == 3)
            let emptied = try await fixture.service.patch(
                id: group,
                operations: [Self.patch(.remove, "members")],
                in: .group,
                ifMatch: nil,
                context: context
            )
            #expect(emptied.body[attribute: "members"] == [])
        }
    }

    func groupOfThree(_ fixture: DirectoryFixture, context: GatewayContext) async throws -> String {
        var members: [JSONValue] = []
        for name in ["ann", "ben", "cat"] {
            members.append(["value": .string(try await fixture.service.create(Self.user(name), in: .user, context: context).id)])
        }
        return try await fixture.service.create(["displayName": "Three", "members": .array(members)], in: .group, context: context).id
    }

    /// The limit counts the change a PATCH really makes, whatever path spelling or operation makes it.
    @Test(
        arguments: kinds,
        [
            patch(.remove, "members"),
            patch(.replace, "urn:ietf:params:scim:schemas:core:2.0:Group:members", []),
            patch(.remove, #"members[value ne "x"]"#),
        ]
    )
    func theMemberLimitCountsTheRealChange(kind: DirectoryKind, operation: PatchOperation) async throws {
        try await DirectoryFixture.run(kind) { fixture in
            var policy = ProvisioningPolicy.default
            policy.maxMembersPerPatch = 2
            let context = try await fixture.context(policy: policy)
            let group = try await groupOfThree(fixture, context: context)
            let error = await #expect(throws: SCIMError.self) {
                try await fixture.service.patch(id: group, operations: [operation], in: .group, ifMatch: nil, context: context)
            }
            #expect(error?.scimType == .invalidValue)
            #expect(error?.detail.contains("at most 2 members") == true)
            let kept = try await fixture.service.get(id: group, in: .group, projection: .all, context: context)
            #expect(kept.body[attribute: "members"]?.arrayValue?.count == 3)
        }
    }

    /// Members must be managed users of the organization, under any path spelling (the review's bypass).
    @Test(arguments: kinds, ["members", "urn:ietf:params:scim:schemas:core:2.0:Group:members", "MEMBERS"])
    func groupMembersAreCheckedWhateverThePathSpelling(kind: DirectoryKind, path: String) async throws {
        try await DirectoryFixture.run(kind) { fixture in
            let context = try await fixture.context()
            let alice = try await fixture.service.create(Self.user("alice"), in: .user, context: context).id
            let group = try await fixture.service.create(["displayName": "Crew"], in: .group, context: context).id
            let other = try await fixture.service.create(["displayName": "Other"], in: .group, context: context).id
            let unmanaged = try await fixture.admin.addMember(
                organizationID: fixture.organization.id,
                email: "sam@example.com",
                firstName: nil,
                lastName: nil,
                role: .standard
            )
            for (id, message) in [("ghost", "is not a User provisioned"), (other, "nested groups"), (unmanaged.id, "is not a User provisioned")] {
                let error = await #expect(throws: SCIMError.self) {
                    try await fixture.service.patch(
                        id: group,
                        operations: [Self.patch(.add, path, [["value": .string(alice)], ["value": .string(id)]])],
                        in: .group,
                        ifMatch: nil,
                        context: context
                    )
                }
                #expect(error?.scimType == .invalidValue)
                #expect(error?.detail.contains(id) == true)
                #expect(error?.detail.contains(message) == true)
            }
            let kept = try await fixture.service.get(id: group, in: .group, projection: .all, context: context)
            #expect(kept.body[attribute: "members"] == [])
            // Removing a member that is already gone is fine (Entra may).
            _ = try await fixture.service.patch(
                id: group,
                operations: [Self.patch(.remove, path, [["value": "ghost"]])],
                in: .group,
                ifMatch: nil,
                context: context
            )
        }
    }

    // 4. Uniqueness compares Unicode-normalised, case-folded keys.
    @Test(arguments: kinds)
    func uniquenessIsUnicodeAware(kind: DirectoryKind) async throws {
        try await DirectoryFixture.run(kind) { fixture in
            let context = try await fixture.context()
            _ = try await fixture.service.create(["userName": "Émile@example.com"], in: .user, context: context)
            for spelling in ["émile@example.com", "E\u{301}mile@example.com", "ÉMILE@EXAMPLE.COM"] {
                let error = await #expect(throws: SCIMError.self) {
                    try await fixture.service.create(["userName": .string(spelling)], in: .user, context: context)
                }
                #expect(error?.scimType == .uniqueness, "\(spelling)")
            }
            let found = try await fixture.service.search(
                SearchQuery(filter: try Filter(parsing: #"userName eq "e\#u{301}MILE@example.com""#)),
                in: .user,
                context: context
            )
            #expect(found.totalResults == 1)
            _ = try await fixture.service.create(["displayName": "Équipe"], in: .group, context: context)
            let group = await #expect(throws: SCIMError.self) {
                try await fixture.service.create(["displayName": "équipe"], in: .group, context: context)
            }
            #expect(group?.scimType == .uniqueness)
            let byName = try await fixture.service.search(
                SearchQuery(filter: try Filter(parsing: #"displayName eq "ÉQUIPE""#)),
                in: .group,
                context: context
            )
            #expect(byName.totalResults == 1)
        }
    }

    // 8. A user with no email yet is not a Fulcrum member, so no group counts it.
    @Test(arguments: kinds)
    func aUserWithoutAnEmailIsNotCountedInGroups(kind: DirectoryKind) async throws {
        try await DirectoryFixture.run(kind) { fixture in
            let context = try await fixture.context()
            let alice = try await fixture.service.create(Self.user("alice"), in: .user, context: context).id
            let pending = try await fixture.service.create(["userName": "pending-user"], in: .user, context: context).id
            _ = try await fixture.service.create(
                ["displayName": "Crew", "members": [["value": .string(alice)], ["value": .string(pending)]]],
                in: .group,
                context: context
            )
            let listed = try await fixture.admin.listMembers(organizationID: fixture.organization.id)
            #expect(!listed.contains { $0.id == pending })
            #expect(try await fixture.admin.listGroups(organizationID: fixture.organization.id).first?.memberCount == 1)
        }
    }

    // 9. Removal, deactivation and demotion revoke an Owner's tokens for good.
    @Test(arguments: kinds)
    func aDeactivatedOwnersTokensDoNotComeBack(kind: DirectoryKind) async throws {
        try await DirectoryFixture.run(kind) { fixture in
            let org = fixture.organization.id
            _ = try await fixture.admin.addMember(organizationID: org, email: "second@example.com", firstName: nil, lastName: nil, role: .owner)
            let token = try await fixture.admin.createToken(organizationID: org, memberEmail: "second@example.com", description: nil)
            let context = try await fixture.context(policy: ProvisioningPolicy(rules: FulcrumRules(onUnmanagedConflict: .adopt)))
            let adopted = try await fixture.service.create(["userName": "second@example.com"], in: .user, context: context)
            if kind == .fulcrum {
                // Fulcrum's API never removes an Owner: deactivation is refused, with Fulcrum's reason, and nothing changes.
                let error = await #expect(throws: SCIMError.self) {
                    try await fixture.service.patch(
                        id: adopted.id,
                        operations: [Self.patch(.replace, "active", false)],
                        in: .user,
                        ifMatch: nil,
                        context: context
                    )
                }
                #expect(error?.status == .badRequest)
                #expect(error?.detail.contains("Owner") == true)
                #expect(try await member(fixture, adopted.id)?.role == .owner)
                return
            }
            for active in [false, true] {
                _ = try await fixture.service.patch(
                    id: adopted.id,
                    operations: [Self.patch(.replace, "active", .bool(active))],
                    in: .user,
                    ifMatch: nil,
                    context: context
                )
            }
            #expect(try await member(fixture, adopted.id)?.role == .owner)
            let error = await #expect(throws: SCIMError.self) {
                try await fixture.backend.authenticate(token: BearerToken(token.secret), context: .test())
            }
            #expect(error?.status == .unauthorized)
            #expect(try await fixture.admin.listTokens(organizationID: org).first { $0.id == token.info.id }?.revoked == true)
        }
    }

    @Test(arguments: kinds)
    func aDemotedOwnersTokensStayRevokedWhenPromotedAgain(kind: DirectoryKind) async throws {
        try await DirectoryFixture.run(kind) { fixture in
            let org = fixture.organization.id
            _ = try await fixture.admin.addMember(organizationID: org, email: "second@example.com", firstName: nil, lastName: nil, role: .owner)
            let token = try await fixture.admin.createToken(organizationID: org, memberEmail: "second@example.com", description: nil)
            for role in [MemberRole.manager, .owner] {
                _ = try await fixture.admin.updateMember(
                    organizationID: org,
                    email: "second@example.com",
                    newEmail: nil,
                    firstName: nil,
                    lastName: nil,
                    role: role
                )
            }
            if kind == .fulcrum {
                // The token is Fulcrum's: the gateway cannot revoke it, and Fulcrum honours it again for an Owner.
                #expect(try await fixture.backend.authenticate(token: BearerToken(token.secret), context: .test()).role == .owner)
                return
            }
            await #expect(throws: SCIMError.self) { try await fixture.backend.authenticate(token: BearerToken(token.secret), context: .test()) }
        }
    }

    // 10. The token's own member is refused with a message that says what works.
    @Test(arguments: kinds)
    func theTokensOwnMemberIsRefusedWithAWayForward(kind: DirectoryKind) async throws {
        try await DirectoryFixture.run(kind) { fixture in
            let context = try await fixture.context()
            let owner = try #require(context.principal?.memberID)
            let error = await #expect(throws: SCIMError.self) {
                try await fixture.service.patch(
                    id: owner,
                    operations: [Self.patch(.replace, "active", false)],
                    in: .user,
                    ifMatch: nil,
                    context: context
                )
            }
            #expect(error?.status == .forbidden)
            #expect(error?.detail.contains("token of another Owner") == true)
            #expect(error?.detail.contains("change it in Fulcrum") == false)
            await #expect(throws: SCIMError.self) { try await fixture.service.delete(id: owner, in: .user, ifMatch: nil, context: context) }
            #expect(try await member(fixture, owner)?.role == .owner)
        }
    }

    /// A search across types: an attribute one type lacks matches nothing there, instead of failing the search.
    @Test(arguments: kinds)
    func aSearchAcrossTypesMatchesWhatEachTypeHas(kind: DirectoryKind) async throws {
        try await DirectoryFixture.run(kind) { fixture in
            let context = try await fixture.context()
            _ = try await fixture.service.create(Self.user("alice"), in: .user, context: context)
            _ = try await fixture.service.create(["displayName": "Crew"], in: .group, context: context)
            var query = SearchQuery(filter: try Filter(parsing: #"userName eq "alice@example.com" or displayName eq "crew""#))
            query.acrossTypes = true
            #expect(try await fixture.service.search(query, in: .user, context: context).totalResults == 1)
            #expect(try await fixture.service.search(query, in: .group, context: context).totalResults == 1)
            query.filter = try Filter(parsing: #"nothing eq "x""#)
            await #expect(throws: SCIMError.self) { try await fixture.service.search(query, in: .group, context: context) }
        }
    }
}
