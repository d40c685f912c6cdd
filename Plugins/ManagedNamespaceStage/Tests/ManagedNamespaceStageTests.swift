import GatewayCore
import GatewayTesting
import ManagedNamespaceStage
import Testing

@Suite struct ManagedNamespaceStageTests {
    static let token = "fgw_namespace_owner_000000000000000"

    func stage(_ yaml: String = "roleMapping: { Manager: manager, Admin: manager }", backend: FakeBackend) async throws -> ManagedNamespaceStage {
        let configuration = try ConfigBlock(yaml: yaml, path: "pipeline[1].config").decode(ManagedNamespaceStage.Configuration.self)
        return try await ManagedNamespaceStage(configuration: configuration, context: .test(backend: backend))
    }

    /// A fake directory holding one managed user and one managed group.
    func backend() async throws -> (FakeBackend, user: String, group: String) {
        let backend = FakeBackend(tokens: [Self.token: .test()])
        let context = GatewayContext.test(principal: .test())
        let user = try await backend.create(["userName": "a@example.com"], in: .user, context: context).id
        let group = try await backend.create(["displayName": "g"], in: .group, context: context).id
        return (backend, user, group)
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
        let (fake, _, _) = try await backend()
        let next = RecordingNext()
        _ = try await stage(backend: fake).handle(
            SCIMRequest(operation: .create(.user)),
            context: .test(principal: .test()),
            next: next.callAsFunction
        )
        let policy = try #require(next.recorded.first?.context.policy)
        #expect(policy.role?(sent) == expected)
        #expect(policy.onUnmanagedConflict == .reject)
    }

    @Test(arguments: ["roleMapping: { Boss: owner }", "defaultRole: owner", "roleMapping: { a: manager, A: standard }", "onUnmanagedConflict: merge"])
    func configurationsThatWouldGrantOwnerOrAreAmbiguousAreRefused(yaml: String) async throws {
        let (fake, _, _) = try await backend()
        await #expect(throws: ConfigurationError.self) { try await stage(yaml, backend: fake) }
    }

    @Test func groupMembersMustBeUsersTheBackendShowsAndGroupsAreNotMembers() async throws {
        let (fake, user, group) = try await backend()
        let stage = try await stage(backend: fake)
        let next = RecordingNext()
        let context = GatewayContext.test(principal: .test())

        let fine = SCIMRequest(operation: .create(.group), body: ["displayName": "x", "members": [["value": .string(user)]]])
        _ = try await stage.handle(fine, context: context, next: next.callAsFunction)
        #expect(next.recorded.count == 1)

        let nested = SCIMRequest(
            operation: .patch(.group, id: group),
            body: ["Operations": [["op": "Add", "path": "members", "value": [["value": .string(user)], ["value": .string(group)]]]]]
        )
        let nestedError = await #expect(throws: SCIMError.self) { try await stage.handle(nested, context: context, next: next.callAsFunction) }
        #expect(nestedError?.detail == "member \(group) is a Group: nested groups are not supported")

        let unknown = SCIMRequest(operation: .replace(.group, id: group), body: ["displayName": "g", "members": [["value": "ghost"]]])
        let unknownError = await #expect(throws: SCIMError.self) { try await stage.handle(unknown, context: context, next: next.callAsFunction) }
        #expect(unknownError?.scimType == .invalidValue)
        #expect(unknownError?.detail.contains("ghost") == true)

        // Removing an unknown member is fine (Entra may remove what is already gone).
        let removal = SCIMRequest(
            operation: .patch(.group, id: group),
            body: ["Operations": [["op": "Remove", "path": "members", "value": [["value": "ghost"]]]]]
        )
        _ = try await stage.handle(removal, context: context, next: next.callAsFunction)
        #expect(next.recorded.count == 2)
    }

    @Test(arguments: [
        SCIMRequest.Operation.patch(.user, id: "owner-1"), .replace(.user, id: "owner-1"), .delete(.user, id: "owner-1"),
    ])
    func theTokensOwnMemberIsNeverChanged(operation: SCIMRequest.Operation) async throws {
        let (fake, _, _) = try await backend()
        let next = RecordingNext()
        let error = await #expect(throws: SCIMError.self) {
            try await stage(backend: fake).handle(
                SCIMRequest(operation: operation, body: [:]),
                context: .test(principal: .test()),
                next: next.callAsFunction
            )
        }
        #expect(error?.status == .forbidden)
        #expect(next.recorded.isEmpty)
    }

    @Test func adoptionIsHandedToTheBackend() async throws {
        let (fake, _, _) = try await backend()
        let next = RecordingNext()
        _ = try await stage("onUnmanagedConflict: adopt", backend: fake).handle(
            SCIMRequest(operation: .create(.user)),
            context: .test(principal: .test()),
            next: next.callAsFunction
        )
        #expect(next.recorded.first?.context.policy.onUnmanagedConflict == .adopt)
    }
}
