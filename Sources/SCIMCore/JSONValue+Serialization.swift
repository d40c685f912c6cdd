/// A direct JSON writer and reader for ``JSONValue``: the SCIM hot path reads and writes JSON for every request,
/// and Foundation's Codable coders cost several times more than the work itself.
extension JSONValue {
    /// The compact JSON text of the value, as UTF-8 bytes. Keys are written sorted, so output is stable.
    public func serialized() -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(512)
        write(into: &output)
        return output
    }

    func write(into output: inout [UInt8]) {
        switch self {
        case .null: output.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C])
        case .bool(true): output.append(contentsOf: [0x74, 0x72, 0x75, 0x65])
        case .bool(false): output.append(contentsOf: [0x66, 0x61, 0x6C, 0x73, 0x65])
        case .integer(let value): output.append(contentsOf: String(value).utf8)
        case .number(let value):
            if value.isFinite {
                output.append(contentsOf: "\(value)".utf8)  // Swift's shortest round-tripping form: "2.5", "1000.0", "1e+20"
            } else {
                output.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C])
            }
        case .string(let value): Self.writeString(value, into: &output)
        case .array(let elements):
            output.append(0x5B)
            for (index, element) in elements.enumerated() {
                if index > 0 { output.append(0x2C) }
                element.write(into: &output)
            }
            output.append(0x5D)
        case .object(let members):
            output.append(0x7B)
            for (index, key) in members.keys.sorted().enumerated() {
                if index > 0 { output.append(0x2C) }
                Self.writeString(key, into: &output)
                output.append(0x3A)
                members[key]!.write(into: &output)
            }
            output.append(0x7D)
        }
    }

    static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    static func writeString(_ value: String, into output: inout [UInt8]) {
        output.append(0x22)
        for byte in value.utf8 {
            switch byte {
            case 0x22: output.append(contentsOf: [0x5C, 0x22])
            case 0x5C: output.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: output.append(contentsOf: [0x5C, 0x6E])
            case 0x0D: output.append(contentsOf: [0x5C, 0x72])
            case 0x09: output.append(contentsOf: [0x5C, 0x74])
            case 0..<0x20:
                output.append(contentsOf: [0x5C, 0x75, 0x30, 0x30, hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 0xF)]])
            default: output.append(byte)
            }
        }
        output.append(0x22)
    }

    /// Parses JSON text (RFC 8259) strictly, so that no other reader of the same bytes can see a different document:
    /// invalid UTF-8 (stray or overlong bytes, truncated sequences, encoded surrogates), a member name given twice in
    /// one object, and U+0000 in a string are refused, as is nesting deeper than 512 levels.
    /// - Parameter caseInsensitiveKeys: also refuse names that differ only in ASCII case (`userName` and `username`):
    ///   SCIM attribute names are case-insensitive, so in a SCIM body those are the same attribute twice.
    /// - Throws: ``JSONParseError`` with the byte offset of the problem.
    public init(parsing bytes: some Collection<UInt8>, caseInsensitiveKeys: Bool = false) throws(JSONParseError) {
        var parser = JSONParser(bytes: Array(bytes), caseInsensitiveKeys: caseInsensitiveKeys)
        parser.skipWhitespace()
        self = try parser.value(depth: 0)
        parser.skipWhitespace()
        guard parser.index == parser.bytes.count else { throw parser.error("unexpected text after the value") }
    }
}

/// Why JSON text could not be read.
public struct JSONParseError: Error, Sendable, Hashable, CustomStringConvertible {
    public var offset: Int
    public var reason: String
    public var description: String { "\(reason) at byte \(offset)" }
}

struct JSONParser {
    let bytes: [UInt8]
    let caseInsensitiveKeys: Bool
    var index = 0

    init(bytes: [UInt8], caseInsensitiveKeys: Bool = false) {
        self.bytes = bytes
        self.caseInsensitiveKeys = caseInsensitiveKeys
    }

    func error(_ reason: String) -> JSONParseError { JSONParseError(offset: index, reason: reason) }

    mutating func skipWhitespace() {
        while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x0A || bytes[index] == 0x0D || bytes[index] == 0x09 {
            index += 1
        }
    }

    mutating func expect(_ literal: [UInt8], _ value: JSONValue) throws(JSONParseError) -> JSONValue {
        guard index + literal.count <= bytes.count, Array(bytes[index..<index + literal.count]) == literal else { throw error("invalid literal") }
        index += literal.count
        return value
    }

    mutating func value(depth: Int) throws(JSONParseError) -> JSONValue {
        guard depth < 512 else { throw error("nesting is too deep") }
        guard index < bytes.count else { throw error("unexpected end of input") }
        switch bytes[index] {
        case 0x7B: return try object(depth: depth)
        case 0x5B: return try array(depth: depth)
        case 0x22: return .string(try string())
        case 0x74: return try expect(Array("true".utf8), .bool(true))
        case 0x66: return try expect(Array("false".utf8), .bool(false))
        case 0x6E: return try expect(Array("null".utf8), .null)
        case 0x2D, 0x30...0x39: return try number()
        default: throw error("unexpected character")
        }
    }

    mutating func object(depth: Int) throws(JSONParseError) -> JSONValue {
        index += 1
        var members: [String: JSONValue] = [:]
        var folded: Set<String> = []
        skipWhitespace()
        if index < bytes.count, bytes[index] == 0x7D {
            index += 1
            return .object(members)
        }
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == 0x22 else { throw error("expected a member name") }
            let keyOffset = index
            let key = try string()
            guard members[key] == nil else { throw JSONParseError(offset: keyOffset, reason: "the member name \"\(key)\" appears twice") }
            if caseInsensitiveKeys {
                guard folded.insert(Self.asciiLowercased(key)).inserted else {
                    throw JSONParseError(offset: keyOffset, reason: "the member name \"\(key)\" appears twice (names ignore case)")
                }
            }
            skipWhitespace()
            guard index < bytes.count, bytes[index] == 0x3A else { throw error("expected ':'") }
            index += 1
            skipWhitespace()
            members[key] = try value(depth: depth + 1)
            skipWhitespace()
            guard index < bytes.count else { throw error("unexpected end of input") }
            if bytes[index] == 0x2C {
                index += 1
                continue
            }
            guard bytes[index] == 0x7D else { throw error("expected ',' or '}'") }
            index += 1
            return .object(members)
        }
    }

    static func asciiLowercased(_ text: String) -> String {
        guard text.utf8.contains(where: { (0x41...0x5A).contains($0) }) else { return text }
        return String(decoding: text.utf8.map { (0x41...0x5A).contains($0) ? $0 + 0x20 : $0 }, as: UTF8.self)
    }

    /// The bytes as a string, refusing anything that is not well-formed UTF-8 (RFC 3629: no overlong forms, no
    /// surrogates, nothing above U+10FFFF) and U+0000.
    func text(_ utf8: some Collection<UInt8>, at offset: Int) throws(JSONParseError) -> String {
        guard let text = String(validating: utf8, as: UTF8.self) else { throw JSONParseError(offset: offset, reason: "invalid UTF-8 in a string") }
        return text
    }

    mutating func array(depth: Int) throws(JSONParseError) -> JSONValue {
        index += 1
        var elements: [JSONValue] = []
        skipWhitespace()
        if index < bytes.count, bytes[index] == 0x5D {
            index += 1
            return .array(elements)
        }
        while true {
            skipWhitespace()
            elements.append(try value(depth: depth + 1))
            skipWhitespace()
            guard index < bytes.count else { throw error("unexpected end of input") }
            if bytes[index] == 0x2C {
                index += 1
                continue
            }
            guard bytes[index] == 0x5D else { throw error("expected ',' or ']'") }
            index += 1
            return .array(elements)
        }
    }

    mutating func hex4() throws(JSONParseError) -> UInt32 {
        guard index + 4 <= bytes.count else { throw error("bad \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case 0x30...0x39: digit = byte - 0x30
            case 0x41...0x46: digit = byte - 0x41 + 10
            case 0x61...0x66: digit = byte - 0x61 + 10
            default: throw error("bad \\u escape")
            }
            value = value << 4 | UInt32(digit)
            index += 1
        }
        return value
    }

    mutating func string() throws(JSONParseError) -> String {
        index += 1
        let start = index
        // Fast path: no escapes.
        while index < bytes.count, bytes[index] != 0x22, bytes[index] != 0x5C {
            guard bytes[index] >= 0x20 else { throw error("control character in a string") }
            index += 1
        }
        guard index < bytes.count else { throw error("unterminated string") }
        if bytes[index] == 0x22 {
            defer { index += 1 }
            return try text(bytes[start..<index], at: start)
        }
        var scalars = Array(bytes[start..<index])
        while index < bytes.count {
            let byte = bytes[index]
            if byte == 0x22 {
                index += 1
                return try text(scalars, at: start)
            }
            guard byte >= 0x20 else { throw error("control character in a string") }
            guard byte == 0x5C else {
                scalars.append(byte)
                index += 1
                continue
            }
            index += 1
            guard index < bytes.count else { throw error("unterminated string") }
            let escape = bytes[index]
            index += 1
            switch escape {
            case 0x22, 0x5C, 0x2F: scalars.append(escape)
            case 0x62: scalars.append(0x08)
            case 0x66: scalars.append(0x0C)
            case 0x6E: scalars.append(0x0A)
            case 0x72: scalars.append(0x0D)
            case 0x74: scalars.append(0x09)
            case 0x75:
                var code = try hex4()
                if (0xD800...0xDBFF).contains(code) {
                    guard index + 1 < bytes.count, bytes[index] == 0x5C, bytes[index + 1] == 0x75 else { throw error("lone surrogate") }
                    index += 2
                    let low = try hex4()
                    guard (0xDC00...0xDFFF).contains(low) else { throw error("lone surrogate") }
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00...0xDFFF).contains(code) {
                    throw error("lone surrogate")
                } else if code == 0 {
                    throw error("U+0000 in a string")
                }
                guard let scalar = Unicode.Scalar(code) else { throw error("bad \\u escape") }
                scalars.append(contentsOf: String(Character(scalar)).utf8)
            default: throw error("bad escape")
            }
        }
        throw error("unterminated string")
    }

    mutating func number() throws(JSONParseError) -> JSONValue {
        let start = index
        if bytes[index] == 0x2D { index += 1 }
        guard index < bytes.count, (0x30...0x39).contains(bytes[index]) else { throw error("bad number") }
        if bytes[index] == 0x30 {
            index += 1
        } else {
            while index < bytes.count, (0x30...0x39).contains(bytes[index]) { index += 1 }
        }
        var isInteger = true
        if index < bytes.count, bytes[index] == 0x2E {
            isInteger = false
            index += 1
            guard index < bytes.count, (0x30...0x39).contains(bytes[index]) else { throw error("bad number") }
            while index < bytes.count, (0x30...0x39).contains(bytes[index]) { index += 1 }
        }
        if index < bytes.count, bytes[index] == 0x65 || bytes[index] == 0x45 {
            isInteger = false
            index += 1
            if index < bytes.count, bytes[index] == 0x2B || bytes[index] == 0x2D { index += 1 }
            guard index < bytes.count, (0x30...0x39).contains(bytes[index]) else { throw error("bad number") }
            while index < bytes.count, (0x30...0x39).contains(bytes[index]) { index += 1 }
        }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        if isInteger, let value = Int(text) { return .integer(value) }
        guard let value = Double(text) else { throw error("bad number") }
        // 1e999 would be infinity, which JSON cannot write back: refuse it rather than store something else.
        guard value.isFinite else { throw error("number out of range") }
        return .number(value)
    }
}
