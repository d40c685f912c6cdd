import GatewayCore
import GatewayTesting
import SchemaValidationStage
import Testing

@Suite struct SchemaValidationStageTests {
    /// Entra's default attribute mappings for a user, phone numbers and addresses included.
    static let entraDefaultCreate: JSONValue = [
        "schemas": [
            "urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
        ],
        "externalId": "alias1", "userName": "alice@contoso.com", "active": true, "displayName": "Alice Example", "title": "Surveyor",
        "preferredLanguage": "en-US",
        "emails": [["primary": true, "type": "work", "value": "alice@contoso.com"]],
        "meta": ["resourceType": "User"],
        "name": ["formatted": "Alice Example", "familyName": "Example", "givenName": "Alice"],
        "phoneNumbers": [
            ["type": "work", "value": "+1 555 0100"], ["type": "mobile", "value": "+1 555 0101"], ["type": "fax", "value": "+1 555 0102"],
        ],
        "addresses": [
            [
                "type": "work", "formatted": "1 Main St", "streetAddress": "1 Main St", "locality": "Springfield", "region": "IL",
                "postalCode": "62701", "country": "US", "primary": true,
            ]
        ],
        "roles": [],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": ["employeeNumber": "701984", "department": "Field", "manager": "m-1"],
    ]

    func stage(_ yaml: String = "") async throws -> SchemaValidationStage {
        let configuration = try ConfigBlock(yaml: yaml, path: "pipeline[2].config").decode(SchemaValidationStage.Configuration.self)
        return try await SchemaValidationStage(configuration: configuration, context: .test())
    }

    func run(_ request: SCIMRequest, _ yaml: String = "") async throws -> (SCIMRequest, GatewayContext) {
        let next = RecordingNext()
        // Through a pipeline, as the gateway runs it: the edge parses PATCH operations and checks `schemas` first.
        let pipeline = Pipeline(stages: [try await stage(yaml)], terminal: next.callAsFunction)
        _ = try await pipeline.handle(request, context: .test(principal: .test()))
        let recorded = try #require(next.recorded.first)
        return (recorded.request, recorded.context)
    }

    @Test func entrasDefaultCreatePassesAndUnsupportedAttributesAreDropped() async throws {
        let (request, context) = try await run(SCIMRequest(operation: .create(.user), body: Self.entraDefaultCreate))
        let body = try #require(request.body)
        #expect(body[attribute: "phoneNumbers"] == nil)
        #expect(body[attribute: "addresses"] == nil)
        #expect(body[attribute: "meta"] == nil)
        #expect(body[attribute: "userName"] == "alice@contoso.com")
        #expect(body[attribute: "emails"] == Self.entraDefaultCreate[attribute: "emails"])
        #expect(body[attribute: SCIMSchema.enterpriseUser]?[attribute: "manager"] == "m-1")
        #expect(context.policy.storeUnsupportedAttributes == false)
    }

    @Test func rejectNamesEveryUnsupportedAttribute() async throws {
        let error = await #expect(throws: SCIMError.self) {
            try await run(SCIMRequest(operation: .create(.user), body: Self.entraDefaultCreate), "unsupportedAttributes: reject")
        }
        #expect(error?.status == .badRequest)
        #expect(error?.scimType == .invalidValue)
        #expect(error?.detail.contains("phoneNumbers") == true)
        #expect(error?.detail.contains("addresses") == true)
    }

    @Test func storeKeepsThemAndTellsTheBackend() async throws {
        let (request, context) = try await run(SCIMRequest(operation: .create(.user), body: Self.entraDefaultCreate), "unsupportedAttributes: store")
        #expect(request.body?[attribute: "phoneNumbers"] != nil)
        #expect(context.policy.storeUnsupportedAttributes)
    }

    /// A User body as a client sends it: `fields` with the core schema listed.
    static func user(_ fields: JSONValue) -> JSONValue {
        var body = fields.objectValue ?? [:]
        body["schemas"] = body["schemas"] ?? [.string(SCIMSchema.user)]
        return .object(body)
    }

    /// (body, words the detail must contain)
    static let invalidUsers: [(JSONValue, String)] = [
        (user(["userName": 42]), "userName must be a string"),
        (user(["displayName": "x"]), "userName is required"),
        (user(["userName": "a", "active": "maybe"]), "active must be true or false"),
        (user(["userName": "a", "emails": ["type": "work", "value": "a@b.c"]]), "emails is multi-valued"),
        (
            user(["userName": "a", "emails": [["value": "a@b.c", "primary": true], ["value": "c@d.e", "primary": "True"]]]),
            "at most one of emails may be primary"
        ),
        (user(["userName": "a", "emails": [["value": "a@b.c", "type": "pager"]]]), "emails.type must be one of work, home, other"),
        (user(["userName": "a", "name": "Alice"]), "name must be an object"),
        (user(["userName": "a", "name": ["givenName": ["x"]]]), "name.givenName must be a string"),
        (
            user([
                "userName": "a", "schemas": [.string(SCIMSchema.user), .string(SCIMSchema.enterpriseUser)],
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": "x",
            ]),
            "must be an object"
        ),
        (user(["userName": "a", "externalId": 7]), "externalId must be a string"),
        (user(["userName": "a", "schemas": "urn:x"]), "schemas must be a non-empty list"),
        (user(["userName": .string(String(repeating: "a", count: 513))]), "userName is longer than 512"),
        (user(["userName": "a", "title": .string(String(repeating: "t", count: 8193))]), "title is longer than 8192"),
        (user(["userName": "a", "password": 5]), "password must be a string"),
        (user(["userName": "a", "phoneNumbers": "x"]), "phoneNumbers is multi-valued"),
        (user(["userName": "a", "phoneNumbers": [["value": 5]]]), "phoneNumbers.value must be a string"),
        (user(["userName": "a", "addresses": [["primary": "yes"]]]), "addresses.primary must be true or false"),
        (user(["userName": "a", "profileUrl": ["x"]]), "profileUrl must be a string"),
        (user(["userName": "a", "x509Certificates": [["value": 1]]]), "x509Certificates.value must be a string"),
    ]

    @Test(arguments: invalidUsers)
    func wrongShapesAreInvalidValueNamingTheAttribute(body: JSONValue, detail: String) async throws {
        let error = await #expect(throws: SCIMError.self) { try await run(SCIMRequest(operation: .create(.user), body: body)) }
        #expect(error?.status == .badRequest)
        #expect(error?.detail.contains(detail) == true, "\(error?.detail ?? "")")
    }

    @Test func canonicalValuesCanBeRelaxed() async throws {
        _ = try await run(
            SCIMRequest(operation: .create(.user), body: Self.user(["userName": "a", "emails": [["value": "a@b.c", "type": "pager"]]])),
            "canonicalValues: ignore"
        )
    }

    static func patch(_ operations: JSONValue) -> JSONValue { ["schemas": [.string(SCIMSchema.patchOp)], "Operations": operations] }

    /// (PATCH operations, type, scimType)
    static let refusedPatches: [(JSONValue, ResourceType, SCIMError.SCIMType)] = [
        ([["op": "replace", "path": "groups", "value": [["value": "g"]]]], .user, .mutability),
        ([["op": "replace", "path": "meta.created", "value": "2020-01-01T00:00:00Z"]], .user, .mutability),
        ([["op": "replace", "path": #"members[value eq "a"].value"#, "value": "b"]], .group, .mutability),
        ([["op": "replace", "path": "active", "value": "sometimes"]], .user, .invalidValue),
        (
            [["op": "add", "path": "emails", "value": [["value": "a@b.c", "primary": true], ["value": "d@e.f", "primary": true]]]], .user,
            .invalidValue
        ),
        ([["op": "add", "path": "emails[type eq \"work\"", "value": "x"]], .user, .invalidPath),
    ]

    @Test(arguments: refusedPatches)
    func patchesAreCheckedAgainstMutabilityAndTypes(operations: JSONValue, type: ResourceType, scimType: SCIMError.SCIMType) async throws {
        let error = await #expect(throws: SCIMError.self) {
            try await run(SCIMRequest(operation: .patch(type, id: "x"), body: Self.patch(operations)))
        }
        #expect(error?.scimType == scimType, "\(error?.detail ?? "")")
    }

    @Test func entraPatchFormsPassAndUnsupportedOperationsAreDropped() async throws {
        let operations: JSONValue = [
            ["op": "Replace", "path": "active", "value": "False"],
            ["op": "Replace", "path": #"emails[type eq "work"].value"#, "value": "new@contoso.com"],
            ["op": "Add", "path": #"phoneNumbers[type eq "work"].value"#, "value": "+1 555"],
            ["op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": "m-2"],
            ["op": "replace", "value": ["name.givenName": "A", "addresses": [["type": "work"]]]],
        ]
        let (request, _) = try await run(SCIMRequest(operation: .patch(.user, id: "x"), body: Self.patch(operations)))
        let kept = try #require(request.patchOperations)
        #expect(kept.count == 4)
        #expect(!kept.contains { $0.path?.hasPrefix("phoneNumbers") == true })
        #expect(kept.last?.value == ["name.givenName": "A"])
    }

    @Test func limitsOnFiltersPatchesAndBodies() async throws {
        let config = "maxFilterLength: 40\nmaxFilterDepth: 3\nmaxOperationsPerPatch: 2\nmaxMembersPerPatch: 2\nmaxBodyBytes: 1024"
        let long = await #expect(throws: SCIMError.self) {
            try await run(
                SCIMRequest(operation: .search(.user), query: .init(filter: #"userName eq "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa""#)),
                config
            )
        }
        #expect(long?.scimType == .invalidFilter)
        let deep = await #expect(throws: SCIMError.self) {
            try await run(SCIMRequest(operation: .search(.user), query: .init(filter: #"not (not (a pr and b pr))"#)), config)
        }
        #expect(deep?.scimType == .invalidFilter)
        let operations = await #expect(throws: SCIMError.self) {
            try await run(
                SCIMRequest(
                    operation: .patch(.user, id: "x"),
                    body: Self.patch([
                        ["op": "add", "path": "title", "value": "a"], ["op": "add", "path": "title", "value": "b"],
                        ["op": "add", "path": "title", "value": "c"],
                    ])
                ),
                config
            )
        }
        #expect(operations?.detail.contains("at most 2 operations") == true)
        // The member limit is handed to the service, which counts the change a PATCH really makes.
        let (_, handed) = try await run(
            SCIMRequest(operation: .patch(.group, id: "g"), body: Self.patch([["op": "remove", "path": "members"]])),
            config
        )
        #expect(handed.policy.maxMembersPerPatch == 2)
        var big = SCIMRequest(operation: .create(.user), body: ["schemas": [.string(SCIMSchema.user)], "userName": "a"])
        big.bodySize = 4096
        let body = await #expect(throws: SCIMError.self) { try await run(big, config) }
        #expect(body?.status == .contentTooLarge)
    }

    @Test(arguments: ["maxFilterDepth: 0", "unsupportedAttributes: keep", "maxBodyBytes: big"])
    func badConfigurationIsRefused(yaml: String) async throws {
        await #expect(throws: ConfigurationError.self) { try await stage(yaml) }
    }
}
