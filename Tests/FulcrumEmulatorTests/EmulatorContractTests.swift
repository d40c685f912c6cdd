import Foundation
import FulcrumEmulator
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// One test per contract point of `FULCRUM_API.md` §11, through HTTP.
@Suite struct EmulatorContractTests {
    struct Seeded {
        let emulator: Emulator
        let organizationID: String
        let ownerMembershipID: String
        let ursulaMembershipID: String
    }

    static let token = "acme-owner-token"

    static func seeded(_ behaviour: EmulatorBehaviour = EmulatorBehaviour(), developerPack: Bool = true) throws -> Seeded {
        let seed = EmulatorSeed(organizations: [
            .init(
                name: "Acme Survey",
                developerPack: developerPack,
                owner: .init(email: "owner@acme.test", firstName: "Olive", lastName: "Owner", token: token),
                members: [.init(email: "ursula@acme.test", firstName: "Ursula", lastName: "Unmanaged", role: "Standard User")],
                groups: [.init(name: "Surveyors", members: ["ursula@acme.test"])]
            )
        ])
        var model = EmulatorModel()
        let organizationID = try #require(try seed.apply(to: &model).first?.id)
        let owner = try #require(model.membership(email: "owner@acme.test", organizationID: organizationID))
        let ursula = try #require(model.membership(email: "ursula@acme.test", organizationID: organizationID))
        return Seeded(
            emulator: Emulator(model: model, behaviour: behaviour),
            organizationID: organizationID,
            ownerMembershipID: owner.id,
            ursulaMembershipID: ursula.id
        )
    }

    typealias Call = (status: HTTPResponse.Status, json: [String: Any], headers: HTTPFields)

    static func call(
        _ client: some TestClientProtocol,
        _ method: HTTPRequest.Method,
        _ path: String,
        _ body: String? = nil,
        token: String? = EmulatorContractTests.token,
        accept: String = "application/json"
    ) async throws -> Call {
        var headers: HTTPFields = [.accept: accept, .contentType: "application/json"]
        if let token { headers[HTTPField.Name("X-ApiToken")!] = token }
        return try await client.execute(uri: path, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) }) { response in
            let json = (try? JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any]) ?? [:]
            return (response.status, json, response.headers)
        }
    }

    func withEmulator(_ seeded: Seeded, _ body: @escaping @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let app = Application(router: seeded.emulator.router())
        try await app.test(.router) { client in try await body(client) }
    }

    // 1. Transport
    @Test(arguments: ["/api/v2/roles.json", "/api/v2/roles"])
    func pathsWorkWithAndWithoutJSONSuffix(path: String) async throws {
        let seeded = try Self.seeded()
        try await withEmulator(seeded) { client in
            let answer = try await Self.call(client, .get, path)
            #expect(answer.status == .ok)
            #expect((answer.json["roles"] as? [[String: Any]])?.count == 4)
        }
    }

    @Test(arguments: [(String?.none, "application/json", 401), ("wrong", "application/json", 401), (token, "text/html", 406)])
    func transportRefusals(token: String?, accept: String, status: Int) async throws {
        let seeded = try Self.seeded()
        try await withEmulator(seeded) { client in
            let answer = try await Self.call(client, .get, "/api/v2/memberships.json", token: token, accept: accept)
            #expect(answer.status.code == status)
            if status == 401 { #expect(answer.json["error"] as? String == "Unauthorized") }
        }
    }

    @Test func aBodyThatIsNotJSONIs422WithAStringError() async throws {
        let seeded = try Self.seeded()
        try await withEmulator(seeded) { client in
            let answer = try await Self.call(client, .post, "/api/v2/memberships.json", "not json")
            #expect(answer.status.code == 422)
            #expect(((answer.json["membership"] as? [String: Any])?["errors"] as? String)?.contains("Invalid JSON") == true)
        }
    }

    // 2. Tokens and plans
    @Test(arguments: [401, 402, 403])
    func anOrganizationWithoutTheDeveloperPackAnswersTheConfiguredStatus(status: Int) async throws {
        var behaviour = EmulatorBehaviour()
        behaviour.noDeveloperPackStatus = status
        let seeded = try Self.seeded(behaviour, developerPack: false)
        try await withEmulator(seeded) { client in
            let answer = try await Self.call(client, .get, "/api/v2/users.json")
            #expect(answer.status.code == status)
        }
    }

    @Test func aTokenWhoseUserLeftTheOrganizationIs401() async throws {
        let seeded = try Self.seeded()
        seeded.emulator.withModel { model in
            model.memberships[seeded.ownerMembershipID] = nil
            model.membershipOrder.removeAll { $0 == seeded.ownerMembershipID }
        }
        try await withEmulator(seeded) { client in
            let answer = try await Self.call(client, .get, "/api/v2/users.json")
            #expect(answer.status == .unauthorized)
        }
    }

    // 3. whoami
    @Test func whoamiNamesTheCurrentOrganizationAndTheRoleThere() async throws {
        let seeded = try Self.seeded()
        try await withEmulator(seeded) { client in
            let user = try #require(try await Self.call(client, .get, "/api/v2/users.json").json["user"] as? [String: Any])
            #expect((user["current_organization"] as? [String: Any])?["id"] as? String == seeded.organizationID)
            let role = try #require(((user["contexts"] as? [[String: Any]])?.first)?["role"] as? [String: Any])
            #expect(role["name"] as? String == "Owner")
            #expect(role["is_system"] as? Bool == true)
        }
    }

    // 4. Roles
    @Test func rolesAreTheFourSystemRolesWithOneDefault() async throws {
        let seeded = try Self.seeded()
        try await withEmulator(seeded) { client in
            let roles = try #require(try await Self.call(client, .get, "/api/v2/roles.json").json["roles"] as? [[String: Any]])
            #expect(roles.map { $0["name"] as? String } == ["Owner", "Manager", "Standard User", "Record Creator"])
            #expect(roles.filter { $0["is_default"] as? Bool == true }.map { $0["name"] as? String } == ["Standard User"])
        }
    }

    // 5. Memberships
    @Test func membershipsPaginateAtTheRootAndManagedInfoAddsTheFlag() async throws {
        let seeded = try Self.seeded()
        try await withEmulator(seeded) { client in
            let page = try await Self.call(client, .get, "/api/v2/memberships.json?page=2&per_page=1").json
            #expect(page["total_count"] as? Int == 2)
            #expect(page["total_pages"] as? Int == 2)
            #expect(page["current_page"] as? Int == 2)
            #expect((page["memberships"] as? [[String: Any]])?.first?["email"] as? String == "ursula@acme.test")
            #expect((page["memberships"] as? [[String: Any]])?.first?["managed"] == nil)
            let managed = try await Self.call(client, .get, "/api/v2/memberships.json?managed_info=1").json
            #expect((managed["memberships"] as? [[String: Any]])?.allSatisfy { $0["managed"] as? Bool == false } == true)
        }
    }

    @Test(arguments: [200, 201])
    func createAnswersTheConfiguredStatusAndADuplicateIs422(status: Int) async throws {
        var behaviour = EmulatorBehaviour()
        behaviour.membershipCreateStatus = status
        let seeded = try Self.seeded(behaviour)
        try await withEmulator(seeded) { client in
            let body = #"{"membership":{"email":"new@acme.test","first_name":"New","last_name":"Member"}}"#
            let created = try await Self.call(client, .post, "/api/v2/memberships.json", body)
            #expect(created.status.code == status)
            let membership = try #require(created.json["membership"] as? [String: Any])
            #expect(membership["first_name"] as? String == "New")
            let duplicate = try await Self.call(client, .post, "/api/v2/memberships.json", body)
            #expect(duplicate.status.code == 422)
            let errors = (duplicate.json["membership"] as? [String: Any])?["errors"] as? [String: [String]]
            #expect(errors?["email"] == ["has already been taken"])
        }
    }

    @Test func updateChangesEmailNamesAndRoleButNeverAnOwnersRole() async throws {
        let seeded = try Self.seeded()
        try await withEmulator(seeded) { client in
            let roles = try #require(try await Self.call(client, .get, "/api/v2/roles.json").json["roles"] as? [[String: Any]])
            let manager = try #require(roles.first { $0["name"] as? String == "Manager" }?["id"] as? String)
            let updated = try await Self.call(
                client,
                .put,
                "/api/v2/memberships/\(seeded.ursulaMembershipID).json",
                #"{"membership":{"email":"u@acme.test","first_name":"Ula","last_name":"U","role_id":"\#(manager)"}}"#
            )
            #expect(updated.status == .ok)
            let membership = try #require(updated.json["membership"] as? [String: Any])
            #expect(membership["email"] as? String == "u@acme.test")
            #expect(membership["role_id"] as? String == manager)
            let owner = try await Self.call(
                client,
                .put,
                "/api/v2/memberships/\(seeded.ownerMembershipID).json",
                #"{"membership":{"role_id":"\#(manager)"}}"#
            )
            #expect(owner.status.code == 422)
        }
    }

    @Test func deleteRemovesFromGroupsAndRecreateGivesANewMembershipOfTheSameUser() async throws {
        let seeded = try Self.seeded()
        try await withEmulator(seeded) { client in
            let before =
                try await Self.call(client, .get, "/api/v2/memberships/\(seeded.ursulaMembershipID).json").json["membership"] as? [String: Any]
            let deleted = try await Self.call(
                client,
                .delete,
                "/api/v2/memberships/\(seeded.ursulaMembershipID).json",
                #"{"membership":{"reassign_to_membership_id":null}}"#
            )
            #expect(deleted.status == .ok)
            #expect(try await Self.call(client, .get, "/api/v2/memberships/\(seeded.ursulaMembershipID).json").status == .notFound)
            let groups = try await Self.call(client, .get, "/api/v2/groups.json?associations=true").json["groups"] as? [[String: Any]]
            #expect((groups?.first?["member_ids"] as? [String]) == [])
            let again = try await Self.call(client, .post, "/api/v2/memberships.json", #"{"membership":{"email":"ursula@acme.test"}}"#)
            let membership = try #require(again.json["membership"] as? [String: Any])
            #expect(membership["id"] as? String != seeded.ursulaMembershipID)
            #expect(membership["user_id"] as? String == before?["user_id"] as? String)
        }
    }

    @Test func anOwnerAndTheTokensOwnMemberCannotBeDeleted() async throws {
        let seeded = try Self.seeded()
        try await withEmulator(seeded) { client in
            let answer = try await Self.call(client, .delete, "/api/v2/memberships/\(seeded.ownerMembershipID).json")
            #expect(answer.status.code == 422)
        }
    }

    // 6. Groups
    @Test(arguments: [false, true])
    func groupCreateIsEmpty201UnlessTheCreatorSwitchIsOn(addsCreator: Bool) async throws {
        var behaviour = EmulatorBehaviour()
        behaviour.groupCreateAddsCreator = addsCreator
        let seeded = try Self.seeded(behaviour)
        try await withEmulator(seeded) { client in
            let created = try await Self.call(client, .post, "/api/v2/groups.json", #"{"group":{"name":"Crew","description":"d"}}"#)
            #expect(created.status == .created)
            let id = try #require((created.json["group"] as? [String: Any])?["id"] as? String)
            let group = try await Self.call(client, .get, "/api/v2/groups/\(id).json?associations=true").json["group"] as? [String: Any]
            #expect((group?["member_ids"] as? [String]) == (addsCreator ? [seeded.ownerMembershipID] : []))
            #expect(try await Self.call(client, .put, "/api/v2/groups/\(id).json", #"{"group":{"name":"Crew 2"}}"#).status == .ok)
            #expect(try await Self.call(client, .delete, "/api/v2/groups/\(id).json").status == .noContent)
        }
    }

    @Test(arguments: [("change", false, 200), ("permission_change", false, 400), ("permission_change", true, 200)])
    func changePermissionsTakesTheChangeWrapper(wrapper: String, accept: Bool, status: Int) async throws {
        var behaviour = EmulatorBehaviour()
        behaviour.acceptPermissionChange = accept
        let seeded = try Self.seeded(behaviour)
        try await withEmulator(seeded) { client in
            let groupID = try #require(seeded.emulator.withModel { $0.groups(of: seeded.organizationID).first?.id })
            let body =
                #"{"\#(wrapper)":{"type":"group_members","group_id":"\#(groupID)","add":["\#(seeded.ownerMembershipID)"],"remove":["\#(seeded.ursulaMembershipID)"]}}"#
            let answer = try await Self.call(client, .post, "/api/v2/groups/change_permissions.json", body)
            #expect(answer.status.code == status)
            let members = try await Self.call(client, .get, "/api/v2/groups/\(groupID)/members.json").json["members"] as? [[String: Any]]
            #expect(members?.map { $0["id"] as? String } == (status == 200 ? [seeded.ownerMembershipID] : [seeded.ursulaMembershipID]))
        }
    }

    @Test func changePermissionsIsAllOrNothing() async throws {
        let seeded = try Self.seeded()
        try await withEmulator(seeded) { client in
            let groupID = try #require(seeded.emulator.withModel { $0.groups(of: seeded.organizationID).first?.id })
            let body =
                #"{"change":{"type":"group_members","group_id":"\#(groupID)","add":["\#(seeded.ownerMembershipID)","nope"],"remove":["\#(seeded.ursulaMembershipID)"]}}"#
            #expect(try await Self.call(client, .post, "/api/v2/groups/change_permissions.json", body).status.code == 422)
            #expect(seeded.emulator.withModel { $0.groups[groupID]?.memberIDs } == [seeded.ursulaMembershipID])
        }
    }

    // 8. Rate limit and faults
    @Test(arguments: [true, false])
    func theHourlyBudgetAnswers429WithOrWithoutRetryAfter(sendRetryAfter: Bool) async throws {
        var behaviour = EmulatorBehaviour()
        behaviour.callsPerHour = 3
        behaviour.sendRetryAfter = sendRetryAfter
        let seeded = try Self.seeded(behaviour)
        try await withEmulator(seeded) { client in
            for _ in 0..<3 { #expect(try await Self.call(client, .get, "/api/v2/roles.json").status == .ok) }
            let throttled = try await Self.call(client, .get, "/api/v2/roles.json")
            #expect(throttled.status == .tooManyRequests)
            #expect((throttled.headers[.retryAfter] != nil) == sendRetryAfter)
            #expect(seeded.emulator.stats.throttled == 1)
            #expect(seeded.emulator.stats.byRoute["GET /roles"] == 4)
        }
    }

    @Test func faultsAnswer500AndTheBehaviourChangesLive() async throws {
        let seeded = try Self.seeded()
        try await withEmulator(seeded) { client in
            let set = try await client.execute(uri: "/_emulator/behaviour", method: .put, body: ByteBuffer(string: #"{"failNext":2}"#)) { $0.status }
            #expect(set == .ok)
            #expect(try await Self.call(client, .get, "/api/v2/roles.json").status == .internalServerError)
            #expect(try await Self.call(client, .get, "/api/v2/roles.json").status == .internalServerError)
            #expect(try await Self.call(client, .get, "/api/v2/roles.json").status == .ok)
            let refused = try await client.execute(uri: "/_emulator/behaviour", method: .put, body: ByteBuffer(string: #"{"callsPerHour":0}"#)) {
                $0.status
            }
            #expect(refused == .badRequest)
        }
    }

    @Test func theSeedGivesTheSameIdsEveryTime() throws {
        #expect(try Self.seeded().organizationID == Self.seeded().organizationID)
        #expect(try Self.seeded().ursulaMembershipID == Self.seeded().ursulaMembershipID)
    }
}
