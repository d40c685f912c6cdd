import HTTPTypes
import SCIMCore
import Testing

@Suite struct PatchEngineTests {
    let engine = PatchEngine(schemas: SchemaDefinition.all, coreSchema: SCIMSchema.user)
    let groups = PatchEngine(schemas: [.group], coreSchema: SCIMSchema.group)

    let user: JSONValue = [
        "id": "u1",
        "userName": "bjensen@example.com",
        "active": true,
        "name": ["givenName": "Barbara", "familyName": "Jensen"],
        "emails": [["type": "work", "value": "bjensen@example.com", "primary": true]],
    ]

    func apply(_ operations: [PatchOperation], to resource: JSONValue? = nil) throws -> JSONValue {
        try engine.apply(operations, to: resource ?? user)
    }

    @Test func replaceActiveWithTheStringFalseAsEntraSends() throws {
        let body: JSONValue = [
            "schemas": [.string(SCIMSchema.patchOp)],
            "Operations": [["op": "Replace", "path": "active", "value": "False"]],
        ]
        let result = try apply(try PatchOperation.operations(fromBody: body))
        #expect(result[attribute: "active"] == "False")  // stored as the boolean false by the backend codec
    }

    @Test func filteredEmailPathReplacesTheMatchingValue() throws {
        let result = try apply([PatchOperation(op: .replace, path: #"emails[type eq "work"].value"#, value: "new@example.com")])
        #expect(result[attribute: "emails"] == [["type": "work", "value": "new@example.com", "primary": true]])
    }

    @Test func addOnAFilteredPathThatMatchesNothingCreatesTheEntry() throws {
        var bare = user
        if case .object(var members) = bare {
            members["emails"] = nil
            bare = .object(members)
        }
        let result = try apply([PatchOperation(op: .add, path: #"emails[type eq "work"].value"#, value: "made@example.com")], to: bare)
        #expect(result[attribute: "emails"] == [["type": "work", "value": "made@example.com"]])
    }

    @Test func subAttributePathChangesOnlyThatPart() throws {
        let result = try apply([PatchOperation(op: .replace, path: "name.familyName", value: "Smith")])
        #expect(result[attribute: "name"] == ["givenName": "Barbara", "familyName": "Smith"])
    }

    @Test func noPathValueWithDottedAndURNKeys() throws {
        let value: JSONValue = [
            "name.givenName": "Babs",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "42",
            "displayName": "Babs Jensen",
        ]
        let result = try apply([PatchOperation(op: .replace, value: value)])
        #expect(result[attribute: "name"]?[attribute: "givenName"] == "Babs")
        #expect(result[attribute: "displayName"] == "Babs Jensen")
        #expect(result[attribute: SCIMSchema.enterpriseUser]?[attribute: "employeeNumber"] == "42")
    }

    @Test func managerSentAsABareStringIsKeptForTheCodec() throws {
        let result = try apply([
            PatchOperation(op: .add, path: "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", value: "m-1")
        ])
        #expect(result[attribute: SCIMSchema.enterpriseUser]?[attribute: "manager"] == "m-1")
    }

    static func patchOp(_ operations: JSONValue) -> JSONValue { ["schemas": [.string(SCIMSchema.patchOp)], "Operations": operations] }

    @Test func capitalisedOpsAreAccepted() throws {
        let body = Self.patchOp([["op": "ADD", "path": "nickName", "value": "Babs"]])
        #expect(try PatchOperation.operations(fromBody: body) == [PatchOperation(op: .add, path: "nickName", value: "Babs")])
    }

    /// (body, words the detail must contain)
    @Test(arguments: [
        (patchOp([["op": "move", "path": "a", "value": "b"]]), "op must be add, replace or remove"),
        (patchOp([]), "Operations"),
        (patchOp([["op": "remove"]]), "path"),
        (patchOp([["op": "add", "path": "x"]]), "value"),
        (["nope": true] as JSONValue, "PatchOp"),
        (["Operations": [["op": "add", "path": "nickName", "value": "Babs"]]] as JSONValue, "PatchOp"),
        (["schemas": [], "Operations": [["op": "add", "path": "nickName", "value": "Babs"]]] as JSONValue, "PatchOp"),
        (["schemas": [.string(SCIMSchema.user)], "Operations": [["op": "add", "path": "nickName", "value": "Babs"]]] as JSONValue, "PatchOp"),
    ])
    func malformedPatchBodiesAreRefused(body: JSONValue, detail: String) {
        let error = #expect(throws: SCIMError.self) { try PatchOperation.operations(fromBody: body) }
        #expect(error?.status == .badRequest)
        #expect(error?.detail.contains(detail) == true, "\(error?.detail ?? "")")
    }

    @Test func readOnlyPathsAreRefusedWithMutability() {
        let error = #expect(throws: SCIMError.self) { try apply([PatchOperation(op: .replace, path: "id", value: "x")]) }
        #expect(error?.scimType == .mutability)
    }

    let group: JSONValue = [
        "id": "g1",
        "displayName": "Crew",
        "members": [["value": "a"], ["value": "b"], ["value": "c"]],
    ]

    @Test func removeMembersWithAValueListRemovesOnlyThose() throws {
        let result = try groups.apply([PatchOperation(op: .remove, path: "members", value: [["value": "b"]])], to: group)
        #expect(result[attribute: "members"] == [["value": "a"], ["value": "c"]])
    }

    @Test func removeMembersByFilterRemovesThatMember() throws {
        let result = try groups.apply([PatchOperation(op: .remove, path: #"members[value eq "a"]"#)], to: group)
        #expect(result[attribute: "members"] == [["value": "b"], ["value": "c"]])
    }

    @Test func addingAPresentMemberAndRemovingAnAbsentOneSucceed() throws {
        let result = try groups.apply(
            [
                PatchOperation(op: .add, path: "members", value: [["$ref": .null, "value": "a"], ["value": "d"]]),
                PatchOperation(op: .remove, path: "members", value: [["value": "zzz"]]),
            ],
            to: group
        )
        #expect(result[attribute: "members"]?.arrayValue?.compactMap { $0[attribute: "value"]?.stringValue } == ["a", "b", "c", "d"])
    }

    @Test func removeMembersWithoutValueRemovesAll() throws {
        let result = try groups.apply([PatchOperation(op: .remove, path: "members")], to: group)
        #expect(result[attribute: "members"] == nil)
    }

    @Test func settingAPrimaryClearsTheOtherPrimary() throws {
        let result = try apply([PatchOperation(op: .add, path: "emails", value: [["type": "home", "value": "h@example.com", "primary": true]])])
        let primaries = result[attribute: "emails"]?.arrayValue?.filter { $0[attribute: "primary"] == true }
        #expect(primaries?.count == 1)
        #expect(primaries?.first?[attribute: "value"] == "h@example.com")
    }
}
