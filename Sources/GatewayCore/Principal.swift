/// A Fulcrum member role.
public enum MemberRole: String, Sendable, Hashable, Codable, CaseIterable {
    case owner
    case manager
    case standard
}

/// A Fulcrum subscription plan. SCIM needs ``enterprise``.
public enum Plan: String, Sendable, Hashable, Codable, CaseIterable {
    case essentials
    case professional
    case enterprise
}

/// The plan features of an organization that decide whether SCIM is allowed.
public struct PlanFeatures: Sendable, Hashable, Codable {
    public var plan: Plan
    public var sso: Bool
    public var developerPack: Bool

    public init(plan: Plan, sso: Bool, developerPack: Bool) {
        self.plan = plan
        self.sso = sso
        self.developerPack = developerPack
    }

    /// What the organization lacks for SCIM, in words an administrator recognises; empty when SCIM is allowed.
    public var missingForSCIM: [String] {
        var missing: [String] = []
        if plan != .enterprise { missing.append("the Enterprise plan (current plan: \(plan.rawValue))") }
        if !sso { missing.append("single sign-on (SSO)") }
        if !developerPack { missing.append("the Developer Pack") }
        return missing
    }
}

/// Who a request acts for: the organization and Owner member a bearer token resolves to.
public struct Principal: Sendable, Hashable {
    public var organizationID: String
    public var organizationName: String
    /// The member who created the token (an Owner).
    public var memberID: String
    public var role: MemberRole
    public var features: PlanFeatures
    /// The token's own id (never the token), for logs and audit.
    public var tokenID: String

    public init(
        organizationID: String,
        organizationName: String,
        memberID: String,
        role: MemberRole,
        features: PlanFeatures,
        tokenID: String
    ) {
        self.organizationID = organizationID
        self.organizationName = organizationName
        self.memberID = memberID
        self.role = role
        self.features = features
        self.tokenID = tokenID
    }
}

/// A bearer token as it arrived; its description never shows the secret, so it cannot leak into a log by accident.
public struct BearerToken: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The secret itself. Hash it; never log it.
    public let secret: String
    public init(_ secret: String) { self.secret = secret }
    public var description: String { "<redacted token>" }
    public var debugDescription: String { description }

    /// A token as this gateway or Fulcrum issues it (the emulator's seeds use short ones): 8 to 512 URL-safe
    /// characters. Anything else is malformed.
    public var isWellFormed: Bool {
        (8...512).contains(secret.utf8.count)
            && secret.utf8.allSatisfy {
                ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x2D || $0 == 0x5F || $0 == 0x2E
            }
    }
}
