public import Foundation
internal import Yams

/// A raw block of configuration (a plugin's `config:`, or a top-level section), kept undecoded until the plugin that
/// owns it decodes it with ``decode(_:)``. Startup-only: not `Sendable`.
///
/// Decoding is strict: a key the target type does not know, a value of the wrong type and a missing required key are
/// ``ConfigurationError``s naming the full key path (`pipeline[1].config.burts: unknown key`).
public struct ConfigBlock {
    let node: Node?
    /// The key path of this block in its document (`pipeline[1].config`).
    public let path: String

    init(node: Node?, path: String) {
        self.node = node
        self.path = path
    }

    /// Parses a YAML literal as a block at `path`; for tests and for tools.
    public init(yaml: String, path: String = "") throws(ConfigurationError) {
        do {
            self.init(node: try Yams.compose(yaml: yaml), path: path)
        } catch {
            throw ConfigurationError(.syntax, path: path, message: "not valid YAML: \(error)")
        }
    }

    /// `true` when the block is absent or empty (`config:` left out).
    public var isEmpty: Bool {
        guard let node else { return true }
        if case .scalar(let scalar) = node, scalar.string.isEmpty || scalar.string == "~" || scalar.string == "null" { return true }
        return false
    }

    /// Decodes the block strictly into `type`. An absent block decodes as `{}`, so a type whose properties all have
    /// defaults needs no `config:` at all.
    public func decode<T: Codable>(_ type: T.Type) throws(ConfigurationError) -> T {
        let node = isEmpty ? Node.mapping([:]) : self.node!
        let value: T
        do {
            value = try YAMLDecoder().decode(T.self, from: node)
        } catch let error as DecodingError {
            // A misspelt required key reads better as the unknown key it is than as the key it should have been.
            if case .keyNotFound(let key, let context) = error,
                let misspelt = Self.misspelling(of: key.stringValue, in: Self.node(at: context.codingPath, in: node))
            {
                throw .unknownKey(Self.render(context.codingPath, base: path, then: misspelt))
            }
            throw Self.translate(error, base: path)
        } catch let error as ConfigurationError {
            throw ConfigurationError(error.code, path: Self.join(path, error.path), message: error.message)
        } catch {
            throw ConfigurationError(.invalidValue, path: path, message: "\(error)")
        }
        // Strictness: every key written must be one the type knows. Re-encoding the decoded value yields every key the
        // type has (synthesized Codable writes them all); anything left over in the input is unknown.
        let known: Node
        do {
            known = try Yams.compose(yaml: try YAMLEncoder().encode(value)) ?? .mapping([:])
        } catch {
            throw ConfigurationError(.invalidValue, path: path, message: "cannot be re-encoded: \(error)")
        }
        if let unknown = Self.firstUnknownKey(in: node, known: known, path: path) {
            throw .unknownKey(unknown)
        }
        return value
    }

    /// The sub-block at `key`, for documents that decode section by section.
    public func child(_ key: String) -> ConfigBlock {
        let childPath = Self.join(path, key)
        guard case .mapping(let mapping) = node else { return ConfigBlock(node: nil, path: childPath) }
        return ConfigBlock(node: mapping.first { $0.key.string == key }?.value, path: childPath)
    }

    /// The keys of a mapping block, in document order; empty for anything else.
    public var keys: [String] {
        guard case .mapping(let mapping) = node else { return [] }
        return mapping.map { $0.key.string ?? "" }
    }

    /// The elements of a sequence block, each with its indexed path (`pipeline[0]`).
    public func elements() throws(ConfigurationError) -> [ConfigBlock] {
        guard let node, !isEmpty else { return [] }
        guard case .sequence(let sequence) = node else {
            throw ConfigurationError(.typeMismatch, path: path, message: "expected a list")
        }
        return sequence.enumerated().map { ConfigBlock(node: $0.element, path: "\(path)[\($0.offset)]") }
    }

    static func join(_ base: String, _ key: String) -> String {
        if base.isEmpty { return key }
        if key.isEmpty { return base }
        return key.hasPrefix("[") ? base + key : base + "." + key
    }

    static func firstUnknownKey(in node: Node, known: Node, path: String) -> String? {
        switch (node, known) {
        case (.mapping(let given), .mapping(let allowed)):
            for (key, value) in given {
                let name = key.string ?? ""
                guard let match = allowed.first(where: { $0.key.string == name }) else {
                    // An optional property left nil is not re-encoded; a null value for it is still known.
                    if case .scalar(let scalar) = value, ["", "~", "null"].contains(scalar.string) { continue }
                    return join(path, name)
                }
                if let nested = firstUnknownKey(in: value, known: match.value, path: join(path, name)) { return nested }
            }
            return nil
        case (.sequence(let given), .sequence(let allowed)):
            for (index, element) in given.enumerated() where index < allowed.count {
                if let nested = firstUnknownKey(in: element, known: allowed[index], path: "\(path)[\(index)]") { return nested }
            }
            return nil
        default:
            return nil
        }
    }

    static func render(_ codingPath: [any CodingKey], base: String, then last: String? = nil) -> String {
        let rendered = codingPath.reduce(base) { partial, key in
            if let index = key.intValue { return partial + "[\(index)]" }
            return join(partial, key.stringValue)
        }
        return last.map { join(rendered, $0) } ?? rendered
    }

    /// The node a decoding path points at.
    static func node(at codingPath: [any CodingKey], in root: Node) -> Node? {
        var current: Node? = root
        for key in codingPath {
            switch current {
            case .mapping(let mapping)?: current = mapping.first { $0.key.string == key.stringValue }?.value
            case .sequence(let sequence)?:
                guard let index = key.intValue, index < sequence.count else { return nil }
                current = sequence[index]
            default: return nil
            }
        }
        return current
    }

    /// A key of `node` that looks like a misspelling of `expected` (same letters in another case, or at most two edits).
    static func misspelling(of expected: String, in node: Node?) -> String? {
        guard case .mapping(let mapping)? = node else { return nil }
        return mapping.compactMap(\.key.string).first { candidate in
            candidate != expected && (candidate.lowercased() == expected.lowercased() || editDistance(candidate, expected) <= 2)
        }
    }

    static func editDistance(_ lhs: String, _ rhs: String) -> Int {
        let a = Array(lhs)
        let b = Array(rhs)
        guard !a.isEmpty else { return b.count }
        guard !b.isEmpty else { return a.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }

    static func translate(_ error: DecodingError, base: String) -> ConfigurationError {
        func render(_ codingPath: [any CodingKey]) -> String { Self.render(codingPath, base: base) }
        switch error {
        case .keyNotFound(let key, let context):
            return ConfigurationError(.missingKey, path: render(context.codingPath + [key]), message: "required key is missing")
        case .typeMismatch(let type, let context):
            return ConfigurationError(.typeMismatch, path: render(context.codingPath), message: "expected \(describe(type))")
        case .valueNotFound(let type, let context):
            return ConfigurationError(.typeMismatch, path: render(context.codingPath), message: "expected \(describe(type)), found null")
        case .dataCorrupted(let context):
            let detail = context.underlyingError.map { "\($0)" } ?? context.debugDescription
            return ConfigurationError(.invalidValue, path: render(context.codingPath), message: detail)
        @unknown default:
            return ConfigurationError(.invalidValue, path: base, message: "\(error)")
        }
    }

    static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type, is Int64.Type, is UInt16.Type, is UInt.Type: "an integer"
        case is Double.Type: "a number"
        case is Bool.Type: "true or false"
        default: "\(type)".hasPrefix("Array") ? "a list" : "a mapping"
        }
    }
}

@available(*, unavailable)
extension ConfigBlock: Sendable {}

/// A `use:` entry of `gateway.yaml`: a plugin name and its undecoded `config:`.
public struct PluginReference {
    public var name: PluginName
    public var config: ConfigBlock
    /// `pipeline[1].use`, for errors about the name.
    public var usePath: String

    public init(name: PluginName, config: ConfigBlock, usePath: String) {
        self.name = name
        self.config = config
        self.usePath = usePath
    }
}

@available(*, unavailable)
extension PluginReference: Sendable {}
