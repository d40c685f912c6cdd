import Foundation
import FulcrumEmulator
import GatewayCore
import GatewayTesting
import Logging
import Metrics
import SCIMCore
import SQLiteBackend
import ServiceLifecycle
import Synchronization
import Testing

@testable import FulcrumBackend

/// `delivery: queued`: the identity provider is answered from the ledger at once; `drain()` (the worker's step,
/// called here directly so nothing waits on a clock) delivers to the emulator, coalesced, in order, exactly once.
@Suite struct QueuedDeliveryTests {
    struct Setup {
        let fixture: DirectoryFixture
        let backend: FulcrumBackend
        let service: ResourceService
        let context: GatewayContext
        var emulator: Emulator { fixture.emulator!.emulator }
        var org: String { fixture.organization.id }

        /// The Fulcrum calls `operation` made, by route.
        func calls(_ operation: () async throws -> Void) async throws -> [String: Int] {
            let before = emulator.stats.byRoute
            try await operation()
            return emulator.stats.byRoute.merging(before) { $0 - $1 }.filter { $0.value > 0 }
        }

        func drain() async throws -> [String: Int] { try await calls { try await backend.drain() } }

        func pending() async throws -> [OutboxEntry] { try await backend.outbox(organizationID: org, parkedOnly: false) }

        /// What the worker leaves when it has begun the first pending entry: the attempt recorded before the call.
        func recordAttempt() async throws {
            var entry = try #require(try await pending().first)
            entry.attempts = 1
            let attempted = entry
            try await backend.ledger.write { try await $0.update(attempted) }
        }

        /// A member made in Fulcrum directly (by an administrator, or by a POST the gateway did not record).
        @discardableResult
        func addMemberInFulcrum(
            _ email: String,
            firstName: String? = nil,
            lastName: String? = nil,
            managed: Bool = false
        ) -> EmulatorModel.Membership? {
            emulator.withModel { model in
                try? model.addMembership(
                    organizationID: org,
                    email: email,
                    firstName: firstName,
                    lastName: lastName,
                    roleID: nil,
                    managed: managed
                )
            }
        }
    }

    func withQueued(_ body: @escaping @Sendable (Setup) async throws -> Void) async throws {
        try await DirectoryFixture.run(.fulcrum) { fixture in
            let running = try #require(fixture.emulator)
            var configuration = FulcrumBackend.Configuration(baseURL: running.baseURL)
            configuration.ledger = .init(path: "queued-ledger.sqlite", synchronous: .normal)
            configuration.delivery = .queued
            configuration.maximumWaitSeconds = 0
            configuration.retries = 0
            let backend = try await FulcrumBackend(configuration: configuration, context: .test(directory: fixture.folder))
            do {
                let principal = try await backend.authenticate(token: BearerToken(fixture.token), context: .test())
                try await body(
                    Setup(
                        fixture: fixture,
                        backend: backend,
                        service: ResourceService(backend: backend),
                        context: GatewayContext.test(principal: principal)
                    )
                )
                await backend.close()
            } catch {
                await backend.close()
                throw error
            }
        }
    }

    static func user(_ name: String, given: String? = nil) -> JSONValue {
        [
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": .string("\(name)@contoso.test"), "active": true,
            "name": ["givenName": .string(given ?? name.capitalized), "familyName": "Tester"],
            "emails": [["primary": true, "type": "work", "value": .string("\(name)@contoso.test")]],
        ]
    }

    static func patch(_ operations: JSONValue) throws -> [PatchOperation] {
        try PatchOperation.operations(fromBody: ["schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": operations])
    }

    static let group: JSONValue = ["schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Crew"]

    @Test func writesAreAnsweredFromTheLedgerWithoutCallingFulcrum() async throws {
        try await withQueued { setup in
            var id = ""
            let calls = try await setup.calls { id = try await setup.service.create(Self.user("alice"), in: .user, context: setup.context).id }
            #expect(calls.isEmpty)
            #expect(try await setup.service.get(id: id, in: .user, projection: .all, context: setup.context).body[attribute: "active"] == true)
            #expect(try await setup.pending().map(\.resourceID) == [id])
            #expect(try await setup.drain() == ["POST /memberships": 1])
            #expect(try await setup.pending().isEmpty)
            #expect(setup.emulator.withModel { $0.membership(email: "alice@contoso.test", organizationID: setup.org) } != nil)
        }
    }

    /// The README's coalescing table, row by row.
    @Test func changesWaitingTogetherAreDeliveredAsOne() async throws {
        try await withQueued { setup in
            let s = setup.service
            let c = setup.context
            // Create then update: one POST with the final values.
            let alice = try await s.create(Self.user("alice"), in: .user, context: c).id
            _ = try await s.patch(
                id: alice,
                operations: Self.patch([["op": "replace", "path": "name.givenName", "value": "Alicia"]]),
                in: .user,
                ifMatch: nil,
                context: c
            )
            // Create then deactivate: nothing.
            let bob = try await s.create(Self.user("bob"), in: .user, context: c).id
            _ = try await s.patch(
                id: bob,
                operations: Self.patch([["op": "replace", "path": "active", "value": false]]),
                in: .user,
                ifMatch: nil,
                context: c
            )
            // Create then delete: nothing.
            let cat = try await s.create(Self.user("cat"), in: .user, context: c).id
            try await s.delete(id: cat, in: .user, ifMatch: nil, context: c)
            #expect(try await setup.drain() == ["POST /memberships": 1])
            #expect(setup.emulator.withModel { model in model.user(email: "alice@contoso.test")?.firstName } == "Alicia")
            #expect(setup.emulator.withModel { $0.membership(email: "bob@contoso.test", organizationID: setup.org) } == nil)
            // A group created, then members added and removed three times: one POST and one change_permissions.
            let dan = try await s.create(Self.user("dan"), in: .user, context: c).id
            let group = try await s.create(Self.group, in: .group, context: c).id
            for operation: JSONValue in [
                ["op": "add", "path": "members", "value": [["value": .string(alice)], ["value": .string(dan)]]],
                ["op": "remove", "path": .string("members[value eq \"\(dan)\"]")],
                ["op": "add", "path": "members", "value": [["value": .string(dan)]]],
            ] {
                _ = try await s.patch(id: group, operations: Self.patch([operation]), in: .group, ifMatch: nil, context: c)
            }
            #expect(try await setup.drain() == ["POST /memberships": 1, "POST /groups": 1, "POST /groups/change_permissions": 1])
            let upstream = try #require(try await setup.backend.read { try await $0.upstreamLink(id: group) }?.upstreamID)
            #expect(setup.emulator.withModel { $0.groups[upstream]?.memberIDs.count } == 2)
            // A rename then a rename: one PUT.
            for name in ["Crew 2", "Crew 3"] {
                _ = try await s.patch(
                    id: group,
                    operations: Self.patch([["op": "replace", "path": "displayName", "value": .string(name)]]),
                    in: .group,
                    ifMatch: nil,
                    context: c
                )
            }
            #expect(try await setup.drain() == ["PUT /groups/{id}": 1])
            #expect(setup.emulator.withModel { $0.groups[upstream]?.name } == "Crew 3")
            // Deactivate and reactivate between deliveries: a DELETE, then a POST and the return to its group.
            _ = try await s.patch(
                id: dan,
                operations: Self.patch([["op": "replace", "path": "active", "value": false]]),
                in: .user,
                ifMatch: nil,
                context: c
            )
            #expect(try await setup.drain() == ["DELETE /memberships/{id}": 1])
            _ = try await s.patch(
                id: dan,
                operations: Self.patch([["op": "replace", "path": "active", "value": true]]),
                in: .user,
                ifMatch: nil,
                context: c
            )
            #expect(try await setup.drain() == ["POST /memberships": 1, "POST /groups/change_permissions": 1])
            #expect(setup.emulator.withModel { $0.groups[upstream]?.memberIDs.count } == 2)
        }
    }

    @Test func eachOrganizationIsDeliveredInOrder() async throws {
        try await withQueued { setup in
            let ids = try await (0..<5).asyncMap { try await setup.service.create(Self.user("user\($0)"), in: .user, context: setup.context).id }
            #expect(try await setup.pending().map(\.resourceID) == ids)
            _ = try await setup.drain()
            let order = setup.emulator.withModel { $0.memberships(of: setup.org).map { $0.createdAt.isEmpty ? "" : "" } }
            #expect(order.count == 6)
            let emails = setup.emulator.withModel { model in model.memberships(of: setup.org).compactMap { model.users[$0.userID]?.email } }
            #expect(emails == ["owner@example.com"] + (0..<5).map { "user\($0)@contoso.test" })
        }
    }

    /// The POST landed but its answer was lost: the member is looked for before anything is sent again.
    @Test func aLostAnswerIsCheckedBeforeTheRetrySoNothingIsDuplicated() async throws {
        try await withQueued { setup in
            _ = try await setup.service.create(Self.user("erin"), in: .user, context: setup.context)
            setup.emulator.behaviour.loseAnswerNext = 1
            #expect(try await setup.drain() == ["POST /memberships": 1, "GET /memberships": 1])
            #expect(try await setup.pending().isEmpty)
            #expect(setup.emulator.withModel { $0.memberships(of: setup.org).count } == 2)
        }
    }

    @Test func a429StormDelaysButNeverDrops() async throws {
        try await withQueued { setup in
            _ = try await setup.service.create(Self.user("fay"), in: .user, context: setup.context)
            setup.emulator.behaviour.throttleNext = 1000
            for _ in 0..<3 {
                _ = try await setup.drain()
                _ = try await setup.backend.retryOutbox(sequence: nil)
            }
            #expect(try await setup.pending().count == 1)
            #expect(try await setup.backend.outbox(organizationID: setup.org, parkedOnly: true).isEmpty)
            setup.emulator.behaviour.throttleNext = 0
            _ = try await setup.drain()
            #expect(try await setup.pending().isEmpty)
            #expect(setup.emulator.withModel { $0.membership(email: "fay@contoso.test", organizationID: setup.org) } != nil)
        }
    }

    /// Fulcrum refuses after the identity provider was answered: the entry is parked and the user reads back
    /// inactive with the reason, where Entra's provisioning logs show it.
    @Test func aRefusalAfterTheFactIsParkedAndShownOnTheUser() async throws {
        try await withQueued { setup in
            let id = try await setup.service.create(Self.user("gil"), in: .user, context: setup.context).id
            // Meanwhile an administrator adds gil in Fulcrum itself.
            setup.addMemberInFulcrum("gil@contoso.test")
            _ = try await setup.drain()
            let parked = try await setup.backend.outbox(organizationID: setup.org, parkedOnly: true)
            #expect(parked.map(\.resourceID) == [id])
            #expect(parked.first?.lastError?.contains("gil@contoso.test") == true)
            let user = try await setup.service.get(id: id, in: .user, projection: .all, context: setup.context).body
            #expect(user[attribute: "active"] == false)
            #expect(
                user[attribute: FulcrumBackend.extensionSchema]?[attribute: "provisioningError"]?.stringValue?.contains("gil@contoso.test") == true
            )
        }
    }
}

extension QueuedDeliveryTests {
    /// Fulcrum refuses an update after the fact (the new email is taken in Fulcrum meanwhile): the entry is parked
    /// and the ledger goes back to what Fulcrum holds, so the identity provider's next read differs from what it sent
    /// and it sends the change again; the reason is on the user.
    @Test func aRefusedUpdateRollsTheLedgerBackToWhatFulcrumHolds() async throws {
        try await withQueued { setup in
            let id = try await setup.service.create(Self.user("ned"), in: .user, context: setup.context).id
            _ = try await setup.drain()
            setup.addMemberInFulcrum("edward@contoso.test")
            _ = try await setup.service.patch(
                id: id,
                operations: Self.patch([
                    ["op": "replace", "path": "emails[type eq \"work\"].value", "value": "edward@contoso.test"],
                    ["op": "replace", "path": "name.givenName", "value": "Edward"],
                ]),
                in: .user,
                ifMatch: nil,
                context: setup.context
            )
            _ = try await setup.drain()
            #expect(try await setup.backend.outbox(organizationID: setup.org, parkedOnly: true).map(\.resourceID) == [id])
            let user = try await setup.service.get(id: id, in: .user, projection: .all, context: setup.context).body
            #expect(user[attribute: "emails"]?[0]?[attribute: "value"]?.stringValue == "ned@contoso.test")
            #expect(user[attribute: "name"]?[attribute: "givenName"]?.stringValue == "Ned")
            #expect(user[attribute: "name"]?[attribute: "familyName"]?.stringValue == "Tester")
            #expect(user[attribute: "active"] == true)
            #expect(user[attribute: FulcrumBackend.extensionSchema]?[attribute: "provisioningError"]?.stringValue?.isEmpty == false)
            // Fulcrum still holds the old values.
            #expect(setup.emulator.withModel { $0.user(email: "ned@contoso.test")?.firstName } == "Ned")
        }
    }

    /// The gateway stopped just after its POST landed, before it could record it; the user was deactivated
    /// meanwhile. On the next attempt the membership the POST made is found and removed, not left behind.
    @Test func aPostThatLandedBeforeACrashIsUndoneWhenTheUserWasDeactivated() async throws {
        try await withQueued { setup in
            let id = try await setup.service.create(Self.user("olga"), in: .user, context: setup.context).id
            // What the crash left: the attempt recorded, the membership made in Fulcrum, no link in the ledger.
            try await setup.recordAttempt()
            setup.addMemberInFulcrum("olga@contoso.test", firstName: "Olga", lastName: "Tester", managed: true)
            _ = try await setup.service.patch(
                id: id,
                operations: Self.patch([["op": "replace", "path": "active", "value": false]]),
                in: .user,
                ifMatch: nil,
                context: setup.context
            )
            #expect(try await setup.drain() == ["GET /memberships": 1, "DELETE /memberships/{id}": 1])
            #expect(try await setup.pending().isEmpty)
            #expect(setup.emulator.withModel { $0.membership(email: "olga@contoso.test", organizationID: setup.org) } == nil)
        }
    }

    /// A user deleted while its first POST is under way: the entry stays, the POST's membership (recorded by the
    /// delivery as it ends) is deleted on the next round, not left in Fulcrum.
    @Test func aUserDeletedWhileItsPostIsUnderWayIsRemovedFromFulcrum() async throws {
        try await withQueued { setup in
            let id = try await setup.service.create(Self.user("pia"), in: .user, context: setup.context).id
            // The worker has started: the attempt is recorded, the POST is in flight.
            try await setup.recordAttempt()
            try await setup.service.delete(id: id, in: .user, ifMatch: nil, context: setup.context)
            #expect(try await setup.pending().map(\.resourceID) == [id])
            // The POST lands and the delivery records it, after the deletion.
            let made = try #require(setup.addMemberInFulcrum("pia@contoso.test", firstName: "Pia", lastName: "Tester", managed: true))
            let link = UpstreamLink(id: id, organizationID: setup.org, kind: .member, upstreamID: made.id, userID: made.userID)
            try await setup.backend.ledger.write { try await $0.save(link) }
            #expect(try await setup.drain() == ["DELETE /memberships/{id}": 1])
            #expect(try await setup.pending().isEmpty)
            #expect(setup.emulator.withModel { $0.membership(email: "pia@contoso.test", organizationID: setup.org) } == nil)
            #expect(try await setup.backend.ledger.read { try await $0.upstreamLink(id: id) } == nil)
        }
    }

    /// The backlog per organization: in `/readyz`'s detail, and as gauges that fall to 0 once it drains.
    @Test func theBacklogShowsInReadinessAndAsGauges() async throws {
        try await withQueued { setup in
            for name in ["hal", "ida"] { _ = try await setup.service.create(Self.user(name), in: .user, context: setup.context) }
            let backlog = try await setup.backend.backlog()
            #expect(backlog.map(\.organizationID) == [setup.org])
            #expect(backlog.first?.waiting == 2)
            #expect(backlog.first?.parked == 0)
            let detail = await setup.backend.readinessDetail()
            #expect(detail.count == 1)
            #expect(detail.first?.hasPrefix("outbox \(setup.org): 2 waiting, oldest ") == true)
            #expect(detail.first?.hasSuffix(", 0 parked") == true)

            let gauges = RecordingMetrics()
            let backend = try await FulcrumBackend(
                configuration: setup.backend.configuration,
                context: .test(directory: setup.fixture.folder, metricsFactory: gauges)
            )
            await backend.reportBacklog()
            #expect(gauges.last("scim_gateway.outbox.entries", ["organization": setup.org, "state": "waiting"]) == 2)
            #expect(gauges.last("scim_gateway.outbox.entries", ["organization": setup.org, "state": "parked"]) == 0)
            #expect((gauges.last("scim_gateway.outbox.oldest_seconds", ["organization": setup.org]) ?? -1) >= 0)
            _ = try await setup.drain()
            backend.state.backlogReported.withLock { $0 = nil }
            await backend.reportBacklog()
            #expect(gauges.last("scim_gateway.outbox.entries", ["organization": setup.org, "state": "waiting"]) == 0)
            #expect(await setup.backend.readinessDetail() == ["outbox: empty"])
            await backend.close()
        }
    }

    /// SIGTERM while the worker delivers: the call under way finishes and is recorded, nothing new starts, the rest
    /// stays queued for the next start.
    @Test func gracefulShutdownFinishesTheDeliveryUnderWayAndKeepsTheRest() async throws {
        try await withQueued { setup in
            for name in ["jon", "kim", "lea"] { _ = try await setup.service.create(Self.user(name), in: .user, context: setup.context) }
            setup.emulator.behaviour.latencyMilliseconds = 300
            let before = setup.emulator.stats.requests
            var logger = Logger(label: "test")
            logger.logLevel = .critical
            let group = ServiceGroup(services: [OutboxWorker(backend: setup.backend)], logger: logger)
            let running = Task { try await group.run() }
            // Waiting for the first POST to reach Fulcrum (it is then held 300 ms), not for time to pass.
            while setup.emulator.stats.requests == before { try await Task.sleep(for: .milliseconds(5)) }
            await group.triggerGracefulShutdown()
            try await running.value
            #expect(setup.emulator.stats.requests == before + 1)
            let pending = try await setup.pending()
            #expect(pending.count == 2)
            #expect(pending.allSatisfy { $0.attempts == 0 })
            let delivered = setup.emulator.withModel { model in
                ["jon", "kim", "lea"].filter { model.membership(email: "\($0)@contoso.test", organizationID: setup.org) != nil }
            }
            #expect(delivered == ["jon"])
        }
    }

    /// A Fulcrum that never answers does not hold the shutdown beyond one call's timeout, however many retries the
    /// client would make (a name change is a PUT, retried here 10 times of 1 s each); the entry stays queued.
    @Test func gracefulShutdownIsBoundedByOneCallsTimeout() async throws {
        try await withQueued { setup in
            let id = try await setup.service.create(Self.user("max"), in: .user, context: setup.context).id
            _ = try await setup.drain()
            _ = try await setup.service.patch(
                id: id,
                operations: Self.patch([["op": "replace", "path": "name.givenName", "value": "Maxime"]]),
                in: .user,
                ifMatch: nil,
                context: setup.context
            )
            var configuration = setup.backend.configuration
            configuration.timeoutSeconds = 1
            configuration.retries = 10
            let backend = try await FulcrumBackend(configuration: configuration, context: .test(directory: setup.fixture.folder))
            _ = try await backend.authenticate(token: BearerToken(setup.fixture.token), context: .test())
            setup.emulator.behaviour.hangNext = 1000
            let before = setup.emulator.stats.requests
            var logger = Logger(label: "test")
            logger.logLevel = .critical
            let group = ServiceGroup(services: [OutboxWorker(backend: backend)], logger: logger)
            let running = Task { try await group.run() }
            while setup.emulator.stats.requests == before { try await Task.sleep(for: .milliseconds(5)) }
            let shutdown = ContinuousClock.now
            await group.triggerGracefulShutdown()
            try await running.value
            // 1 s of grace; without it the client would go on for 11 s. The margin is for a loaded machine.
            #expect(ContinuousClock.now - shutdown < .seconds(8))
            let pending = try await setup.pending()
            #expect(pending.count == 1)
            #expect(pending.first?.attempts == 1)
            #expect(pending.first?.parked == false)
            await backend.close()
        }
    }
}

/// A metrics factory that keeps the last value of every gauge.
final class RecordingMetrics: MetricsFactory, Sendable {
    let values = Mutex<[String: Double]>([:])

    static func key(_ label: String, _ dimensions: [(String, String)]) -> String {
        ([label] + dimensions.sorted { $0.0 < $1.0 }.map { "\($0.0)=\($0.1)" }).joined(separator: ",")
    }

    func last(_ label: String, _ dimensions: [String: String]) -> Double? {
        values.withLock { $0[Self.key(label, dimensions.map { ($0.key, $0.value) })] }
    }

    final class Handler: RecorderHandler, Sendable {
        let key: String
        let owner: RecordingMetrics

        init(key: String, owner: RecordingMetrics) {
            self.key = key
            self.owner = owner
        }

        func record(_ value: Int64) { record(Double(value)) }
        func record(_ value: Double) { owner.values.withLock { $0[key] = value } }
    }

    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        Handler(key: Self.key(label, dimensions), owner: self)
    }
    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler { NOOPMetricsHandler.instance }
    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler { NOOPMetricsHandler.instance }
    func destroyCounter(_ handler: any CounterHandler) {}
    func destroyRecorder(_ handler: any RecorderHandler) {}
    func destroyTimer(_ handler: any TimerHandler) {}
}

extension Sequence {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var result: [T] = []
        for element in self { result.append(try await transform(element)) }
        return result
    }
}
