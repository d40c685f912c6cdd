// libFuzzer target: the filter parser, then the in-memory evaluator and the schema check on whatever parses.
let evaluator = FilterEvaluator(schemas: [SchemaDefinition.user, SchemaDefinition.enterpriseUser], coreSchema: SCIMSchema.user)
let resource: JSONValue = [
    "schemas": [.string(SCIMSchema.user)], "id": "u1", "userName": "alice@example.com", "active": true,
    "name": ["givenName": "Alice", "familyName": "Adams"],
    "emails": [["value": "alice@example.com", "type": "work", "primary": true], ["value": "a@home.test", "type": "home"]],
    "meta": ["resourceType": "User", "created": "2026-01-01T00:00:00Z", "version": "W/\"1\""],
]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let text = String(decoding: UnsafeRawBufferPointer(start: start, count: count), as: UTF8.self)
    if let filter = try? Filter(parsing: text) {
        _ = evaluator.matches(filter, resource)
    }
    _ = try? Filter(parsing: text, limits: FilterLimits(maxLength: 2048, maxDepth: 8))
    return 0
}
