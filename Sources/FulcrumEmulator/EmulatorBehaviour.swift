/// Every behaviour of Fulcrum's API that `FULCRUM_API.md` only infers, as a switch, so the `fulcrum` backend is
/// proven against each alternative; and faults for tests. Set at start (`--behaviour FILE`, the seed's `behaviour:`
/// block) or live with `PUT /_emulator/behaviour` (emulator-only, never part of Fulcrum's API).
public struct EmulatorBehaviour: Codable, Sendable, Hashable {
    /// Calls per hour per user (a sliding hour); beyond it, 429.
    public var callsPerHour: Int = 5000
    /// A 429 carries `Retry-After` (seconds); Fulcrum's real headers are undocumented.
    public var sendRetryAfter: Bool = true
    /// `POST /memberships` answers 201 (else 200); both carry `{"membership":{…}}`.
    public var membershipCreateStatus: Int = 201
    /// `POST /groups` makes the token's own member the group's first member, as the UI does.
    public var groupCreateAddsCreator: Bool = false
    /// `groups/change_permissions` also accepts the OpenAPI schema's `permission_change` wrapper.
    public var acceptPermissionChange: Bool = false
    /// Adding a member already in a group, or removing one who is not, is a 422 (else ignored).
    public var strictGroupChanges: Bool = false
    /// The status of every call made with a token of an organization without the Developer Pack: 401, 402 or 403.
    public var noDeveloperPackStatus: Int = 403
    /// `total_pages` of an empty list: 0 (`ceil(0 / per_page)`) or 1.
    public var emptyListTotalPages: Int = 0
    /// Members and groups created through the API are *managed* (as Fulcrum's own SCIM service makes them).
    public var apiCreatesManaged: Bool = true

    // MARK: Faults (for tests)

    /// The share of API calls answered 500, spread evenly (0.25: every fourth call).
    public var errorRate: Double = 0
    /// The next N API calls answer 500.
    public var failNext: Int = 0
    /// The next N API calls answer 429, whatever the budget.
    public var throttleNext: Int = 0
    /// Added to every API call, in milliseconds.
    public var latencyMilliseconds: Int = 0
    /// The next N API calls never answer (until the client gives up).
    public var hangNext: Int = 0
    /// The next N API calls are carried out, then answered 500: the answer is lost, the change is not.
    public var loseAnswerNext: Int = 0

    public init() {}

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = EmulatorBehaviour()
        callsPerHour = try c.decodeIfPresent(Int.self, forKey: .callsPerHour) ?? defaults.callsPerHour
        sendRetryAfter = try c.decodeIfPresent(Bool.self, forKey: .sendRetryAfter) ?? defaults.sendRetryAfter
        membershipCreateStatus = try c.decodeIfPresent(Int.self, forKey: .membershipCreateStatus) ?? defaults.membershipCreateStatus
        groupCreateAddsCreator = try c.decodeIfPresent(Bool.self, forKey: .groupCreateAddsCreator) ?? defaults.groupCreateAddsCreator
        acceptPermissionChange = try c.decodeIfPresent(Bool.self, forKey: .acceptPermissionChange) ?? defaults.acceptPermissionChange
        strictGroupChanges = try c.decodeIfPresent(Bool.self, forKey: .strictGroupChanges) ?? defaults.strictGroupChanges
        noDeveloperPackStatus = try c.decodeIfPresent(Int.self, forKey: .noDeveloperPackStatus) ?? defaults.noDeveloperPackStatus
        emptyListTotalPages = try c.decodeIfPresent(Int.self, forKey: .emptyListTotalPages) ?? defaults.emptyListTotalPages
        apiCreatesManaged = try c.decodeIfPresent(Bool.self, forKey: .apiCreatesManaged) ?? defaults.apiCreatesManaged
        errorRate = try c.decodeIfPresent(Double.self, forKey: .errorRate) ?? defaults.errorRate
        failNext = try c.decodeIfPresent(Int.self, forKey: .failNext) ?? defaults.failNext
        throttleNext = try c.decodeIfPresent(Int.self, forKey: .throttleNext) ?? defaults.throttleNext
        latencyMilliseconds = try c.decodeIfPresent(Int.self, forKey: .latencyMilliseconds) ?? defaults.latencyMilliseconds
        hangNext = try c.decodeIfPresent(Int.self, forKey: .hangNext) ?? defaults.hangNext
        loseAnswerNext = try c.decodeIfPresent(Int.self, forKey: .loseAnswerNext) ?? defaults.loseAnswerNext
        try validate()
    }

    /// Refuses values Fulcrum could not answer with.
    public func validate() throws(EmulatorConfigurationError) {
        guard callsPerHour > 0 else { throw .init("callsPerHour: must be positive") }
        guard [200, 201].contains(membershipCreateStatus) else { throw .init("membershipCreateStatus: must be 200 or 201") }
        guard [401, 402, 403].contains(noDeveloperPackStatus) else { throw .init("noDeveloperPackStatus: must be 401, 402 or 403") }
        guard [0, 1].contains(emptyListTotalPages) else { throw .init("emptyListTotalPages: must be 0 or 1") }
        guard (0...1).contains(errorRate) else { throw .init("errorRate: must be between 0 and 1") }
        guard failNext >= 0, throttleNext >= 0, hangNext >= 0, loseAnswerNext >= 0, latencyMilliseconds >= 0 else {
            throw .init("failNext, throttleNext, hangNext, loseAnswerNext and latencyMilliseconds must not be negative")
        }
    }
}

/// A bad seed file or behaviour: `key: message`.
public struct EmulatorConfigurationError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
