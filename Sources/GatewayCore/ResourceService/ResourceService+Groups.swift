public import SCIMCore

/// Groups: Fulcrum groups made through SCIM, whose members are managed users of the organization.
extension ResourceService {
    func createGroup(
        _ draft: ResourceCodec.GroupDraft,
        principal: Principal,
        context: GatewayContext,
        in directory: any DirectoryTransaction
    ) async throws -> SCIMResource {
        let organizationID = principal.organizationID
        try await Self.checkGroupName(draft.displayName, excluding: nil, organizationID: organizationID, in: directory)
        try await Self.checkMembers(draft.memberIDs, organizationID: organizationID, in: directory)
        let now = Timestamp.now
        let record = GroupRecord(
            id: FulcrumRules.newID(),
            organizationID: organizationID,
            name: draft.displayName,
            managed: true,
            externalID: draft.externalID,
            attributes: draft.attributes,
            version: 1,
            createdAt: now,
            updatedAt: now
        )
        try await directory.insert(record)
        guard !draft.memberIDs.isEmpty else { return ResourceRenderer.group(record, memberIDs: [], baseURL: context.baseURL) }
        try await directory.changeMembers(ofGroup: record.id, adding: draft.memberIDs, removing: [])
        // Each new member's `groups` changed.
        try await directory.touchMembers(draft.memberIDs, at: now)
        return try await load(id: record.id, type: .group, organizationID: organizationID, baseURL: context.baseURL, in: directory)
    }

    /// Writes a changed group as a membership delta (replace and patch share this) and returns what was written and
    /// the members in order. Only members new to the group are checked, so adding 25 members to a group of 10,000
    /// checks 25. `memberLimit` caps the members the change really adds or removes.
    func saveGroup(
        _ draft: ResourceCodec.GroupDraft,
        current: GroupRecord,
        members existing: [String],
        memberLimit: Int?,
        in directory: any DirectoryTransaction
    ) async throws -> (GroupRecord, [String]) {
        let organizationID = current.organizationID
        if DirectoryKey.fold(draft.displayName) != current.nameKey {
            try await Self.checkGroupName(draft.displayName, excluding: current.id, organizationID: organizationID, in: directory)
        }
        let existingSet = Set(existing)
        let wanted = Set(draft.memberIDs)
        let added = draft.memberIDs.filter { !existingSet.contains($0) }
        let removed = existing.filter { !wanted.contains($0) }
        if let memberLimit, added.count + removed.count > memberLimit {
            throw SCIMError.invalidValue(
                "a PATCH may change at most \(memberLimit) members; this one changes \(added.count + removed.count) "
                    + "(\(added.count) added, \(removed.count) removed)"
            )
        }
        try await Self.checkMembers(added, organizationID: organizationID, in: directory)
        let now = Timestamp.now
        var record = current
        record.name = draft.displayName
        record.externalID = draft.externalID
        record.attributes = draft.attributes
        record.version = current.version + 1
        record.updatedAt = now
        try await directory.update(record)
        if !added.isEmpty || !removed.isEmpty {
            try await directory.changeMembers(ofGroup: current.id, adding: added, removing: removed)
        }
        // Every user whose `groups` shows a different entry changes version: members who came or went, and all of
        // them when the group was renamed.
        let touched = current.name == record.name ? added + removed : Array(existingSet.union(added))
        if !touched.isEmpty { try await directory.touchMembers(touched, at: now) }
        // Members are listed in the order they were created: new ones need the directory to place them.
        let members = added.isEmpty ? existing.filter(wanted.contains) : try await directory.memberIDs(ofGroups: [current.id])[current.id] ?? []
        return (record, members)
    }

    static func checkGroupName(_ name: String, excluding id: String?, organizationID: String, in directory: any DirectoryTransaction) async throws {
        if let other = try await directory.group(organizationID: organizationID, managed: true, nameKey: DirectoryKey.fold(name)), other.id != id {
            throw SCIMError.uniqueness("a group named \(name) already exists")
        }
    }

    /// Every member must be a managed user of the organization; a group id is refused as nesting.
    static func checkMembers(_ ids: [String], organizationID: String, in directory: any DirectoryTransaction) async throws {
        for id in ids {
            if try await directory.member(id: id, organizationID: organizationID)?.managed == true { continue }
            if try await directory.group(id: id, organizationID: organizationID) != nil {
                throw SCIMError.invalidValue("member \(id) is a Group: nested groups are not supported")
            }
            throw SCIMError.invalidValue("member \(id) is not a User provisioned in this organization")
        }
    }
}
