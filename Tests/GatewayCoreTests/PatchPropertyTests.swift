import GatewayCore
import GatewayTesting
import PropertyBased
import Testing

/// A PATCH through the resource service, then a GET, gives what applying the same PATCH to the resource's JSON
/// gives (on the attributes a client writes), on both directories; a PATCH the JSON refuses changes nothing.
@Suite struct PatchPropertyTests {
    static let engine = PatchEngine(schemas: [SchemaDefinition.user, SchemaDefinition.enterpriseUser], coreSchema: SCIMSchema.user)
    /// What a client writes and reads back; `meta`, `id` and `groups` are the server's.
    static let written = ["userName", "displayName", "title", "nickName", "active", "name", "emails", "externalId"]

    static let start: JSONValue = [
        "schemas": [.string(SCIMSchema.user)], "userName": "alice@example.com", "title": "Surveyor",
        "name": ["givenName": "Alice", "familyName": "Adams"],
        "emails": [["value": "alice@example.com", "type": "work", "primary": true], ["value": "alice@home.test", "type": "home"]],
    ]

    static let paths = [
        "title", "displayName", "nickName", "name.givenName", "name.familyName", "name", "active", "emails",
        #"emails[type eq "work"].value"#, #"emails[type eq "home"]"#, #"emails[type eq "other"].value"#, "emails.type", "externalId",
    ]
    static let strings: [JSONValue] = ["x", "Alicia", "new@example.com", "", "work"]

    static func value(for path: String, _ pick: Int) -> JSONValue {
        switch path {
        case "active": return pick % 2 == 0 ? true : false
        case "name": return ["givenName": strings[pick % strings.count], "formatted": "F"]
        case "emails": return [["value": .string("e\(pick)@example.com"), "type": "other"]]
        case #"emails[type eq "home"]"#: return ["value": .string("h\(pick)@home.test")]
        default: return strings[pick % strings.count]
        }
    }

    static func operations(_ numbers: [Int]) -> [PatchOperation] {
        stride(from: 0, to: numbers.count - 2, by: 3).map { index in
            let path = paths[numbers[index] % paths.count]
            switch numbers[index + 1] % 4 {
            case 0: return PatchOperation(op: .remove, path: path)
            case 1: return PatchOperation(op: .add, path: path, value: value(for: path, numbers[index + 2]))
            case 2: return PatchOperation(op: .replace, path: path, value: value(for: path, numbers[index + 2]))
            default: return PatchOperation(op: .replace, value: ["title": value(for: "title", numbers[index + 2]), "name.familyName": "Z"])
            }
        }
    }

    static func written(_ body: JSONValue) -> [String: JSONValue] {
        var result: [String: JSONValue] = [:]
        for key in written { if let value = body[attribute: key], !value.isNull, value != [] { result[key] = value } }
        return result
    }

    @Test(arguments: DirectoryKind.allCases)
    func patchThenGetEqualsPatchingTheJSON(kind: DirectoryKind) async throws {
        await propertyCheck(count: 60, input: Gen.int(in: 0...999).array(of: 3...15)) { numbers in
            let operations = Self.operations(numbers)
            try await DirectoryFixture.run(kind) { fixture in
                let context = try await fixture.context()
                let created = try await fixture.service.create(Self.start, in: .user, context: context)
                let before = try await fixture.service.get(id: created.id, in: .user, projection: .all, context: context).body
                let expected = Result { () throws(SCIMError) in try Self.engine.apply(operations, to: before) }
                let patched: Result<SCIMResource, any Error>
                do {
                    patched = .success(
                        try await fixture.service.patch(id: created.id, operations: operations, in: .user, ifMatch: nil, context: context)
                    )
                } catch {
                    patched = .failure(error)
                }
                let after = try await fixture.service.get(id: created.id, in: .user, projection: .all, context: context).body
                switch (expected, patched) {
                case (.success(let json), .success):
                    #expect(Self.written(after) == Self.written(json), "\(operations)")
                case (.failure, .failure):
                    #expect(after == before, "a refused PATCH changed the resource: \(operations)")
                case (.success, .failure(let error)):
                    #expect(after == before, "\(operations): \(error)")
                    Issue.record("the service refused a PATCH the JSON accepts: \(operations): \(error)")
                case (.failure(let error), .success):
                    Issue.record("the service accepted a PATCH the JSON refuses: \(operations): \(error)")
                }
            }
        }
    }
}
