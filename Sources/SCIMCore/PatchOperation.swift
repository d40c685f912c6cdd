import Foundation
internal import HTTPTypes

/// One operation of a PATCH request (RFC 7644 §3.5.2).
public struct PatchOperation: Sendable, Hashable {
    /// `add`, `replace` or `remove`; parsed case-insensitively (Entra sends `Add`, `Replace`, `Remove`).
    public enum Op: String, Sendable, Hashable {
        case add, replace, remove
    }

    public var op: Op
    /// The raw path (`emails[type eq "work"].value`); `nil` when the value object names the attributes.
    public var path: String?
    public var value: JSONValue?

    public init(op: Op, path: String? = nil, value: JSONValue? = nil) {
        self.op = op
        self.path = path
        self.value = value
    }

    /// Reads the `Operations` of a PatchOp message body.
    /// - Throws: ``SCIMError`` 400 `invalidSyntax` for a body that is not a PatchOp, or `invalidValue` for a bad op.
    public static func operations(fromBody body: JSONValue) throws(SCIMError) -> [PatchOperation] {
        guard body.objectValue != nil else { throw .invalidSyntax("a PATCH body must be a JSON object") }
        // RFC 7644 §3.5.2: the body's `schemas` is required and names the PatchOp message.
        guard let schemas = body[attribute: "schemas"]?.arrayValue,
            schemas.contains(where: { $0.stringValue?.lowercased() == SCIMSchema.patchOp.lowercased() })
        else {
            throw .invalidSyntax("a PATCH body must list the schema \(SCIMSchema.patchOp) in schemas")
        }
        guard let list = body[attribute: "Operations"]?.arrayValue else {
            throw .invalidSyntax("a PATCH body needs an 'Operations' array")
        }
        guard !list.isEmpty else { throw .invalidValue("'Operations' is empty") }
        var result: [PatchOperation] = []
        for (index, entry) in list.enumerated() {
            guard entry.objectValue != nil else { throw .invalidSyntax("Operations[\(index)] is not an object") }
            guard let opText = entry[attribute: "op"]?.stringValue, let op = Op(rawValue: opText.lowercased()) else {
                throw .invalidValue("Operations[\(index)].op must be add, replace or remove")
            }
            var path: String?
            if let pathValue = entry[attribute: "path"], !pathValue.isNull {
                guard let text = pathValue.stringValue, !text.trimmingCharacters(in: .whitespaces).isEmpty else {
                    throw SCIMError(status: .badRequest, scimType: .invalidPath, detail: "Operations[\(index)].path must be a non-empty string")
                }
                path = text
            }
            let value = entry[attribute: "value"]
            if op == .remove, path == nil {
                throw SCIMError(status: .badRequest, scimType: .noTarget, detail: "Operations[\(index)]: remove needs a path")
            }
            if op != .remove, value == nil || value?.isNull == true {
                throw .invalidValue("Operations[\(index)]: \(op.rawValue) needs a value")
            }
            result.append(PatchOperation(op: op, path: path, value: value))
        }
        return result
    }
}
