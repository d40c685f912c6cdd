internal import Foundation
public import SCIMCore

/// The SCIM protocol over any backend: create, read, PUT and PATCH application, deletion and search, with
/// preconditions (`If-Match`), versions, uniqueness on normalised keys, projection, the attribute mapping, every check
/// on group members and Fulcrum's rules (``FulcrumRules``). It runs each call as one transaction of the backend's
/// ``DirectoryTransaction`` interface, so a request applies entirely or not at all, and no backend carries the
/// protocol itself.
public struct ResourceService: Sendable {
    public let backend: any BackendAdapter
    /// The searches no index answers that one organization may run at once.
    public let scans: ScanLimit

    public init(backend: any BackendAdapter, scans: ScanLimit = ScanLimit(perOrganization: 2)) {
        self.backend = backend
        self.scans = scans
    }

    // MARK: Operations

    public func create(_ body: JSONValue, in type: ResourceType, context: GatewayContext) async throws -> SCIMResource {
        let principal = try context.requirePrincipal()
        switch type {
        case .user:
            let draft = try Self.userDraft(body, context: context, organizationID: principal.organizationID)
            return try await backend.write(for: principal) { directory in
                try await createUser(draft, principal: principal, context: context, in: directory)
            }
        default:
            let draft = try ResourceCodec.groupDraft(from: body, keepUnsupported: context.policy.storeUnsupportedAttributes, schemas: context.schemas)
            return try await backend.write(for: principal) { directory in
                try await createGroup(draft, principal: principal, context: context, in: directory)
            }
        }
    }

    public func get(id: String, in type: ResourceType, projection: Projection, context: GatewayContext) async throws -> SCIMResource {
        let principal = try context.requirePrincipal()
        return try await backend.read { directory in
            try await load(
                id: id,
                type: type,
                organizationID: principal.organizationID,
                projection: projection,
                baseURL: context.baseURL,
                in: directory
            )
        }
    }

    public func replace(
        id: String,
        with resource: JSONValue,
        in type: ResourceType,
        ifMatch: String?,
        context: GatewayContext
    ) async throws -> SCIMResource {
        try await update(id: id, in: type, ifMatch: ifMatch, memberLimit: nil, context: context) { _ in resource }
    }

    /// Applies every operation or none.
    public func patch(
        id: String,
        operations: [PatchOperation],
        in type: ResourceType,
        ifMatch: String?,
        context: GatewayContext
    ) async throws -> SCIMResource {
        let engine = PatchEngine(schemas: context.schemas.schemas(type), coreSchema: type.schema)
        return try await update(id: id, in: type, ifMatch: ifMatch, memberLimit: context.policy.maxMembersPerPatch, context: context) {
            try engine.apply(operations, to: $0.body)
        }
    }

    public func delete(id: String, in type: ResourceType, ifMatch: String?, context: GatewayContext) async throws {
        let principal = try context.requirePrincipal()
        if type == .user { try FulcrumRules.protectTokenOwner(id, principal: principal) }
        try await backend.write(for: principal) { directory in
            let now = Timestamp.now
            switch type {
            case .user:
                guard let record = try await directory.member(id: id, organizationID: principal.organizationID), record.managed else {
                    throw SCIMError.notFound(type, id: id)
                }
                try Self.checkPrecondition(ifMatch, version: ResourceRenderer.version(record.version))
                // Its groups lose a member: their representations change.
                let groups = try await directory.managedGroups(ofMembers: [id])[id] ?? []
                try await directory.touchGroups(groups.map(\.id), at: now)
                try await directory.deleteMember(id: id)
            default:
                guard let record = try await directory.group(id: id, organizationID: principal.organizationID), record.managed else {
                    throw SCIMError.notFound(type, id: id)
                }
                try Self.checkPrecondition(ifMatch, version: ResourceRenderer.version(record.version))
                let members = try await directory.memberIDs(ofGroups: [id])[id] ?? []
                try await directory.touchMembers(members, at: now)
                try await directory.deleteGroup(id: id)
            }
        }
    }

    /// One page of managed resources. The filter is checked against the schemas of the searched types first, so
    /// every store answers a bad filter with the same 400 `invalidFilter`.
    public func search(_ query: SearchQuery, in type: ResourceType, context: GatewayContext) async throws -> SearchResult {
        let principal = try context.requirePrincipal()
        if let filter = query.filter {
            let types = query.acrossTypes ? ResourceType.all : [type]
            try FilterValidator(types: types.map { ($0.schema, context.schemas.schemas($0)) }).validate(filter)
        }
        // A search no index answers runs on the backend's scan lane, within the organization's bound.
        if ScanLimit.isIndexed(query.filter, type: type) {
            return try await backend.read { directory in try await Self.search(query, in: type, principal: principal, context: context, directory) }
        }
        return try await scans.run(organizationID: principal.organizationID) {
            try await backend.scan { directory in try await Self.search(query, in: type, principal: principal, context: context, directory) }
        }
    }

    static func search(
        _ query: SearchQuery,
        in type: ResourceType,
        principal: Principal,
        context: GatewayContext,
        _ directory: any DirectoryTransaction
    ) async throws -> SearchResult {
        switch type {
        case .user:
            let (total, page) = try await directory.searchMembers(
                organizationID: principal.organizationID,
                query: query,
                schemas: context.schemas
            )
            let resources = try await ResourceRenderer.users(page, projection: query.projection, baseURL: context.baseURL, in: directory)
            return SearchResult(totalResults: total, resources: resources)
        default:
            let (total, page) = try await directory.searchGroups(organizationID: principal.organizationID, query: query, schemas: context.schemas)
            let resources = try await ResourceRenderer.groups(page, projection: query.projection, baseURL: context.baseURL, in: directory)
            return SearchResult(totalResults: total, resources: resources)
        }
    }

    // MARK: Reading

    /// One managed resource of the organization, or 404. Unmanaged objects do not exist for SCIM.
    func load(
        id: String,
        type: ResourceType,
        organizationID: String,
        projection: Projection = .all,
        baseURL: String,
        in directory: any DirectoryTransaction
    ) async throws -> SCIMResource {
        switch type {
        case .user:
            guard let record = try await directory.member(id: id, organizationID: organizationID), record.managed else {
                throw SCIMError.notFound(type, id: id)
            }
            return try await ResourceRenderer.users([record], projection: projection, baseURL: baseURL, in: directory)[0]
        default:
            guard let record = try await directory.group(id: id, organizationID: organizationID), record.managed else {
                throw SCIMError.notFound(type, id: id)
            }
            return try await ResourceRenderer.groups([record], projection: projection, baseURL: baseURL, in: directory)[0]
        }
    }

    static func checkPrecondition(_ ifMatch: String?, version: String) throws {
        guard let ifMatch else { return }
        guard ETag.matches(ifMatch, version: version) else {
            throw SCIMError(status: .preconditionFailed, detail: "the resource has changed: its version is \(version), not \(ifMatch)")
        }
    }

    // MARK: Updating

    /// Reads the resource, checks `If-Match`, computes its new form and saves it, in one write transaction:
    /// concurrent changes to one resource serialise and none is lost. An unchanged resource is not written, and the
    /// saved one is rendered from what was written, without reading it again.
    func update(
        id: String,
        in type: ResourceType,
        ifMatch: String?,
        memberLimit: Int?,
        context: GatewayContext,
        change: @Sendable (SCIMResource) throws -> JSONValue
    ) async throws -> SCIMResource {
        let principal = try context.requirePrincipal()
        let organizationID = principal.organizationID
        if type == .user { try FulcrumRules.protectTokenOwner(id, principal: principal) }
        return try await backend.write(for: principal) { directory in
            func changed(_ current: SCIMResource) throws -> JSONValue? {
                try Self.checkPrecondition(ifMatch, version: current.version)
                let changed = try change(current)
                if changed == current.body { return nil }
                if let newID = changed[attribute: "id"]?.stringValue, newID != id {
                    throw SCIMError(status: .badRequest, scimType: .mutability, detail: "id is read-only and cannot change")
                }
                return changed
            }
            switch type {
            case .user:
                guard let record = try await directory.member(id: id, organizationID: organizationID), record.managed else {
                    throw SCIMError.notFound(type, id: id)
                }
                let groups = try await directory.managedGroups(ofMembers: [id])[id] ?? []
                let current = ResourceRenderer.user(record, groups: groups, baseURL: context.baseURL)
                guard let body = try changed(current) else { return current }
                let draft = try Self.userDraft(body, context: context, organizationID: organizationID)
                let saved = try await saveUser(draft, current: record, principal: principal, context: context, in: directory)
                return ResourceRenderer.user(saved, groups: groups, baseURL: context.baseURL)
            default:
                guard let record = try await directory.group(id: id, organizationID: organizationID), record.managed else {
                    throw SCIMError.notFound(type, id: id)
                }
                let members = try await directory.memberIDs(ofGroups: [id])[id] ?? []
                let current = ResourceRenderer.group(record, memberIDs: members, baseURL: context.baseURL)
                guard let body = try changed(current) else { return current }
                let draft = try ResourceCodec.groupDraft(
                    from: body,
                    keepUnsupported: context.policy.storeUnsupportedAttributes,
                    schemas: context.schemas
                )
                let (saved, savedMembers) = try await saveGroup(draft, current: record, members: members, memberLimit: memberLimit, in: directory)
                return ResourceRenderer.group(saved, memberIDs: savedMembers, baseURL: context.baseURL)
            }
        }
    }
}
