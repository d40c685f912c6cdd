import Logging
public import SCIMCore

/// Users: Fulcrum members made (or adopted) through SCIM.
extension ResourceService {
    /// The user as it will be stored: the attribute mapping applied (when there is one), then validated and split
    /// into member fields.
    static func userDraft(_ resource: JSONValue, context: GatewayContext, organizationID: String) throws -> ResourceCodec.UserDraft {
        var resource = resource
        var fields = MemberFields()
        if let mapping = context.policy.mapping { (resource, fields) = try mapping(resource, organizationID) }
        var draft = try ResourceCodec.userDraft(from: resource, keepUnsupported: context.policy.storeUnsupportedAttributes, schemas: context.schemas)
        // As with emails themselves, only a value that is an address becomes the member's email.
        if let email = fields.email, FulcrumRules.looksLikeEmail(email) { draft.email = email }
        if let firstName = fields.firstName { draft.firstName = firstName }
        if let lastName = fields.lastName { draft.lastName = lastName }
        return draft
    }

    func createUser(
        _ draft: ResourceCodec.UserDraft,
        principal: Principal,
        context: GatewayContext,
        in directory: any DirectoryTransaction
    ) async throws -> SCIMResource {
        let rules = context.policy.rules
        let organizationID = principal.organizationID
        if let unmanaged = try await Self.checkUserUniqueness(
            draft,
            excluding: nil,
            organizationID: organizationID,
            adopting: rules.onUnmanagedConflict == .adopt,
            in: directory
        ) {
            return try await adopt(unmanaged, draft: draft, principal: principal, context: context, in: directory)
        }
        let now = Timestamp.now
        let record = MemberRecord(
            id: FulcrumRules.newID(),
            organizationID: organizationID,
            email: draft.email,
            firstName: draft.firstName,
            lastName: draft.lastName,
            role: rules.role(current: nil, oldRoles: nil, newRoles: draft.attributes["roles"]),
            managed: true,
            active: draft.active,
            userName: draft.userName,
            externalID: draft.externalID,
            attributes: draft.attributes,
            version: 1,
            createdAt: now,
            updatedAt: now
        )
        try await directory.insert(record)
        return ResourceRenderer.user(record, groups: [], baseURL: context.baseURL)
    }

    /// Makes an unmanaged member managed: it keeps its Fulcrum id (and an Owner stays an Owner); the adoption is recorded.
    func adopt(
        _ member: MemberRecord,
        draft: ResourceCodec.UserDraft,
        principal: Principal,
        context: GatewayContext,
        in directory: any DirectoryTransaction
    ) async throws -> SCIMResource {
        if member.id == principal.memberID {
            throw SCIMError.forbidden(
                "the email \(draft.email ?? "") belongs to the Owner whose token is in use; SCIM cannot take over that member"
            )
        }
        let now = Timestamp.now
        var adopted = member
        adopted.managed = true
        adopted.firstName = draft.firstName ?? member.firstName
        adopted.lastName = draft.lastName ?? member.lastName
        adopted.role = member.role == .owner ? .owner : context.policy.rules.role(for: draft.attributes["roles"])
        adopted.active = draft.active
        adopted.userName = draft.userName
        adopted.externalID = draft.externalID
        adopted.attributes = draft.attributes
        adopted.version = member.version + 1
        adopted.updatedAt = now
        if member.isActive, !adopted.isActive {
            try await FulcrumRules.revokeTokens(of: member.id, organizationID: member.organizationID, in: directory)
        }
        try await directory.update(adopted)
        try await directory.recordAdoption(
            memberID: member.id,
            organizationID: principal.organizationID,
            tokenID: principal.tokenID,
            userName: draft.userName,
            at: now
        )
        context.logger.notice(
            "adopted an unmanaged member",
            metadata: ["fulcrum.member_id": "\(member.id)", "scim.organization": "\(principal.organizationID)"]
        )
        return try await ResourceRenderer.users([adopted], projection: .all, baseURL: context.baseURL, in: directory)[0]
    }

    /// Writes a changed user (replace and patch share this) and returns what was written.
    func saveUser(
        _ draft: ResourceCodec.UserDraft,
        current: MemberRecord,
        principal: Principal,
        context: GatewayContext,
        in directory: any DirectoryTransaction
    ) async throws -> MemberRecord {
        // An update never adopts: an email taken by any other member is a conflict.
        _ = try await Self.checkUserUniqueness(draft, excluding: current, organizationID: principal.organizationID, adopting: false, in: directory)
        var record = current
        record.email = draft.email
        record.firstName = draft.firstName
        record.lastName = draft.lastName
        record.role = context.policy.rules.role(current: current.role, oldRoles: current.attributes["roles"], newRoles: draft.attributes["roles"])
        record.active = draft.active
        record.userName = draft.userName
        record.externalID = draft.externalID
        record.attributes = draft.attributes
        record.version = current.version + 1
        record.updatedAt = Timestamp.now
        // Leaving the organization (or losing Owner) revokes the member's tokens for good; only Owners hold tokens.
        if current.role == .owner, current.isActive && !record.isActive || record.role != .owner {
            try await FulcrumRules.revokeTokens(of: current.id, organizationID: principal.organizationID, in: directory)
        }
        try await directory.update(record)
        return record
    }

    /// Refuses a userName or email another member holds, compared on normalised keys. With `adopting`, an email held
    /// by an unmanaged member is not a conflict: that member is returned, to be adopted.
    /// A key the member already holds needs no lookup: the unique index keeps it the member's own.
    static func checkUserUniqueness(
        _ draft: ResourceCodec.UserDraft,
        excluding current: MemberRecord?,
        organizationID: String,
        adopting: Bool,
        in directory: any DirectoryTransaction
    ) async throws -> MemberRecord? {
        let userNameKey = DirectoryKey.fold(draft.userName)
        if userNameKey != current?.userNameKey,
            let other = try await directory.member(organizationID: organizationID, .userName(key: userNameKey)), other.id != current?.id
        {
            throw SCIMError.uniqueness("userName \(draft.userName) is already taken (userName is compared case-insensitively)")
        }
        guard let email = draft.email else { return nil }
        let emailKey = DirectoryKey.fold(email)
        guard emailKey != current?.emailKey,
            let other = try await directory.member(organizationID: organizationID, .email(key: emailKey)), other.id != current?.id
        else {
            return nil
        }
        if other.managed { throw SCIMError.uniqueness("email \(email) already belongs to another provisioned user") }
        if adopting { return other }
        throw SCIMError.uniqueness(
            "email \(email) belongs to an existing member created in Fulcrum (unmanaged); remove that member in Fulcrum "
                + "or set onUnmanagedConflict: adopt in the managed-namespace stage to let the identity provider take it over"
        )
    }
}
