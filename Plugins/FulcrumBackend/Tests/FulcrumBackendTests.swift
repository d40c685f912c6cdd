import Foundation
import FulcrumBackend
import FulcrumEmulator
import GatewayCore
import GatewayTesting
import SCIMCore
import SQLiteBackend
import Testing

/// Each row of the README's operation → Fulcrum call table, counted by the emulator; then the failure modes.
@Suite struct FulcrumBackendTests {
    /// Runs `body` on a `.fulcrum` fixture whose backend caches like a deployed one (tokens and member lists).
    func withCachingBackend(
        _ behaviour: EmulatorBehaviour = EmulatorBehaviour(),
        _ body: @escaping @Sendable (DirectoryFixture, FulcrumBackend, GatewayContext) async throws -> Void
    ) async throws {
        try await DirectoryFixture.run(.fulcrum) { fixture in
            let running = try #require(fixture.emulator)
            running.emulator.behaviour = behaviour
            var configuration = FulcrumBackend.Configuration(baseURL: running.baseURL)
            configuration.ledger = .init(path: "caching-ledger.sqlite", synchronous: .normal)
            configuration.maximumWaitSeconds = 2
            let backend = try await FulcrumBackend(configuration: configuration, context: .test(directory: fixture.folder))
            do {
                let principal = try await backend.authenticate(token: BearerToken(fixture.token), context: .test())
                try await body(fixture, backend, GatewayContext.test(principal: principal))
                await backend.close()
            } catch {
                await backend.close()
                throw error
            }
        }
    }

    /// The upstream calls `operation` made, by route.
    func calls(_ emulator: Emulator, _ operation: () async throws -> Void) async throws -> [String: Int] {
        let before = emulator.stats.byRoute
        try await operation()
        return emulator.stats.byRoute.merging(before) { $0 - $1 }.filter { $0.value > 0 }
    }

    static func user(_ name: String, active: Bool = true) -> JSONValue {
        [
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": .string("\(name)@contoso.test"), "active": .bool(active),
            "name": ["givenName": .string(name.capitalized), "familyName": "Tester"],
            "emails": [["primary": true, "type": "work", "value": .string("\(name)@contoso.test")]],
        ]
    }

    static func patch(_ operations: JSONValue) throws -> [PatchOperation] {
        try PatchOperation.operations(fromBody: ["schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": operations])
    }

    @Test func everySCIMOperationCostsTheFewestFulcrumCalls() async throws {
        try await withCachingBackend { fixture, backend, context in
            let emulator = try #require(fixture.emulator).emulator
            let service = ResourceService(backend: backend)
            var alice = ""
            // Create: one POST (the member list for conflicts was read at authentication and is cached).
            #expect(
                try await calls(emulator) { alice = try await service.create(Self.user("alice"), in: .user, context: context).id } == [
                    "POST /memberships": 1
                ]
            )
            // Reads: none.
            #expect(try await calls(emulator) { _ = try await service.get(id: alice, in: .user, projection: .all, context: context) }.isEmpty)
            #expect(try await calls(emulator) { _ = try await service.search(SearchQuery(), in: .user, context: context) }.isEmpty)
            // A name change: one PUT.
            let rename = try Self.patch([["op": "replace", "path": "name.givenName", "value": "Alicia"]])
            #expect(
                try await calls(emulator) { _ = try await service.patch(id: alice, operations: rename, in: .user, ifMatch: nil, context: context) }
                    == ["PUT /memberships/{id}": 1]
            )
            // A change Fulcrum does not hold (externalId): none.
            let external = try Self.patch([["op": "replace", "path": "externalId", "value": "x-1"]])
            #expect(
                try await calls(emulator) { _ = try await service.patch(id: alice, operations: external, in: .user, ifMatch: nil, context: context) }
                    .isEmpty
            )
            // A group with a member: POST, then one change_permissions (which also drops a creator Fulcrum added).
            var group = ""
            let groupBody: JSONValue = [
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Crew", "members": [["value": .string(alice)]],
            ]
            #expect(
                try await calls(emulator) { group = try await service.create(groupBody, in: .group, context: context).id } == [
                    "POST /groups": 1, "POST /groups/change_permissions": 1,
                ]
            )
            // Deactivate: one DELETE; the group keeps the SCIM member.
            let deactivate = try Self.patch([["op": "replace", "path": "active", "value": false]])
            #expect(
                try await calls(emulator) {
                    _ = try await service.patch(id: alice, operations: deactivate, in: .user, ifMatch: nil, context: context)
                } == ["DELETE /memberships/{id}": 1]
            )
            #expect(emulator.withModel { $0.memberships(of: fixture.organization.id).count } == 1)
            // Reactivate: POST, then back into its group.
            let reactivate = try Self.patch([["op": "replace", "path": "active", "value": true]])
            #expect(
                try await calls(emulator) {
                    _ = try await service.patch(id: alice, operations: reactivate, in: .user, ifMatch: nil, context: context)
                } == ["POST /memberships": 1, "POST /groups/change_permissions": 1]
            )
            let upstreamGroup = try #require(try await backend.read { try await $0.upstreamLink(id: group) }?.upstreamID)
            let newMembership = try #require(try await backend.read { try await $0.upstreamLink(id: alice) }?.upstreamID)
            #expect(emulator.withModel { $0.groups[upstreamGroup]?.memberIDs } == [newMembership])
            // Rename a group: one PUT. Remove a member: one change_permissions. Delete: one DELETE each.
            let groupRename = try Self.patch([["op": "replace", "path": "displayName", "value": "Crew 2"]])
            #expect(
                try await calls(emulator) {
                    _ = try await service.patch(id: group, operations: groupRename, in: .group, ifMatch: nil, context: context)
                } == ["PUT /groups/{id}": 1]
            )
            let removal = try Self.patch([["op": "remove", "path": .string("members[value eq \"\(alice)\"]")]])
            #expect(
                try await calls(emulator) { _ = try await service.patch(id: group, operations: removal, in: .group, ifMatch: nil, context: context) }
                    == ["POST /groups/change_permissions": 1]
            )
            #expect(
                try await calls(emulator) { try await service.delete(id: group, in: .group, ifMatch: nil, context: context) } == [
                    "DELETE /groups/{id}": 1
                ]
            )
            #expect(
                try await calls(emulator) { try await service.delete(id: alice, in: .user, ifMatch: nil, context: context) } == [
                    "DELETE /memberships/{id}": 1
                ]
            )
            #expect(emulator.withModel { $0.memberships(of: fixture.organization.id).map(\.id) }.contains(newMembership) == false)
        }
    }

    @Test(arguments: [false, true])
    func aCreatorFulcrumAddsToANewGroupIsRemoved(addsCreator: Bool) async throws {
        var behaviour = EmulatorBehaviour()
        behaviour.groupCreateAddsCreator = addsCreator
        behaviour.strictGroupChanges = true
        try await withCachingBackend(behaviour) { fixture, backend, context in
            let emulator = try #require(fixture.emulator).emulator
            let service = ResourceService(backend: backend)
            let group = try await service.create(
                ["schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Empty"],
                in: .group,
                context: context
            )
            let upstream = try #require(try await backend.read { try await $0.upstreamLink(id: group.id) }?.upstreamID)
            #expect(emulator.withModel { $0.groups[upstream]?.memberIDs } == [])
        }
    }

    @Test(arguments: [true, false])
    func a429StormIsWaitedOutWithOrWithoutRetryAfter(sendRetryAfter: Bool) async throws {
        var behaviour = EmulatorBehaviour()
        behaviour.sendRetryAfter = sendRetryAfter
        try await withCachingBackend(behaviour) { fixture, backend, context in
            let emulator = try #require(fixture.emulator).emulator
            emulator.behaviour.throttleNext = 2
            let service = ResourceService(backend: backend)
            // Retry-After says 60 s, beyond maximumWaitSeconds (2): the client is told to come back; without it the
            // backoff (0.5 s, 1 s) waits it out.
            if sendRetryAfter {
                await #expect(throws: SCIMError.self) { _ = try await service.create(Self.user("bob"), in: .user, context: context) }
                #expect(try await service.search(SearchQuery(), in: .user, context: context).totalResults == 0)
            } else {
                _ = try await service.create(Self.user("bob"), in: .user, context: context)
                #expect(emulator.withModel { $0.membership(email: "bob@contoso.test", organizationID: fixture.organization.id) } != nil)
            }
        }
    }

    /// A 500 before Fulcrum acted (`failNext`) and one after it acted (`loseAnswerNext`): either way one member and
    /// one group, because a POST is retried only after looking for what it may have made.
    @Test(arguments: ["failNext", "loseAnswerNext"])
    func fiveHundredsOnAPostAreCheckedBeforeRetryingSoNoDuplicateIsMade(fault: String) async throws {
        try await withCachingBackend { fixture, backend, context in
            let emulator = try #require(fixture.emulator).emulator
            let service = ResourceService(backend: backend)
            func inject() {
                if fault == "failNext" { emulator.behaviour.failNext = 1 } else { emulator.behaviour.loseAnswerNext = 1 }
            }
            inject()
            let created = try await service.create(Self.user("carol"), in: .user, context: context)
            #expect(created.body[attribute: "active"] == true)
            let carol = emulator.withModel { $0.memberships(of: fixture.organization.id).filter { $0.userID == $0.userID } }
            #expect(carol.count == 2)
            inject()
            let group = try await service.create(
                ["schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Crew"],
                in: .group,
                context: context
            )
            #expect(emulator.withModel { $0.groups(of: fixture.organization.id).filter { $0.name == "Crew" }.count } == 1)
            #expect(try await backend.read { try await $0.upstreamLink(id: group.id) }?.upstreamID != nil)
        }
    }

    /// A call Fulcrum never answers times out (1 s here); a POST is looked for, then sent again; a PUT is retried.
    @Test func aHangingFulcrumTimesOutAndTheCallIsRetriedSafely() async throws {
        try await DirectoryFixture.run(.fulcrum) { fixture in
            let running = try #require(fixture.emulator)
            var configuration = FulcrumBackend.Configuration(baseURL: running.baseURL)
            configuration.ledger = .init(path: "hang-ledger.sqlite", synchronous: .normal)
            configuration.timeoutSeconds = 1
            let backend = try await FulcrumBackend(configuration: configuration, context: .test(directory: fixture.folder))
            do {
                let principal = try await backend.authenticate(token: BearerToken(fixture.token), context: .test())
                let context = GatewayContext.test(principal: principal)
                let service = ResourceService(backend: backend)
                running.emulator.behaviour.hangNext = 1
                let id = try await service.create(Self.user("ivy"), in: .user, context: context).id
                #expect(running.emulator.withModel { $0.memberships(of: fixture.organization.id).count } == 2)
                running.emulator.behaviour.hangNext = 1
                let rename = try Self.patch([["op": "replace", "path": "name.givenName", "value": "Ivory"]])
                _ = try await service.patch(id: id, operations: rename, in: .user, ifMatch: nil, context: context)
                #expect(running.emulator.withModel { model in model.user(email: "ivy@contoso.test")?.firstName } == "Ivory")
                await backend.close()
            } catch {
                await backend.close()
                throw error
            }
        }
    }

    @Test func persistent5xxIs502AndTheLedgerIsUnchanged() async throws {
        try await withCachingBackend { fixture, backend, context in
            let emulator = try #require(fixture.emulator).emulator
            emulator.behaviour.errorRate = 1
            let service = ResourceService(backend: backend)
            let error = await #expect(throws: SCIMError.self) { _ = try await service.create(Self.user("dan"), in: .user, context: context) }
            #expect(error?.status == .badGateway)
            emulator.behaviour.errorRate = 0
            #expect(try await service.search(SearchQuery(), in: .user, context: context).totalResults == 0)
        }
    }

    @Test func anUpstream422IsA400WithFulcrumsMessage() async throws {
        try await withCachingBackend { fixture, backend, context in
            let service = ResourceService(backend: backend)
            let id = try await service.create(Self.user("erin"), in: .user, context: context).id
            // Fulcrum refuses to rename a member who belongs to two organizations.
            let emulator = try #require(fixture.emulator).emulator
            emulator.withModel { model in
                let other = model.addOrganization(name: "Other", developerPack: true)
                _ = try? model.addMembership(
                    organizationID: other.id,
                    email: "erin@contoso.test",
                    firstName: nil,
                    lastName: nil,
                    roleID: nil,
                    managed: false
                )
            }
            let rename = try Self.patch([["op": "replace", "path": "name.familyName", "value": "Else"]])
            let error = await #expect(throws: SCIMError.self) {
                _ = try await service.patch(id: id, operations: rename, in: .user, ifMatch: nil, context: context)
            }
            #expect(error?.status == .badRequest)
            #expect(error?.detail.contains("multiple organizations") == true)
            #expect(
                try await service.get(id: id, in: .user, projection: .all, context: context).body[attribute: "name"]?[attribute: "familyName"]
                    == "Tester"
            )
        }
    }

    @Test func aMemberRemovedInFulcrumIs404AndTheLedgerForgetsIt() async throws {
        try await withCachingBackend { fixture, backend, context in
            let service = ResourceService(backend: backend)
            let id = try await service.create(Self.user("fay"), in: .user, context: context).id
            let emulator = try #require(fixture.emulator).emulator
            emulator.withModel { model in
                if let membership = model.membership(email: "fay@contoso.test", organizationID: fixture.organization.id) {
                    try? model.removeMembership(id: membership.id, organizationID: fixture.organization.id, actingUserID: nil)
                }
            }
            let rename = try Self.patch([["op": "replace", "path": "name.familyName", "value": "Gone"]])
            let error = await #expect(throws: SCIMError.self) {
                _ = try await service.patch(id: id, operations: rename, in: .user, ifMatch: nil, context: context)
            }
            #expect(error?.status == .notFound)
            await #expect(throws: SCIMError.self) { _ = try await service.get(id: id, in: .user, projection: .all, context: context) }
        }
    }

    @Test func theTokensOwnerRemovedOrATokenRefusedIs401() async throws {
        try await DirectoryFixture.run(.fulcrum) { fixture in
            let emulator = try #require(fixture.emulator).emulator
            _ = try await fixture.backend.authenticate(token: BearerToken(fixture.token), context: .test())
            emulator.withModel { model in
                if let owner = model.membership(email: fixture.ownerEmail, organizationID: fixture.organization.id) {
                    model.memberships[owner.id] = nil
                }
            }
            let error = await #expect(throws: SCIMError.self) {
                _ = try await fixture.backend.authenticate(token: BearerToken(fixture.token), context: .test())
            }
            #expect(error?.status == .unauthorized)
        }
    }

    @Test func anOrganizationOutsideTheEntitlementsGets403NamingWhatIsMissing() async throws {
        try await DirectoryFixture.run(.fulcrum, features: PlanFeatures(plan: .professional, sso: false, developerPack: true)) { fixture in
            let principal = try await fixture.backend.authenticate(token: BearerToken(fixture.token), context: .test())
            #expect(principal.features.missingForSCIM.contains("single sign-on (SSO)"))
        }
    }

    @Test func theBudgetAnswers429WithATruthfulRetryAfterAndCallsNothing() async throws {
        try await DirectoryFixture.run(.fulcrum) { fixture in
            let running = try #require(fixture.emulator)
            var configuration = FulcrumBackend.Configuration(baseURL: running.baseURL)
            configuration.ledger = .init(path: "budget-ledger.sqlite", synchronous: .normal)
            configuration.callsPerHour = 4
            configuration.readReserve = 0
            let backend = try await FulcrumBackend(configuration: configuration, context: .test(directory: fixture.folder))
            defer { Task { await backend.close() } }
            // whoami, roles and the member list: three of four calls.
            let principal = try await backend.authenticate(token: BearerToken(fixture.token), context: .test())
            let service = ResourceService(backend: backend)
            _ = try await service.create(Self.user("gil"), in: .user, context: GatewayContext.test(principal: principal))
            let before = running.emulator.stats.requests
            let error = await #expect(throws: SCIMError.self) {
                _ = try await service.create(Self.user("hal"), in: .user, context: GatewayContext.test(principal: principal))
            }
            #expect(error?.status == .tooManyRequests)
            let retryAfter = Int(error?.headers[.retryAfter] ?? "") ?? 0
            #expect((3500...3600).contains(retryAfter))
            #expect(running.emulator.stats.requests == before)
        }
    }

    @Test func reconcileFindsDriftMadeInFulcrumAndApplyRepairsIt() async throws {
        try await withCachingBackend { fixture, backend, context in
            let emulator = try #require(fixture.emulator).emulator
            let service = ResourceService(backend: backend)
            let org = fixture.organization.id
            let alice = try await service.create(Self.user("alice"), in: .user, context: context).id
            let bob = try await service.create(Self.user("bob"), in: .user, context: context).id
            let group: JSONValue = [
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Crew",
                "members": [["value": .string(alice)], ["value": .string(bob)]],
            ]
            let crew = try await service.create(group, in: .group, context: context).id
            let other = try await service.create(
                ["schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Other"],
                in: .group,
                context: context
            ).id
            #expect(try await backend.reconcile(token: fixture.token, organizationID: org, apply: false).isEmpty)
            // In Fulcrum's UI: alice renamed, bob removed, Other deleted, Crew renamed.
            emulator.withModel { model in
                if let membership = model.membership(email: "alice@contoso.test", organizationID: org) {
                    model.users[membership.userID]?.firstName = "Ally"
                }
                if let membership = model.membership(email: "bob@contoso.test", organizationID: org) {
                    try? model.removeMembership(id: membership.id, organizationID: org, actingUserID: nil)
                }
                for id in model.groupOrder where model.groups[id]?.name == "Other" { model.groups[id] = nil }
                for id in model.groupOrder where model.groups[id]?.name == "Crew" { model.groups[id]?.name = "Renamed" }
            }
            let drift = try await backend.reconcile(token: fixture.token, organizationID: org, apply: false)
            #expect(Set(drift.map(\.kind)) == [.memberChanged, .memberRemoved, .groupDeleted, .groupRenamed])
            #expect(drift.first { $0.kind == .memberRemoved }?.id == bob)
            #expect(drift.first { $0.kind == .groupDeleted }?.id == other)
            _ = try await backend.reconcile(token: fixture.token, organizationID: org, apply: true)
            #expect(try await backend.reconcile(token: fixture.token, organizationID: org, apply: false).isEmpty)
            #expect(try await service.get(id: bob, in: .user, projection: .all, context: context).body[attribute: "active"] == false)
            await #expect(throws: SCIMError.self) { _ = try await service.get(id: other, in: .group, projection: .all, context: context) }
            #expect(
                emulator.withModel { model in
                    model.membership(email: "alice@contoso.test", organizationID: org).flatMap { model.users[$0.userID]?.firstName }
                } == "Alice"
            )
            #expect(emulator.withModel { $0.groups(of: org).contains { $0.name == "Crew" } })
            _ = crew
        }
    }
}
