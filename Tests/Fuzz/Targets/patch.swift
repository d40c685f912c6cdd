// libFuzzer target: a PatchOp body read as the gateway reads it and applied to a user and a group. A PATCH that
// applies must leave an object that serialises and reads back unchanged.
let users = PatchEngine(schemas: [SchemaDefinition.user, SchemaDefinition.enterpriseUser], coreSchema: SCIMSchema.user)
let groups = PatchEngine(schemas: [SchemaDefinition.group], coreSchema: SCIMSchema.group)
let user: JSONValue = [
    "schemas": [.string(SCIMSchema.user)], "id": "u1", "userName": "alice@example.com", "active": true,
    "name": ["givenName": "Alice", "familyName": "Adams"],
    "emails": [["value": "alice@example.com", "type": "work", "primary": true], ["value": "a@home.test", "type": "home"]],
]
let group: JSONValue = ["schemas": [.string(SCIMSchema.group)], "id": "g1", "displayName": "Crew", "members": [["value": "u1"], ["value": "u2"]]]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    guard let body = try? JSONValue(parsing: UnsafeRawBufferPointer(start: start, count: count), caseInsensitiveKeys: true),
        let operations = try? PatchOperation.operations(fromBody: body)
    else { return 0 }
    for (engine, resource) in [(users, user), (groups, group)] {
        guard let result = try? engine.apply(operations, to: resource) else { continue }
        guard result.objectValue != nil else { fatalError("a PATCH left a non-object: \(result)") }
        if (try? JSONValue(parsing: result.serialized())) != result { fatalError("a patched resource does not round-trip: \(result)") }
    }
    return 0
}
