public import GatewayCore
public import SCIMCore
import Synchronization

/// A directory held in memory: the second implementation of ``DirectoryTransaction`` beside the embedded SQLite
/// one, so that tests prove the ``ResourceService`` and ``FulcrumRules`` backend-neutral. Its search evaluates
/// filters with ``FilterEvaluator`` over rendered resources, the reference the SQL compiler is tested against.
/// Transactions work on a copy of the state and commit it whole; writes serialise.
public struct MemoryBackend: BackendAdapter {
    /// The `config:` block: nothing to configure.
    public struct Configuration: Codable, Sendable {
        public init() {}
    }

    public static let name: PluginName = "memory"

    struct State: Sendable {
        var organizations: [String: Organization] = [:]
        var organizationOrder: [String] = []
        var members: [String: MemberRecord] = [:]
        var groups: [String: GroupRecord] = [:]
        var memberships: [String: Set<String>] = [:]
        var tokens: [String: TokenRecord] = [:]
        var links: [String: UpstreamLink] = [:]
        var outbox: [Int: OutboxEntry] = [:]
        var outboxSequence = 0
        /// Insertion order, the tie-break of equal creation times.
        var sequence: [String: Int] = [:]

        mutating func created(_ id: String) {
            if sequence[id] == nil { sequence[id] = sequence.count }
        }

        func creationOrder(_ lhs: MemberRecord, _ rhs: MemberRecord) -> Bool {
            (lhs.createdAt, sequence[lhs.id] ?? 0) < (rhs.createdAt, sequence[rhs.id] ?? 0)
        }

        func creationOrder(_ lhs: GroupRecord, _ rhs: GroupRecord) -> Bool {
            (lhs.createdAt, sequence[lhs.id] ?? 0) < (rhs.createdAt, sequence[rhs.id] ?? 0)
        }
    }

    final class Storage: Sendable {
        let state = Mutex(State())
        let writeLock = AsyncLock()
    }

    private let storage = Storage()

    public init(configuration: Configuration, context: PluginContext) async throws {}

    public init() {}

    public func checkReadiness() async throws {}

    public func read<T: Sendable>(_ body: (any DirectoryTransaction) async throws -> T) async throws -> T {
        try await body(MemoryTransaction(state: storage.state.withLock { $0 }))
    }

    public func write<T: Sendable>(_ body: (any DirectoryTransaction) async throws -> T) async throws -> T {
        try await storage.writeLock.withLock {
            let transaction = MemoryTransaction(state: storage.state.withLock { $0 })
            let result = try await body(transaction)
            let committed = transaction.state.withLock { $0 }
            storage.state.withLock { $0 = committed }
            return result
        }
    }
}

/// One transaction: a private copy of the state.
final class MemoryTransaction: DirectoryTransaction {
    let state: Mutex<MemoryBackend.State>

    init(state: MemoryBackend.State) {
        self.state = Mutex(state)
    }

    private func with<T>(_ body: (inout MemoryBackend.State) throws -> T) rethrows -> T {
        try state.withLock { try body(&$0) }
    }

    // MARK: Organizations

    func organization(id: String) async throws -> Organization? { with { $0.organizations[id] } }

    func organizations() async throws -> [Organization] { with { state in state.organizationOrder.compactMap { state.organizations[$0] } } }

    func insert(_ organization: Organization) async throws {
        try with { state in
            guard state.organizations[organization.id] == nil else { throw SCIMError.uniqueness("organization \(organization.id) exists") }
            state.organizations[organization.id] = organization
            state.organizationOrder.append(organization.id)
        }
    }

    func update(_ organization: Organization) async throws { with { $0.organizations[organization.id] = organization } }

    // MARK: Members

    func member(id: String, organizationID: String) async throws -> MemberRecord? {
        with { $0.members[id].flatMap { $0.organizationID == organizationID ? $0 : nil } }
    }

    func member(organizationID: String, _ key: MemberLookup) async throws -> MemberRecord? {
        with { state in
            state.members.values.first { member in
                guard member.organizationID == organizationID else { return false }
                switch key {
                case .email(let key): return member.emailKey == key
                case .userName(let key): return member.userNameKey == key
                }
            }
        }
    }

    func members(organizationID: String) async throws -> [MemberRecord] {
        with { state in state.members.values.filter { $0.organizationID == organizationID }.sorted(by: state.creationOrder) }
    }

    /// The unique indexes of the SQLite store, as checks.
    private func checkUnique(_ member: MemberRecord, in state: MemoryState) throws {
        for other in state.members.values where other.id != member.id && other.organizationID == member.organizationID {
            if let key = member.emailKey, other.emailKey == key { throw SCIMError.uniqueness("a resource with that unique value already exists") }
            if let key = member.userNameKey, other.userNameKey == key {
                throw SCIMError.uniqueness("a resource with that unique value already exists")
            }
        }
    }

    func insert(_ member: MemberRecord) async throws {
        try with { state in
            try checkUnique(member, in: state)
            state.members[member.id] = member
            state.created(member.id)
        }
    }

    func update(_ member: MemberRecord) async throws {
        try with { state in
            try checkUnique(member, in: state)
            state.members[member.id] = member
        }
    }

    func deleteMember(id: String) async throws {
        with { state in
            state.members[id] = nil
            for group in state.memberships.keys { state.memberships[group]?.remove(id) }
            state.tokens = state.tokens.filter { $0.value.memberID != id }
        }
    }

    // MARK: Groups

    func group(id: String, organizationID: String) async throws -> GroupRecord? {
        with { $0.groups[id].flatMap { $0.organizationID == organizationID ? $0 : nil } }
    }

    func group(organizationID: String, managed: Bool, nameKey: String) async throws -> GroupRecord? {
        with { $0.groups.values.first { $0.organizationID == organizationID && $0.managed == managed && $0.nameKey == nameKey } }
    }

    func groups(organizationID: String) async throws -> [GroupRecord] {
        with { state in state.groups.values.filter { $0.organizationID == organizationID }.sorted(by: state.creationOrder) }
    }

    private func checkUnique(_ group: GroupRecord, in state: MemoryState) throws {
        if state.groups.values.contains(where: {
            $0.id != group.id && $0.organizationID == group.organizationID && $0.managed == group.managed && $0.nameKey == group.nameKey
        }) {
            throw SCIMError.uniqueness("a resource with that unique value already exists")
        }
    }

    func insert(_ group: GroupRecord) async throws {
        try with { state in
            try checkUnique(group, in: state)
            state.groups[group.id] = group
            state.created(group.id)
        }
    }

    func update(_ group: GroupRecord) async throws {
        try with { state in
            try checkUnique(group, in: state)
            state.groups[group.id] = group
        }
    }

    func deleteGroup(id: String) async throws {
        with { state in
            state.groups[id] = nil
            state.memberships[id] = nil
        }
    }

    // MARK: Membership

    func memberIDs(ofGroups groupIDs: [String]) async throws -> [String: [String]] {
        with { state in
            var result: [String: [String]] = [:]
            for id in groupIDs {
                guard let members = state.memberships[id] else { continue }
                result[id] = members.compactMap { state.members[$0] }.sorted(by: state.creationOrder).map(\.id)
            }
            return result
        }
    }

    func managedGroups(ofMembers memberIDs: [String]) async throws -> [String: [GroupReference]] {
        with { state in
            var result: [String: [GroupReference]] = [:]
            let wanted = Set(memberIDs)
            for (groupID, members) in state.memberships {
                guard let group = state.groups[groupID], group.managed else { continue }
                for member in members where wanted.contains(member) {
                    result[member, default: []].append(GroupReference(id: group.id, name: group.name))
                }
            }
            return result.mapValues { $0.sorted { (DirectoryKey.fold($0.name), $0.id) < (DirectoryKey.fold($1.name), $1.id) } }
        }
    }

    func changeMembers(ofGroup groupID: String, adding: [String], removing: [String]) async throws {
        with { state in
            var members = state.memberships[groupID] ?? []
            members.subtract(removing)
            members.formUnion(adding)
            state.memberships[groupID] = members
        }
    }

    func touchMembers(_ ids: [String], at time: String) async throws {
        with { state in
            for id in ids {
                state.members[id]?.version += 1
                state.members[id]?.updatedAt = time
            }
        }
    }

    func touchGroups(_ ids: [String], at time: String) async throws {
        with { state in
            for id in ids {
                state.groups[id]?.version += 1
                state.groups[id]?.updatedAt = time
            }
        }
    }

    // MARK: Tokens

    func token(digest: String) async throws -> TokenRecord? { with { $0.tokens.values.first { $0.digest == digest } } }

    func credential(digest: String) async throws -> Credential? {
        with { state in
            guard let token = state.tokens.values.first(where: { $0.digest == digest }), let member = state.members[token.memberID],
                let organization = state.organizations[token.organizationID]
            else { return nil }
            return Credential(
                tokenID: token.id,
                revoked: token.revokedAt != nil,
                lastUsedAt: token.lastUsedAt,
                memberID: member.id,
                role: member.role,
                memberActive: member.isActive,
                organization: organization
            )
        }
    }

    func tokens(organizationID: String) async throws -> [TokenRecord] {
        with { $0.tokens.values.filter { $0.organizationID == organizationID }.sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) } }
    }

    func insert(_ token: TokenRecord) async throws { with { $0.tokens[token.id] = token } }

    func update(_ token: TokenRecord) async throws { with { $0.tokens[token.id] = token } }

    func recordAdoption(memberID: String, organizationID: String, tokenID: String, userName: String, at time: String) async throws {
        // Nothing reads adoptions back in memory; the SQLite directory keeps them for the record.
    }

    // MARK: Upstream links

    func upstreamLink(id: String) async throws -> UpstreamLink? { with { $0.links[id] } }

    func upstreamLinks(organizationID: String) async throws -> [UpstreamLink] {
        with { $0.links.values.filter { $0.organizationID == organizationID }.sorted { $0.id < $1.id } }
    }

    func save(_ link: UpstreamLink) async throws { with { $0.links[link.id] = link } }

    func deleteUpstreamLink(id: String) async throws { with { $0.links[id] = nil } }

    // MARK: Outbox

    func enqueue(_ entry: OutboxEntry) async throws {
        with { state in
            if let pending = state.outbox.values.first(where: { $0.resourceID == entry.resourceID && !$0.parked }) {
                state.outbox[pending.sequence]?.revision += 1
                if let deleted = entry.deletedUpstreamID { state.outbox[pending.sequence]?.deletedUpstreamID = deleted }
                return
            }
            state.outboxSequence += 1
            var added = entry
            added.sequence = state.outboxSequence
            added.revision = 1
            state.outbox[added.sequence] = added
        }
    }

    func outboxEntries(organizationID: String?, parked: Bool?) async throws -> [OutboxEntry] {
        with { state in
            state.outbox.values.filter { entry in
                (organizationID.map { entry.organizationID == $0 } ?? true) && (parked.map { entry.parked == $0 } ?? true)
            }.sorted { $0.sequence < $1.sequence }
        }
    }

    func outboxEntry(sequence: Int) async throws -> OutboxEntry? { with { $0.outbox[sequence] } }

    func update(_ entry: OutboxEntry) async throws {
        with { state in
            guard var stored = state.outbox[entry.sequence] else { return }
            stored.attempts = entry.attempts
            stored.notBefore = entry.notBefore
            stored.parked = entry.parked
            stored.lastError = entry.lastError
            stored.deletedUpstreamID = entry.deletedUpstreamID
            state.outbox[entry.sequence] = stored
        }
    }

    func deleteOutboxEntry(sequence: Int) async throws { with { $0.outbox[sequence] = nil } }

    // MARK: Search

    func searchMembers(organizationID: String, query: SearchQuery, schemas: SchemaCatalog) async throws -> (total: Int, page: [MemberRecord]) {
        let candidates = try await members(organizationID: organizationID).filter(\.managed)
        let rendered = try await ResourceRenderer.users(candidates, projection: .all, baseURL: "", in: self)
        return page(Array(zip(candidates, rendered.map(\.body))), query: query, type: .user, schemas: schemas)
    }

    func searchGroups(organizationID: String, query: SearchQuery, schemas: SchemaCatalog) async throws -> (total: Int, page: [GroupRecord]) {
        let candidates = try await groups(organizationID: organizationID).filter(\.managed)
        let rendered = try await ResourceRenderer.groups(candidates, projection: .all, baseURL: "", in: self)
        return page(Array(zip(candidates, rendered.map(\.body))), query: query, type: .group, schemas: schemas)
    }

    private func page<Record>(
        _ candidates: [(Record, JSONValue)],
        query: SearchQuery,
        type: ResourceType,
        schemas: SchemaCatalog
    ) -> (total: Int, page: [Record]) {
        let evaluator = FilterEvaluator(schemas: schemas.schemas(type), coreSchema: type.schema)
        var matched = candidates.filter { candidate in query.filter.map { evaluator.matches($0, candidate.1) } ?? true }
        if let sortBy = query.sortBy {
            let caseExact = evaluator.isCaseExact(sortBy)
            func key(_ body: JSONValue) -> String {
                let text = evaluator.values(at: sortBy, in: body).first?.stringValue ?? ""
                return caseExact ? text : CaseFolding.fold(text)
            }
            matched = matched.enumerated().sorted { lhs, rhs in
                let (a, b) = (key(lhs.element.1), key(rhs.element.1))
                return a == b ? lhs.offset < rhs.offset : (query.descending ? a > b : a < b)
            }.map { $0.element }
        }
        let start = min(matched.count, max(0, query.startIndex - 1))
        let end = min(matched.count, start + max(0, query.count))
        return (matched.count, matched[start..<end].map { $0.0 })
    }
}

typealias MemoryState = MemoryBackend.State
