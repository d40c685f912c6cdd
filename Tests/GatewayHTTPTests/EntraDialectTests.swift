import Foundation
import GatewayCore
import GatewayTesting
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing

/// Every behaviour of `shared/ENTRA.md`, sent as Entra sends it and checked by a following GET.
@Suite struct EntraDialectTests {
    static let createUser: JSONValue = [
        "schemas": [
            "urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
        ],
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1@testuser.com",
        "active": true,
        "emails": [["primary": true, "type": "work", "value": "Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com"]],
        "meta": ["resourceType": "User"],
        "name": ["formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"],
        "roles": [],
    ]

    static let createGroup: JSONValue = [
        "schemas": [
            "urn:ietf:params:scim:schemas:core:2.0:Group", "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group",
        ],
        "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
        "displayName": "displayName",
        "meta": ["resourceType": "Group"],
        "members": [],
    ]

    static func patch(_ operations: JSONValue) -> JSONValue {
        ["schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": operations]
    }

    /// A client bound to the fixture's token, with small helpers that return decoded bodies.
    struct Entra {
        let fixture: DirectoryFixture
        let client: any TestClientProtocol

        var headers: HTTPFields {
            var fields = fixture.authorization
            fields[.contentType] = "application/scim+json; charset=utf-8"
            return fields
        }

        @discardableResult
        func send(
            _ method: HTTPRequest.Method,
            _ uri: String,
            _ body: JSONValue? = nil,
            expect status: HTTPResponse.Status
        ) async throws -> JSONValue? {
            // Like Entra, a POST or PUT of a resource lists the core schema of its endpoint.
            var body = body
            if [.post, .put].contains(method), var object = body?.objectValue, object["schemas"] == nil {
                object["schemas"] = [.string(uri.contains("/Groups") ? SCIMSchema.group : SCIMSchema.user)]
                body = .object(object)
            }
            return try await client.execute(uri: uri, method: method, headers: headers, body: body.map(json)) { response in
                #expect(response.status == status, "\(method) \(uri): \(String(buffer: response.body))")
                return response.body.readableBytes == 0 ? nil : try response.scim
            }
        }

        func create(_ body: JSONValue, at path: String = "/scim/v2/Users") async throws -> String {
            let created = try await send(.post, path, body, expect: .created)
            return try #require(created?[attribute: "id"]?.stringValue)
        }

        func get(_ path: String) async throws -> JSONValue {
            try #require(try await send(.get, path, expect: .ok))
        }
    }

    /// Every behaviour runs on the embedded directory and on the in-memory one.
    func withEntra(_ kind: DirectoryKind, _ body: @escaping @Sendable (Entra) async throws -> Void) async throws {
        try await withEdge(kind) { fixture, client in try await body(Entra(fixture: fixture, client: client)) }
    }

    @Test(arguments: DirectoryKind.allCases)
    func createUserAnswers201AndStoresValuesAsSent(kind: DirectoryKind) async throws {
        try await withEntra(kind) { entra in
            let id = try await entra.create(Self.createUser)
            let user = try await entra.get("/scim/v2/Users/\(id)")
            #expect(user[attribute: "userName"] == Self.createUser[attribute: "userName"])
            #expect(user[attribute: "externalId"] == Self.createUser[attribute: "externalId"])
            #expect(user[attribute: "emails"] == Self.createUser[attribute: "emails"])
            #expect(user[attribute: "name"] == Self.createUser[attribute: "name"])
            #expect(user[attribute: "active"] == true)
            #expect(user[attribute: "meta"]?[attribute: "resourceType"] == "User")
        }
    }

    @Test(arguments: DirectoryKind.allCases)
    func userNameMatchesCaseInsensitivelyAndDuplicatesAre409Uniqueness(kind: DirectoryKind) async throws {
        try await withEntra(kind) { entra in
            _ = try await entra.create(Self.createUser)
            let upper = Self.createUser[attribute: "userName"]!.stringValue!.uppercased()
            let query = "/scim/v2/Users?filter=userName+eq+%22\(upper.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)%22"
            #expect(try await entra.get(query)[attribute: "totalResults"] == 1)
            var duplicate = Self.createUser.objectValue!
            duplicate["userName"] = .string(upper)
            duplicate["emails"] = [["type": "work", "value": "other@testuser.com", "primary": true]]
            let error = try await entra.send(.post, "/scim/v2/Users", .object(duplicate), expect: .conflict)
            #expect(error?[attribute: "scimType"] == "uniqueness")
            #expect(error?[attribute: "status"] == "409")
        }
    }

    @Test(arguments: DirectoryKind.allCases)
    func externalIdLookupAndPagingWithCount5(kind: DirectoryKind) async throws {
        try await withEntra(kind) { entra in
            for index in 0..<12 {
                _ = try await entra.create(["userName": .string("user\(index)@example.com"), "externalId": .string("ext-\(index)")])
            }
            #expect(try await entra.get("/scim/v2/Users?filter=externalId+eq+%22ext-7%22")[attribute: "totalResults"] == 1)
            var seen: [String] = []
            for page in 0..<3 {
                let list = try await entra.get("/scim/v2/Users?startIndex=\(page * 5 + 1)&count=5")
                #expect(list[attribute: "startIndex"] == .integer(page * 5 + 1))
                #expect(list[attribute: "totalResults"] == 12)
                let names = list[attribute: "Resources"]?.arrayValue?.compactMap { $0[attribute: "userName"]?.stringValue } ?? []
                #expect(list[attribute: "itemsPerPage"] == .integer(names.count))
                seen += names
            }
            #expect(seen == (0..<12).map { "user\($0)@example.com" })
            let totalOnly = try await entra.get("/scim/v2/Users?count=0")
            #expect(totalOnly[attribute: "totalResults"] == 12)
            #expect(totalOnly[attribute: "Resources"] == [])
            let clamped = try await entra.get("/scim/v2/Users?startIndex=-4&count=2")
            #expect(clamped[attribute: "startIndex"] == 1)
            let sorted = try await entra.get("/scim/v2/Users?sortBy=userName&sortOrder=descending&count=1")
            #expect(sorted[attribute: "Resources"]?[0]?[attribute: "userName"] == "user9@example.com")
        }
    }

    /// Entra's default disable is the *string* "False"; the flag form and the tutorial send booleans.
    @Test(arguments: DirectoryKind.allCases, [JSONValue.string("False"), .bool(false)])
    func disabledUsersStayRetrievableByGetAndFilter(kind: DirectoryKind, value: JSONValue) async throws {
        try await withEntra(kind) { entra in
            let id = try await entra.create(Self.createUser)
            let disabled = try await entra.send(
                .patch,
                "/scim/v2/Users/\(id)",
                Self.patch([["op": "Replace", "path": "active", "value": value]]),
                expect: .ok
            )
            #expect(disabled?[attribute: "active"] == false)
            #expect(try await entra.get("/scim/v2/Users/\(id)")[attribute: "active"] == false)
            let filtered = try await entra.get("/scim/v2/Users?filter=externalId+eq+%220a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef%22")
            #expect(filtered[attribute: "Resources"]?[0]?[attribute: "active"] == false)
            try await entra.send(.patch, "/scim/v2/Users/\(id)", Self.patch([["op": "Replace", "path": "active", "value": true]]), expect: .ok)
            #expect(try await entra.get("/scim/v2/Users/\(id)")[attribute: "active"] == true)
        }
    }

    @Test(arguments: DirectoryKind.allCases)
    func multiValuedFilteredPathsAndSubAttributes(kind: DirectoryKind) async throws {
        try await withEntra(kind) { entra in
            let id = try await entra.create(Self.createUser)
            try await entra.send(
                .patch,
                "/scim/v2/Users/\(id)",
                Self.patch([
                    ["op": "Replace", "path": #"emails[type eq "work"].value"#, "value": "updatedEmail@microsoft.com"],
                    ["op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"],
                ]),
                expect: .ok
            )
            let user = try await entra.get("/scim/v2/Users/\(id)")
            #expect(user[attribute: "emails"] == [["primary": true, "type": "work", "value": "updatedEmail@microsoft.com"]])
            #expect(user[attribute: "name"]?[attribute: "familyName"] == "updatedFamilyName")
            #expect(user[attribute: "name"]?[attribute: "givenName"] == "givenName")
        }
    }

    @Test(arguments: DirectoryKind.allCases)
    func addOnAFilteredPathThatMatchesNothingCreatesTheEmail(kind: DirectoryKind) async throws {
        try await withEntra(kind) { entra in
            let id = try await entra.create(["userName": "noemail", "externalId": "x"])
            try await entra.send(
                .patch,
                "/scim/v2/Users/\(id)",
                Self.patch([["op": "Add", "path": #"emails[type eq "work"].value"#, "value": "created@example.com"]]),
                expect: .ok
            )
            #expect(try await entra.get("/scim/v2/Users/\(id)")[attribute: "emails"] == [["type": "work", "value": "created@example.com"]])
        }
    }

    @Test(arguments: DirectoryKind.allCases)
    func singleValuedAddsUserNameReplaceAndEnterpriseAttributes(kind: DirectoryKind) async throws {
        try await withEntra(kind) { entra in
            let id = try await entra.create(Self.createUser)
            try await entra.send(
                .patch,
                "/scim/v2/Users/\(id)",
                Self.patch([
                    ["op": "Add", "path": "nickName", "value": "Babs"],
                    ["op": "Replace", "path": "userName", "value": "renamed@testuser.com"],
                    ["op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Retail"],
                    ["op": "Replace", "path": "displayName", "value": "Babs Jensen"],
                ]),
                expect: .ok
            )
            let user = try await entra.get("/scim/v2/Users/\(id)")
            #expect(user[attribute: "nickName"] == "Babs")
            #expect(user[attribute: "userName"] == "renamed@testuser.com")
            #expect(user[attribute: "displayName"] == "Babs Jensen")
            #expect(user[attribute: "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]?[attribute: "department"] == "Retail")
            #expect(user[attribute: "schemas"]?.arrayValue?.contains("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User") == true)
        }
    }

    @Test(arguments: DirectoryKind.allCases)
    func managerSentAsABareStringComesBackAsAnObject(kind: DirectoryKind) async throws {
        try await withEntra(kind) { entra in
            let manager = try await entra.create(["userName": "boss@example.com"])
            let id = try await entra.create(Self.createUser)
            try await entra.send(
                .patch,
                "/scim/v2/Users/\(id)",
                Self.patch([["op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": .string(manager)]]),
                expect: .ok
            )
            let user = try await entra.get("/scim/v2/Users/\(id)")
            #expect(
                user[attribute: "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]?[attribute: "manager"] == ["value": .string(manager)]
            )
        }
    }

    /// The `aadOptscim062020` form: lowercase ops, booleans, and one no-path op whose value has attribute-path keys.
    @Test(arguments: DirectoryKind.allCases)
    func flagFormNoPathReplaceWithDottedAndURNKeys(kind: DirectoryKind) async throws {
        try await withEntra(kind) { entra in
            let id = try await entra.create(Self.createUser)
            try await entra.send(
                .patch,
                "/scim/v2/Users/\(id)",
                Self.patch([
                    [
                        "op": "replace",
                        "value": [
                            "displayName": "New Name", "name.givenName": "New", "name.familyName": "Name",
                            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "701984", "active": false,
                        ],
                    ]
                ]),
                expect: .ok
            )
            let user = try await entra.get("/scim/v2/Users/\(id)")
            #expect(user[attribute: "name"]?[attribute: "givenName"] == "New")
            #expect(user[attribute: "name"]?[attribute: "familyName"] == "Name")
            #expect(user[attribute: "name"]?[attribute: "formatted"] == "givenName familyName")
            #expect(user[attribute: "active"] == false)
            #expect(user[attribute: "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]?[attribute: "employeeNumber"] == "701984")
        }
    }

    @Test(arguments: DirectoryKind.allCases)
    func deleteUserThen404AndAnEmptyFilter(kind: DirectoryKind) async throws {
        try await withEntra(kind) { entra in
            let id = try await entra.create(Self.createUser)
            try await entra.send(.delete, "/scim/v2/Users/\(id)", expect: .noContent)
            try await entra.send(.get, "/scim/v2/Users/\(id)", expect: .notFound)
            let filtered = try await entra.get("/scim/v2/Users?filter=externalId+eq+%220a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef%22")
            #expect(filtered[attribute: "totalResults"] == 0)
        }
    }

    @Test(arguments: DirectoryKind.allCases)
    func groupLifecycleAsEntraDrivesIt(kind: DirectoryKind) async throws {
        try await withEntra(kind) { entra in
            let alice = try await entra.create(["userName": "alice@example.com"])
            let bob = try await entra.create(["userName": "bob@example.com"])
            let carol = try await entra.create(["userName": "carol@example.com"])
            let group = try await entra.create(Self.createGroup, at: "/scim/v2/Groups")

            let found = try await entra.get("/scim/v2/Groups?filter=displayName+eq+%22displayName%22&excludedAttributes=members")
            #expect(found[attribute: "totalResults"] == 1)
            #expect(found[attribute: "Resources"]?[0]?[attribute: "members"] == nil)
            #expect(try await entra.get("/scim/v2/Groups/\(group)?excludedAttributes=members")[attribute: "members"] == nil)

            // Add several members in one PATCH → 204.
            try await entra.send(
                .patch,
                "/scim/v2/Groups/\(group)",
                Self.patch([
                    [
                        "op": "Add", "path": "members",
                        "value": [
                            ["$ref": .null, "value": .string(alice)], ["$ref": .null, "value": .string(bob)],
                            ["$ref": .null, "value": .string(carol)],
                        ],
                    ]
                ]),
                expect: .noContent
            )
            func members() async throws -> [String] {
                try await entra.get("/scim/v2/Groups/\(group)")[attribute: "members"]?.arrayValue?.compactMap { $0[attribute: "value"]?.stringValue }
                    ?? []
            }
            #expect(Set(try await members()) == [alice, bob, carol])

            // Default removal: a value list; only those go.
            try await entra.send(
                .patch,
                "/scim/v2/Groups/\(group)",
                Self.patch([["op": "Remove", "path": "members", "value": [["value": .string(alice)]]]]),
                expect: .noContent
            )
            #expect(Set(try await members()) == [bob, carol])

            // Flag form: a filtered path with no value.
            try await entra.send(
                .patch,
                "/scim/v2/Groups/\(group)",
                Self.patch([["op": "remove", "path": .string("members[value eq \"\(bob)\"]")]]),
                expect: .noContent
            )
            #expect(try await members() == [carol])

            // The user's groups show the membership.
            let user = try await entra.get("/scim/v2/Users/\(carol)")
            #expect(user[attribute: "groups"]?[0]?[attribute: "value"] == .string(group))

            // Rename → 204, then delete → 204 and 404.
            try await entra.send(
                .patch,
                "/scim/v2/Groups/\(group)",
                Self.patch([["op": "Replace", "path": "displayName", "value": "renamed"]]),
                expect: .noContent
            )
            #expect(try await entra.get("/scim/v2/Groups/\(group)")[attribute: "displayName"] == "renamed")
            try await entra.send(.delete, "/scim/v2/Groups/\(group)", expect: .noContent)
            try await entra.send(.get, "/scim/v2/Groups/\(group)", expect: .notFound)
        }
    }

    @Test(arguments: DirectoryKind.allCases)
    func groupPatchReturnsTheGroupWhenAskedFor(kind: DirectoryKind) async throws {
        try await withEntra(kind) { entra in
            let group = try await entra.create(Self.createGroup, at: "/scim/v2/Groups")
            let body = try await entra.send(
                .patch,
                "/scim/v2/Groups/\(group)?excludedAttributes=members",
                Self.patch([["op": "Replace", "path": "displayName", "value": "x"]]),
                expect: .ok
            )
            #expect(body?[attribute: "displayName"] == "x")
        }
    }

    @Test(arguments: DirectoryKind.allCases)
    func nestedGroupsAndUnknownMembersAre400NamingTheMemberAndApplyNothing(kind: DirectoryKind) async throws {
        try await withEntra(kind) { entra in
            let alice = try await entra.create(["userName": "alice@example.com"])
            let inner = try await entra.create(["displayName": "inner"], at: "/scim/v2/Groups")
            let outer = try await entra.create(Self.createGroup, at: "/scim/v2/Groups")
            let nested = try await entra.send(
                .patch,
                "/scim/v2/Groups/\(outer)",
                Self.patch([["op": "Add", "path": "members", "value": [["value": .string(alice)], ["value": .string(inner)]]]]),
                expect: .badRequest
            )
            #expect(nested?[attribute: "scimType"] == "invalidValue")
            #expect(nested?[attribute: "detail"]?.stringValue?.contains(inner) == true)
            let unknown = try await entra.send(
                .post,
                "/scim/v2/Groups",
                ["displayName": "g2", "members": [["value": "00000000-0000-0000-0000-00000000dead"]]],
                expect: .badRequest
            )
            #expect(unknown?[attribute: "detail"]?.stringValue?.contains("00000000-0000-0000-0000-00000000dead") == true)
            #expect(try await entra.get("/scim/v2/Groups/\(outer)")[attribute: "members"] == [])
        }
    }

    @Test(arguments: DirectoryKind.allCases)
    func duplicateManagedGroupNamesAre409(kind: DirectoryKind) async throws {
        try await withEntra(kind) { entra in
            _ = try await entra.create(Self.createGroup, at: "/scim/v2/Groups")
            let error = try await entra.send(.post, "/scim/v2/Groups", ["displayName": "DISPLAYNAME"], expect: .conflict)
            #expect(error?[attribute: "scimType"] == "uniqueness")
        }
    }

    @Test(arguments: DirectoryKind.allCases)
    func concurrentMemberPatchesLoseNoUpdate(kind: DirectoryKind) async throws {
        try await withEntra(kind) { entra in
            let group = try await entra.create(Self.createGroup, at: "/scim/v2/Groups")
            var users: [String] = []
            for index in 0..<20 { users.append(try await entra.create(["userName": .string("u\(index)@example.com")])) }
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                for user in users {
                    tasks.addTask {
                        try await entra.send(
                            .patch,
                            "/scim/v2/Groups/\(group)",
                            Self.patch([["op": "Add", "path": "members", "value": [["value": .string(user)]]]]),
                            expect: .noContent
                        )
                    }
                }
                try await tasks.waitForAll()
            }
            let members = try await entra.get("/scim/v2/Groups/\(group)")[attribute: "members"]?.arrayValue ?? []
            #expect(members.count == 20)
        }
    }

    @Test(arguments: DirectoryKind.allCases)
    func putReplacesIgnoresReadOnlyAndRefusesAnotherId(kind: DirectoryKind) async throws {
        try await withEntra(kind) { entra in
            let id = try await entra.create(Self.createUser)
            var replacement = Self.createUser.objectValue!
            replacement["id"] = .string(id)
            replacement["meta"] = ["resourceType": "User", "created": "1999-01-01T00:00:00Z"]
            replacement["groups"] = [["value": "not-a-group"]]
            replacement["displayName"] = "Replaced"
            replacement["name"] = nil
            let replaced = try await entra.send(.put, "/scim/v2/Users/\(id)", .object(replacement), expect: .ok)
            #expect(replaced?[attribute: "displayName"] == "Replaced")
            #expect(replaced?[attribute: "name"] == nil)
            #expect(replaced?[attribute: "groups"] == nil)
            #expect(replaced?[attribute: "meta"]?[attribute: "created"] != "1999-01-01T00:00:00Z")
            replacement["id"] = "another"
            let error = try await entra.send(.put, "/scim/v2/Users/\(id)", .object(replacement), expect: .badRequest)
            #expect(error?[attribute: "scimType"] == "mutability")
        }
    }

    @Test(arguments: DirectoryKind.allCases)
    func searchByPostOnTheRootAndPerType(kind: DirectoryKind) async throws {
        try await withEntra(kind) { entra in
            _ = try await entra.create(Self.createUser)
            _ = try await entra.create(Self.createGroup, at: "/scim/v2/Groups")
            let request: JSONValue = [
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": "externalId pr", "attributes": ["externalId"],
            ]
            let root = try await entra.send(.post, "/scim/v2/.search", request, expect: .ok)
            #expect(root?[attribute: "totalResults"] == 2)
            let users = try await entra.send(.post, "/scim/v2/Users/.search", request, expect: .ok)
            #expect(users?[attribute: "totalResults"] == 1)
            #expect(users?[attribute: "Resources"]?[0]?[attribute: "userName"] == nil)
            #expect(users?[attribute: "Resources"]?[0]?[attribute: "externalId"] != nil)
        }
    }
}
