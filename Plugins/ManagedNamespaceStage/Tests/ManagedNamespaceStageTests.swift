import GatewayCore
import GatewayTesting
import ManagedNamespaceStage
import Testing

/// The stage's own job: a configuration, checked, handed to every request as ``FulcrumRules``. The rules themselves
/// are proven through the service on every directory (`FulcrumRulesTests`, `ResourceServiceTests`).
@Suite struct ManagedNamespaceStageTests {
    func stage(_ yaml: String = "roleMapping: { Manager: manager, Admin: manager }") async throws -> ManagedNamespaceStage {
        let configuration = try ConfigBlock(yaml: yaml, path: "pipeline[1].config").decode(ManagedNamespaceStage.Configuration.self)
        return try await ManagedNamespaceStage(configuration: configuration, context: .test())
    }

    /// (Entra's roles value, expected Fulcrum role)
    static let roles: [(JSONValue?, MemberRole)] = [
        ([["primary": "True", "value": "Manager"]], .manager),
        ([["primary": true, "value": "admin"]], .manager),
        ([["value": "User"], ["primary": "True", "value": "MANAGER"]], .manager),
        ([["value": "Field Worker"]], .standard),
        ([], .standard),
        (nil, .standard),
        (["manager"], .manager),
    ]

    @Test(arguments: roles)
    func rolesMapCaseInsensitivelyWithTheDefaultForUnknownOnes(sent: JSONValue?, expected: MemberRole) async throws {
        let next = RecordingNext()
        _ = try await stage().handle(SCIMRequest(operation: .create(.user)), context: .test(principal: .test()), next: next.callAsFunction)
        let rules = try #require(next.recorded.first?.context.policy.rules)
        #expect(rules.role(for: sent) == expected)
        #expect(rules.onUnmanagedConflict == .reject)
    }

    @Test(arguments: ["roleMapping: { Boss: owner }", "defaultRole: owner", "roleMapping: { a: manager, A: standard }", "onUnmanagedConflict: merge"])
    func configurationsThatWouldGrantOwnerOrAreAmbiguousAreRefused(yaml: String) async throws {
        await #expect(throws: ConfigurationError.self) { try await stage(yaml) }
    }

    @Test func adoptionIsHandedToTheService() async throws {
        let next = RecordingNext()
        _ = try await stage("onUnmanagedConflict: adopt").handle(
            SCIMRequest(operation: .create(.user)),
            context: .test(principal: .test()),
            next: next.callAsFunction
        )
        #expect(next.recorded.first?.context.policy.rules.onUnmanagedConflict == .adopt)
    }
}
