// libFuzzer target: the JSON reader. A document it accepts must serialise and read back to the same value.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: start, count: count)
    for caseInsensitive in [false, true] {
        guard let value = try? JSONValue(parsing: bytes, caseInsensitiveKeys: caseInsensitive) else { continue }
        let again = try? JSONValue(parsing: value.serialized(), caseInsensitiveKeys: caseInsensitive)
        if again != value { fatalError("round trip changed the value: \(value) → \(String(describing: again))") }
    }
    return 0
}
