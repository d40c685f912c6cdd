// libFuzzer target: attribute paths (filters, sortBy) and PATCH paths with value filters.
let schemas = [SchemaDefinition.user, SchemaDefinition.enterpriseUser]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let text = String(decoding: UnsafeRawBufferPointer(start: start, count: count), as: UTF8.self)
    _ = try? AttributePath(parsing: text)
    _ = try? AttributePath(parsing: text, forFilter: false)
    _ = try? PatchPath(parsing: text, schemas: schemas, coreSchema: SCIMSchema.user)
    _ = try? PatchPath(parsing: text, schemas: [SchemaDefinition.group], coreSchema: SCIMSchema.group)
    return 0
}
