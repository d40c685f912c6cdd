// libFuzzer target: gateway.yaml decoding (YAML through Yams, then the strict decoders with key-path errors).
import Foundation

let directory = URL(fileURLWithPath: "/nonexistent/scim-gateway-fuzz")

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let text = String(decoding: UnsafeRawBufferPointer(start: start, count: count), as: UTF8.self)
    _ = try? GatewayDocument(yaml: text, directory: directory)
    _ = try? ConfigBlock(yaml: text, path: "pipeline[0].config").decode(ListenerConfiguration.self)
    return 0
}
