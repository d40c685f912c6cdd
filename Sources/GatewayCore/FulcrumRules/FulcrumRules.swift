internal import Crypto
public import Foundation
import Logging
public import SCIMCore

/// Fulcrum's organization rules, as one value every backend's SCIM writes go through:
/// - **deactivation is leaving the organization** (`active: false`), reactivation rejoins it with the same id;
/// - **adoption**: a new user whose email belongs to a member made in Fulcrum is refused (409) or, with
///   ``UnmanagedConflict/adopt``, takes that member over (it keeps its Fulcrum id, and an Owner stays an Owner);
/// - **Owner and token-owner protection**: SCIM never grants or removes Owner, and never changes, deactivates or
///   deletes the member whose token is in use;
/// - **roles**: `roles` map to a Fulcrum role on create and whenever `roles` changes; a role set in Fulcrum (an
///   administrator's `member update --role`) stands until the identity provider sends different `roles`;
/// - **tokens** belong to an Owner: removal, deactivation or demotion revokes them for good (Fulcrum's guide: create
///   a new token afterwards).
///
/// The `managed-namespace` stage configures it; without the stage the defaults apply (conflicts refused, every new
/// user `standard`, roles not mapped).
public struct FulcrumRules: Sendable {
    /// What happens when a created user's email belongs to an unmanaged member.
    public enum UnmanagedConflict: String, Codable, Sendable, Hashable {
        /// 409 `uniqueness`, naming the conflict and how to adopt.
        case reject
        /// The unmanaged member becomes managed, keeps its Fulcrum id, and the adoption is recorded.
        case adopt
    }

    public var onUnmanagedConflict: UnmanagedConflict
    /// The role of a user who sends no role, or one the mapping does not know.
    public var defaultRole: MemberRole
    /// Identity-provider role names, lowercased, to Fulcrum roles; `nil`: roles are not mapped.
    public var roleMapping: [String: MemberRole]?
    /// Called with a role name the mapping does not know (for a log line and a counter).
    public var unknownRole: (@Sendable (String) -> Void)?

    public init(
        onUnmanagedConflict: UnmanagedConflict = .reject,
        defaultRole: MemberRole = .standard,
        roleMapping: [String: MemberRole]? = nil,
        unknownRole: (@Sendable (String) -> Void)? = nil
    ) {
        self.onUnmanagedConflict = onUnmanagedConflict
        self.defaultRole = defaultRole
        self.roleMapping = roleMapping.map { Dictionary($0.map { ($0.key.lowercased(), $0.value) }) { first, _ in first } }
        self.unknownRole = unknownRole
    }

    /// The rules of a pipeline without the `managed-namespace` stage.
    public static let `default` = FulcrumRules()

    // MARK: Roles

    /// The Fulcrum role for the `roles` a user carries; never `.owner`.
    public func role(for roles: JSONValue?) -> MemberRole {
        guard let roleMapping else { return defaultRole }
        guard let name = Self.primaryRole(roles) else { return defaultRole }
        if let role = roleMapping[name.lowercased()], role != .owner { return role }
        unknownRole?(name)
        return defaultRole
    }

    /// The primary role's value (Entra sends `[{"primary": "True", "value": "Manager"}]`), else the first one's.
    public static func primaryRole(_ roles: JSONValue?) -> String? {
        guard let roles, !roles.isNull else { return nil }
        let entries = roles.arrayValue ?? [roles]
        let chosen = entries.first { $0[attribute: "primary"]?.scimBoolean == true } ?? entries.first
        let name = chosen?[attribute: "value"]?.stringValue ?? chosen?.stringValue
        return name.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The role of a managed member after a SCIM save: mapped when `roles` changed (or on create), kept otherwise; an
    /// Owner stays an Owner.
    public func role(current: MemberRole?, oldRoles: JSONValue?, newRoles: JSONValue?) -> MemberRole {
        guard let current else { return role(for: newRoles) }
        if current == .owner { return .owner }
        guard roleMapping != nil, (oldRoles ?? .null) != (newRoles ?? .null) else { return current }
        return role(for: newRoles)
    }

    // MARK: Protection

    /// SCIM never changes the member whose token is in use.
    public static func protectTokenOwner(_ memberID: String, principal: Principal) throws(SCIMError) {
        guard memberID == principal.memberID else { return }
        throw SCIMError.forbidden(
            "SCIM cannot change, deactivate or delete the member whose token is in use (\(memberID)): it would lock the identity "
                + "provider out. Provision with a token of another Owner, or leave this member out of the assignment"
        )
    }

    // MARK: Tokens

    /// Revokes every live token of `memberID`, in the caller's transaction.
    public static func revokeTokens(of memberID: String, organizationID: String, in directory: any DirectoryTransaction) async throws {
        let now = Timestamp.now
        for var token in try await directory.tokens(organizationID: organizationID) where token.memberID == memberID && token.revokedAt == nil {
            token.revokedAt = now
            try await directory.update(token)
        }
    }

    /// Resolves a bearer token through the directory: it must be live and belong to an active Owner.
    public static func authenticate(token: BearerToken, in backend: some BackendAdapter) async throws -> Principal {
        let digest = Self.digest(token.secret)
        let (principal, lastUsed) = try await backend.readCredentials { directory -> (Principal, String?) in
            guard let credential = try await directory.credential(digest: digest) else {
                throw SCIMError.unauthorized("the bearer token is not valid")
            }
            guard !credential.revoked else { throw SCIMError.unauthorized("the bearer token has been revoked") }
            guard credential.memberActive, credential.role == .owner else {
                throw SCIMError.unauthorized("the bearer token belongs to a member who is no longer an Owner of the organization")
            }
            let principal = Principal(
                organizationID: credential.organization.id,
                organizationName: credential.organization.name,
                memberID: credential.memberID,
                role: .owner,
                features: credential.organization.features,
                tokenID: credential.tokenID
            )
            return (principal, credential.lastUsedAt)
        }
        // Record use at most once a minute, so authentication stays a read on the hot path. Timestamps sort as text.
        let now = Date()
        if lastUsed.map({ $0 < Timestamp.format(now.addingTimeInterval(-60)) }) ?? true {
            _ = try? await backend.write { directory in
                guard var record = try await directory.token(digest: digest) else { return }
                record.lastUsedAt = Timestamp.format(now)
                try await directory.update(record)
            }
        }
        return principal
    }

    // MARK: Values

    /// The SHA-256 digest a token is stored as.
    public static func digest(_ secret: String) -> String {
        hex(SHA256.hash(data: Data(secret.utf8)))
    }

    /// A new token secret: `fgw_` and 64 hex digits.
    public static func newToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return "fgw_" + hex((0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }

    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// A new directory id.
    public static func newID() -> String { UUID().uuidString.lowercased() }

    /// `local@domain.tld`, without spaces.
    public static func looksLikeEmail(_ text: String) -> Bool { EmailAddress.isPlausible(text) }
}

/// ISO 8601 timestamps with milliseconds, in UTC: sortable as text.
public enum Timestamp {
    static let style = Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt)

    public static func format(_ date: Date) -> String { style.format(date) }

    public static var now: String { format(Date()) }

    public static func parse(_ text: String) -> Date? { try? style.parse(text) }
}
