public import Foundation
public import GatewayCore
import Logging
import Metrics
import NIOHTTP1
import SCIMCore
import SQLiteBackend
import ServiceLifecycle
import Synchronization

/// Queued delivery (`delivery: queued`): drains the outbox to Fulcrum, organization by organization, in order, within
/// each token's budget. An entry names a record, not a call: the worker sends the record's state as it is now against
/// what Fulcrum holds (``UpstreamLink/delivered``), so changes made while the entry waited are coalesced: create then
/// update is one POST, create then deactivate is nothing, two renames are one PUT, many member changes one
/// `change_permissions`.
///
/// Exactly once in effect: the attempt is counted in the store before the call, so an entry tried before (a timeout,
/// a crash between the call and the commit) first looks for what the call may have made. Retries back off; after
/// ``FulcrumBackend/Configuration/maxAttempts`` or on a refusal (422) the entry is parked and the record shows the
/// error (README, "Queued delivery").
final class DeliveryQueue: Sendable {
    let wakeups: AsyncStream<Void>
    let continuation: AsyncStream<Void>.Continuation
    /// The earliest time a waiting entry may be tried, so a wake-up is scheduled once.
    let scheduled = Mutex<ContinuousClock.Instant?>(nil)

    /// Set on graceful shutdown: no new delivery starts.
    private let stopped = Mutex(false)

    init() {
        (wakeups, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    func wake() { continuation.yield() }

    var isStopping: Bool { stopped.withLock { $0 } }

    /// Ends the wake-ups; the delivery under way finishes, no other starts.
    func stop() {
        stopped.withLock { $0 = true }
        continuation.finish()
    }

    /// Wakes the worker at `instant` (unless one is due earlier).
    func wake(at instant: ContinuousClock.Instant) {
        let schedule = scheduled.withLock { current -> Bool in
            if let current, current <= instant, current > .now { return false }
            current = instant
            return true
        }
        guard schedule else { return }
        Task {
            try? await Task.sleep(until: instant)
            self.scheduled.withLock { if $0 == instant { $0 = nil } }
            self.wake()
        }
    }
}

/// The delivery worker, run by the gateway's service group. On graceful shutdown (SIGTERM) it starts no new
/// delivery and lets the one under way finish, for at most one call's timeout (`timeoutSeconds`); then it is
/// cancelled, and an entry cut off mid-call is verified against Fulcrum on its next attempt. The rest stays queued.
struct OutboxWorker: Service {
    let backend: FulcrumBackend

    func run() async throws {
        let (backend, queue) = (backend, backend.queue)
        let deliveries = Task {
            queue.wake()
            for await _ in queue.wakeups {
                do {
                    try await backend.drain()
                } catch {
                    // A failure because the worker was cut off at shutdown is not worth a warning.
                    guard !queue.isStopping else { break }
                    backend.logger.warning("outbox drain failed; retrying", metadata: ["error.message": "\(error)"])
                    queue.wake(at: .now + .seconds(1))
                }
                await backend.reportBacklog()
            }
        }
        // Entries changed by `scim-gateway outbox retry` in another process are picked up within half a minute;
        // the backlog gauges are refreshed as often.
        let ticker = Task {
            while !Task.isCancelled, !queue.isStopping {
                try await Task.sleep(for: .seconds(30))
                queue.wake()
            }
        }
        defer { ticker.cancel() }
        let grace = Duration.seconds(backend.configuration.timeoutSeconds)
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await deliveries.value
            } onGracefulShutdown: {
                queue.stop()
                Task {
                    try await Task.sleep(for: grace)
                    deliveries.cancel()
                }
            }
        } onCancel: {
            deliveries.cancel()
        }
        let waiting = (try? await backend.backlog())?.map(\.waiting).reduce(0, +) ?? 0
        backend.logger.info("outbox worker stopped", metadata: ["outbox.waiting": "\(waiting)"])
    }
}

extension FulcrumBackend {
    enum Outcome {
        case delivered
        case retry(after: Duration, String)
        case park(String)
    }

    /// Delivers what is due, per organization in queue order; an organization whose first entry must wait (or whose
    /// token the gateway has not seen since it started) waits as a whole, so its order holds.
    func drain() async throws {
        // Deliveries may queue more (a rejoined member's groups): pass again until a pass delivers nothing.
        while !queue.isStopping, try await drainOnce() > 0 {}
    }

    func drainOnce() async throws -> Int {
        let pending = try await ledger.read { try await $0.outboxEntries(organizationID: nil, parked: false) }
        var organizations: [String] = []
        var byOrganization: [String: [OutboxEntry]] = [:]
        for entry in pending {
            if byOrganization[entry.organizationID] == nil { organizations.append(entry.organizationID) }
            byOrganization[entry.organizationID, default: []].append(entry)
        }
        var delivered = 0
        for organizationID in organizations {
            guard let session = latestSession(organizationID: organizationID) else { continue }
            for entry in byOrganization[organizationID] ?? [] {
                if queue.isStopping { return delivered }
                if let notBefore = entry.notBefore, let due = Timestamp.parse(notBefore), due > Date() {
                    queue.wake(at: .now + .milliseconds(Int(due.timeIntervalSinceNow * 1000) + 1))
                    break
                }
                if try await deliver(entry, session: session) == false { break }
                delivered += 1
                if delivered.isMultiple(of: 500) {
                    let left = try await ledger.read { try await $0.outboxEntries(organizationID: organizationID, parked: false).count }
                    logger.notice("outbox draining", metadata: ["fulcrum.organization": "\(organizationID)", "outbox.left": "\(left)"])
                }
            }
        }
        return delivered
    }

    /// The most recently resolved token of the organization: the worker calls Fulcrum as that Owner.
    func latestSession(organizationID: String) -> Session? {
        state.sessions.withLock { sessions in
            sessions.values.filter { $0.session.principal.organizationID == organizationID }.max { $0.expires < $1.expires }?.session
        }
    }

    /// One entry; `false` when the organization must wait (a retry is scheduled).
    func deliver(_ entry: OutboxEntry, session: Session) async throws -> Bool {
        var attempt = entry
        attempt.attempts += 1
        try await ledger.write { try await $0.update(attempt) }
        let outcome: Outcome
        do {
            switch entry.kind {
            case .member: try await deliverMember(attempt, session: session)
            case .group: try await deliverGroup(attempt, session: session)
            }
            outcome = .delivered
        } catch let error as SCIMError {
            outcome = classify(error, attempt: attempt)
        } catch FulcrumClient.UpstreamRefusal.invalid(let message) {
            outcome = .park("Fulcrum refused: \(message)")
        } catch FulcrumClient.UpstreamRefusal.uncertain(let reason) {
            outcome = .retry(after: client.backoff(attempt.attempts), "no answer (\(reason))")
        } catch FulcrumClient.UpstreamRefusal.notFound {
            outcome = .park("Fulcrum no longer has the object")
        }
        switch outcome {
        case .delivered:
            try await ledger.write { ledger in
                // A change made during the delivery raised the revision: the entry stays for another round.
                if let current = try await ledger.outboxEntry(sequence: entry.sequence), !current.parked, current.revision != entry.revision {
                    var again = current
                    again.attempts = 0
                    again.lastError = nil
                    try await ledger.update(again)
                } else {
                    try await ledger.deleteOutboxEntry(sequence: entry.sequence)
                }
            }
            return true
        case .retry(let wait, let reason):
            if attempt.attempts >= configuration.maxAttempts {
                try await park(attempt, reason: "gave up after \(attempt.attempts) attempts: \(reason)")
                return true
            }
            attempt.notBefore = Timestamp.format(
                Date().addingTimeInterval(Double(wait.components.seconds) + Double(wait.components.attoseconds) / 1e18)
            )
            attempt.lastError = reason
            try await ledger.write { try await $0.update(attempt) }
            queue.wake(at: .now + wait)
            logger.notice("outbox entry will be retried", metadata: ["outbox.sequence": "\(entry.sequence)", "error.message": "\(reason)"])
            return false
        case .park(let reason):
            try await park(attempt, reason: reason)
            return true
        }
    }

    func classify(_ error: SCIMError, attempt: OutboxEntry) -> Outcome {
        switch error.status.code {
        case 429, 502, 503, 504:
            let wait = error.headers[.retryAfter].flatMap(Int.init).map { Duration.seconds($0) } ?? client.backoff(attempt.attempts)
            return .retry(after: wait, error.detail)
        case 401:
            return .retry(after: .seconds(60), error.detail)
        default:
            return .park(error.detail)
        }
    }

    /// Parks an entry and makes the refusal visible on the record: a member reads back `active: false` with the
    /// reason in the gateway's extension attribute; a group shows the reason there too.
    func park(_ entry: OutboxEntry, reason: String) async throws {
        logger.error(
            "outbox entry parked",
            metadata: ["outbox.sequence": "\(entry.sequence)", "scim.id": "\(entry.resourceID)", "error.message": "\(reason)"]
        )
        try await ledger.write { ledger in
            var parked = entry
            parked.parked = true
            parked.lastError = reason
            try await ledger.update(parked)
            let error: JSONValue = ["provisioningError": .string(reason), "provisioningErrorAt": .string(Timestamp.now)]
            switch entry.kind {
            case .member:
                guard var member = try await ledger.member(id: entry.resourceID, organizationID: entry.organizationID) else { return }
                // The ledger goes back to what Fulcrum holds: not a member unless an earlier delivery made one, and
                // then with the email and names Fulcrum has, so the identity provider's next read shows the
                // difference and it sends the change again.
                let link = try await ledger.upstreamLink(id: member.id)
                if link?.upstreamID == nil {
                    member.active = false
                } else if let delivered = link?.delivered {
                    member = Self.rolledBack(member, to: delivered)
                }
                member.attributes[FulcrumBackend.extensionSchema] = error
                member.version += 1
                member.updatedAt = Timestamp.now
                try await ledger.update(member)
            case .group:
                guard var group = try await ledger.group(id: entry.resourceID, organizationID: entry.organizationID) else { return }
                // A refused rename: the name Fulcrum holds. (Members stay as the identity provider set them.)
                if let link = try await ledger.upstreamLink(id: group.id), link.upstreamID != nil,
                    let name = link.delivered?[attribute: "name"]?.stringValue, !name.isEmpty
                {
                    group.name = name
                }
                group.attributes[FulcrumBackend.extensionSchema] = error
                group.version += 1
                group.updatedAt = Timestamp.now
                try await ledger.update(group)
            }
        }
    }

    // MARK: Members

    func deliverMember(_ entry: OutboxEntry, session: Session) async throws {
        let (member, link) = try await ledger.read { ledger in
            (try await ledger.member(id: entry.resourceID, organizationID: entry.organizationID), try await ledger.upstreamLink(id: entry.resourceID))
        }
        guard let member else {
            // Deleted: what was delivered, or what a call under way at the deletion made (its link).
            if let upstream = entry.deletedUpstreamID ?? link?.upstreamID {
                try await upstreamCall(session) { try await $0.deleteMembership(upstream) }
            }
            if link != nil { try await ledger.write { try await $0.deleteUpstreamLink(id: entry.resourceID) } }
            return
        }
        var newLink = link ?? UpstreamLink(id: member.id, organizationID: member.organizationID, kind: .member, upstreamID: nil)
        let listed = member.managed && member.isListed
        var rejoined = false
        switch (newLink.upstreamID, listed) {
        case (nil, true):
            let made: UpstreamMember = try await upstreamCall(session) { directory in
                // Tried before: the POST may have landed.
                if entry.attempts > 1, let found = try await directory.findMembership(email: member.email ?? "") { return found }
                return try await directory.createMembership(member)
            }
            newLink.upstreamID = made.id
            newLink.userID = made.userID
            newLink.delivered = FulcrumDirectory.delivered(member, roleID: made.roleID)
            rejoined = true
        case (let id?, true):
            let before = Self.memberRecord(member, delivered: newLink.delivered)
            try await upstreamCall(session) { try await $0.updateMembership(id, from: before, to: member) }
            newLink.delivered = FulcrumDirectory.delivered(member, roleID: nil)
        case (let id?, false):
            try await upstreamCall(session) { try await $0.deleteMembership(id) }
            newLink.upstreamID = nil
            newLink.delivered = nil
        case (nil, false):
            // Tried before: a POST may have landed just before the gateway stopped (then the user was deactivated
            // or lost its email): what it made must not stay.
            guard entry.attempts > 1, let email = member.email else { return }
            try await upstreamCall(session) { directory in
                if let made = try await directory.findMembership(email: email) { try await directory.deleteMembership(made.id) }
            }
            return
        }
        let saved = newLink
        try await ledger.write { ledger in
            try await ledger.save(saved)
            guard rejoined else { return }
            // A (re)joined member goes back into its managed groups.
            for group in try await ledger.managedGroups(ofMembers: [member.id])[member.id] ?? [] {
                try await ledger.enqueue(
                    OutboxEntry(organizationID: member.organizationID, kind: .group, resourceID: group.id, createdAt: Timestamp.now)
                )
            }
        }
    }

    /// `member` with the email and names Fulcrum holds (the last delivery's), in its fields and in the SCIM
    /// attributes they come from (the `emails` entry that carried the email, `name`).
    static func rolledBack(_ member: MemberRecord, to delivered: JSONValue) -> MemberRecord {
        let held = memberRecord(member, delivered: delivered)
        var member = member
        if let email = held.email, !email.isEmpty, let current = member.email, email != current {
            if let emails = member.attributes["emails"]?.arrayValue {
                member.attributes["emails"] = .array(
                    emails.map { entry in
                        guard case .object(var object) = entry, object["value"]?.stringValue?.lowercased() == current.lowercased() else {
                            return entry
                        }
                        object["value"] = .string(email)
                        return .object(object)
                    }
                )
            }
            member.email = email
        }
        let first = held.firstName.flatMap { $0.isEmpty ? nil : $0 }
        let last = held.lastName.flatMap { $0.isEmpty ? nil : $0 }
        if first != member.firstName || last != member.lastName {
            var name = member.attributes["name"]?.objectValue ?? [:]
            name["givenName"] = first.map(JSONValue.string)
            name["familyName"] = last.map(JSONValue.string)
            member.attributes["name"] = name.isEmpty ? nil : .object(name)
            (member.firstName, member.lastName) = (first, last)
        }
        return member
    }

    /// The member as Fulcrum holds it, from the last delivery, for the PUT's diff.
    static func memberRecord(_ member: MemberRecord, delivered: JSONValue?) -> MemberRecord {
        var before = member
        guard let delivered else { return before }
        before.email = delivered[attribute: "email"]?.stringValue
        before.firstName = delivered[attribute: "first_name"]?.stringValue
        before.lastName = delivered[attribute: "last_name"]?.stringValue
        before.role = MemberRole(rawValue: delivered[attribute: "role"]?.stringValue ?? "") ?? member.role
        before.attributes["roles"] = member.attributes["roles"]
        return before
    }

    // MARK: Groups

    func deliverGroup(_ entry: OutboxEntry, session: Session) async throws {
        // The group's members' memberships, by point lookups: a group delivery must not read the organization.
        let (group, link, wantedLinks) = try await ledger.read { ledger in
            let group = try await ledger.group(id: entry.resourceID, organizationID: entry.organizationID)
            let link = try await ledger.upstreamLink(id: entry.resourceID)
            var wanted: [String: String] = [:]  // membership id -> record id
            for id in try await ledger.memberIDs(ofGroups: [entry.resourceID])[entry.resourceID] ?? [] {
                if let upstream = try await ledger.upstreamLink(id: id)?.upstreamID { wanted[upstream] = id }
            }
            return (group, link, wanted)
        }
        guard let group else {
            // Deleted: what was delivered, or what a call under way at the deletion made (its link).
            if let upstream = entry.deletedUpstreamID ?? link?.upstreamID {
                try await upstreamCall(session) { directory in
                    do {
                        _ = try await directory.send(.DELETE, "/groups/\(upstream).json")
                    } catch FulcrumClient.UpstreamRefusal.notFound {}
                }
            }
            if link != nil { try await ledger.write { try await $0.deleteUpstreamLink(id: entry.resourceID) } }
            return
        }
        var newLink = link ?? UpstreamLink(id: group.id, organizationID: group.organizationID, kind: .group, upstreamID: nil)
        var deliveredName = newLink.delivered?[attribute: "name"]?.stringValue
        var actual = Set(newLink.delivered?[attribute: "members"]?.arrayValue?.compactMap(\.stringValue) ?? [])
        var created = false
        if newLink.upstreamID == nil {
            let id: String = try await upstreamCall(session) { directory in
                if entry.attempts > 1, let found = try await directory.findUnlinkedGroup(named: group.name) { return found }
                return try await directory.createGroup(name: group.name)
            }
            newLink.upstreamID = id
            deliveredName = group.name
            actual = []
            created = true
        } else if entry.attempts > 1, let upstream = newLink.upstreamID {
            // Tried before: what Fulcrum holds, not what was last recorded.
            let response = try await upstreamCall(session) { try await $0.send(.GET, "/groups/\(upstream).json?associations=true") }
            let object = response.json?["group"] as? [String: any Sendable]
            deliveredName = object?["name"] as? String
            actual = Set(object?["member_ids"] as? [String] ?? [])
        }
        guard let upstream = newLink.upstreamID else { return }
        if deliveredName != group.name {
            try await upstreamCall(session) { _ = try await $0.send(.PUT, "/groups/\(upstream).json", body: ["group": ["name": group.name]]) }
        }
        let wanted = Set(wantedLinks.keys)
        let add = wanted.subtracting(actual).sorted()
        // Memberships deleted since (deactivated members) left Fulcrum's group with them: only those still linked.
        let records = newLink.delivered?[attribute: "records"]?.objectValue?.compactMapValues(\.stringValue) ?? [:]
        var remove = try await stillLinked(actual.subtracting(wanted), records: records, organizationID: group.organizationID).sorted()
        if created, configuration.removeGroupCreator, let owner = session.ownerMembershipID, !wanted.contains(owner) { remove.append(owner) }
        if !add.isEmpty || !remove.isEmpty {
            let (adding, removing) = (add, remove)
            try await upstreamCall(session) { try await $0.changeGroup(upstream, adding: adding, removing: removing) }
        }
        newLink.delivered = [
            "name": .string(group.name), "members": .array(wanted.sorted().map(JSONValue.string)),
            "records": .object(wantedLinks.mapValues(JSONValue.string)),
        ]
        let saved = newLink
        try await ledger.write { try await $0.save(saved) }
    }

    /// The memberships among `candidates` that a member record still links (`records`: membership id -> record id,
    /// from the last delivery); a membership the last delivery did not record (a group delivered before records were
    /// kept, or one read back from Fulcrum) is checked against every link of the organization.
    func stillLinked(_ candidates: Set<String>, records: [String: String], organizationID: String) async throws -> Set<String> {
        guard !candidates.isEmpty else { return [] }
        return try await ledger.read { ledger in
            guard candidates.allSatisfy({ records[$0] != nil }) else {
                let linked = try await ledger.upstreamLinks(organizationID: organizationID).filter { $0.kind == .member }.compactMap(\.upstreamID)
                return candidates.intersection(linked)
            }
            var still: Set<String> = []
            for candidate in candidates {
                if let record = records[candidate], try await ledger.upstreamLink(id: record)?.upstreamID == candidate { still.insert(candidate) }
            }
            return still
        }
    }

    /// Runs Fulcrum calls with the session, outside any write transaction.
    func upstreamCall<T: Sendable>(_ session: Session, _ body: (FulcrumDirectory) async throws -> T) async throws -> T {
        try await ledger.read { ledger in try await body(FulcrumDirectory(ledger: ledger, session: session, backend: self)) }
    }

    /// The extension under which a record shows a delivery Fulcrum refused.
    static let extensionSchema = "urn:ietf:params:scim:schemas:extension:fulcrum-gateway:2.0:Delivery"
}

// MARK: Operators (scim-gateway outbox …, /readyz, metrics)

/// What waits in the outbox for one organization.
public struct OutboxBacklog: Sendable, Hashable {
    public var organizationID: String
    /// Entries not parked (due now or waiting for a retry).
    public var waiting: Int
    public var parked: Int
    /// When the oldest waiting entry was queued.
    public var oldest: Date?
}

extension FulcrumBackend {
    /// The backlog per organization, organizations in id order; an organization with nothing queued is absent.
    public func backlog() async throws -> [OutboxBacklog] {
        let entries = try await ledger.read { try await $0.outboxEntries(organizationID: nil, parked: nil) }
        var byOrganization: [String: OutboxBacklog] = [:]
        for entry in entries {
            var item = byOrganization[entry.organizationID] ?? OutboxBacklog(organizationID: entry.organizationID, waiting: 0, parked: 0)
            if entry.parked {
                item.parked += 1
            } else {
                item.waiting += 1
                if let created = Timestamp.parse(entry.createdAt), item.oldest.map({ created < $0 }) ?? true { item.oldest = created }
            }
            byOrganization[entry.organizationID] = item
        }
        return byOrganization.values.sorted { $0.organizationID < $1.organizationID }
    }

    /// Sets the gauges `scim_gateway.outbox.entries` (by organization and state: waiting, parked) and
    /// `scim_gateway.outbox.oldest_seconds` (by organization); an organization whose backlog emptied reads 0. At most
    /// once a second: a sync wakes the worker on every write.
    func reportBacklog() async {
        let due = state.backlogReported.withLock { last in
            guard last.map({ .now - $0 >= .seconds(1) }) ?? true else { return false }
            last = .now
            return true
        }
        guard due, let backlog = try? await backlog() else { return }
        let now = Date()
        let current = Set(backlog.map(\.organizationID))
        let emptied = state.reportedBacklog.withLock { reported in
            defer { reported = current }
            return reported.subtracting(current)
        }
        let rows = backlog + emptied.map { OutboxBacklog(organizationID: $0, waiting: 0, parked: 0) }
        for item in rows {
            let organization = ("organization", item.organizationID)
            Gauge(label: "scim_gateway.outbox.entries", dimensions: [organization, ("state", "waiting")], factory: metrics)
                .record(item.waiting)
            Gauge(label: "scim_gateway.outbox.entries", dimensions: [organization, ("state", "parked")], factory: metrics)
                .record(item.parked)
            Gauge(label: "scim_gateway.outbox.oldest_seconds", dimensions: [organization], factory: metrics)
                .record(item.oldest.map { now.timeIntervalSince($0) } ?? 0)
        }
    }

    public func outbox(organizationID: String?, parkedOnly: Bool) async throws -> [OutboxEntry] {
        try await ledger.read { try await $0.outboxEntries(organizationID: organizationID, parked: parkedOnly ? true : nil) }
    }

    /// Puts parked entries (one, or all) back in the queue, due now; returns how many.
    public func retryOutbox(sequence: Int?) async throws -> Int {
        let count = try await ledger.write { ledger -> Int in
            let parked = try await ledger.outboxEntries(organizationID: nil, parked: nil).filter { entry in
                sequence.map { entry.sequence == $0 } ?? (entry.parked || entry.notBefore != nil)
            }
            for entry in parked {
                if entry.parked {
                    // A newer change may be pending for the record: the parked entry joins it.
                    try await ledger.deleteOutboxEntry(sequence: entry.sequence)
                    try await ledger.enqueue(
                        OutboxEntry(
                            organizationID: entry.organizationID,
                            kind: entry.kind,
                            resourceID: entry.resourceID,
                            deletedUpstreamID: entry.deletedUpstreamID,
                            createdAt: Timestamp.now
                        )
                    )
                } else {
                    var due = entry
                    due.notBefore = nil
                    try await ledger.update(due)
                }
            }
            return parked.count
        }
        queue.wake()
        return count
    }

    /// Removes an entry for good; returns whether it existed.
    public func dropOutbox(sequence: Int) async throws -> Bool {
        try await ledger.write { ledger in
            guard try await ledger.outboxEntry(sequence: sequence) != nil else { return false }
            try await ledger.deleteOutboxEntry(sequence: sequence)
            return true
        }
    }
}
