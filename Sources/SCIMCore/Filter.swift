/// A parsed SCIM filter (RFC 7644 §3.4.2.2).
public indirect enum Filter: Sendable, Hashable {
    /// `attrPath op value`.
    case compare(AttributePath, ComparisonOperator, FilterValue)
    /// `attrPath pr`.
    case present(AttributePath)
    case and(Filter, Filter)
    case or(Filter, Filter)
    case not(Filter)
    /// `attrPath[filter]`: some element of a multi-valued attribute matches the inner filter, whose paths name
    /// sub-attributes of that element.
    case valuePath(AttributePath, Filter)

    /// The comparison operators.
    public enum ComparisonOperator: String, Sendable, Hashable, CaseIterable {
        case eq, ne, co, sw, ew, gt, ge, lt, le
    }

    /// A comparison value: `true`, `false`, `null`, a number or a string.
    public enum FilterValue: Sendable, Hashable {
        case string(String)
        case number(Double)
        case bool(Bool)
        case null
    }

    /// Evaluates the filter against one element of a multi-valued attribute (its paths name sub-attributes), as
    /// value filters in PATCH paths do. String comparisons ignore case.
    public func matches(_ element: JSONValue) -> Bool {
        PatchEngine.matches(self, element)
    }

    /// Parses filter text within `limits`: the parser itself refuses text that is too long or nests too deep, so no
    /// input can exhaust the stack, whoever calls it.
    /// - Throws: ``SCIMError`` 400 `invalidFilter` naming what is wrong and where.
    public init(parsing text: String, limits: FilterLimits = .default) throws(SCIMError) {
        guard text.utf8.count <= limits.maxLength else {
            throw .invalidFilter("the filter is longer than \(limits.maxLength) characters")
        }
        var parser = FilterParser(text: text, maxDepth: limits.maxDepth)
        self = try parser.parseAll()
    }
}

/// How large a filter may be. The defaults bound every filter the core parses (search filters and the value
/// filters of PATCH paths); the validation stage passes its configured, usually smaller, limits.
public struct FilterLimits: Sendable, Hashable {
    /// Longest filter, in bytes of UTF-8.
    public var maxLength: Int
    /// Deepest nesting: each level of parentheses, `not`, value path (`emails[…]`) and `and`/`or` counts one.
    public var maxDepth: Int

    public init(maxLength: Int, maxDepth: Int) {
        self.maxLength = maxLength
        self.maxDepth = maxDepth
    }

    /// 8 KiB and 32 levels.
    public static let `default` = FilterLimits(maxLength: 8192, maxDepth: 32)
}

/// A recursive-descent parser; precedence `not` > `and` > `or`, as RFC 7644 §3.4.2.2 gives it.
struct FilterParser {
    enum Token: Equatable {
        case word(String)
        case string(String)
        case number(Double)
        case open, close, openBracket, closeBracket
    }

    let text: String
    let maxDepth: Int
    var tokens: [Token] = []
    var position = 0
    /// Open parentheses, brackets and `not`s around the current position: bounds the recursion.
    var nesting = 0

    init(text: String, maxDepth: Int) {
        self.text = text
        self.maxDepth = maxDepth
    }

    /// A parsed part and its depth (see ``FilterLimits/maxDepth``).
    typealias Parsed = (filter: Filter, depth: Int)

    func checked(_ parsed: Parsed) throws(SCIMError) -> Parsed {
        guard parsed.depth <= maxDepth else { throw tooDeep() }
        return parsed
    }

    func tooDeep() -> SCIMError {
        .invalidFilter("the filter nests deeper than \(maxDepth) levels")
    }

    mutating func enter() throws(SCIMError) {
        nesting += 1
        guard nesting <= maxDepth else { throw tooDeep() }
    }

    func error(_ message: String) -> SCIMError {
        .invalidFilter("invalid filter '\(SCIMError.excerpt(text))': \(message)")
    }

    mutating func parseAll() throws(SCIMError) -> Filter {
        tokens = try tokenize()
        guard !tokens.isEmpty else { throw error("the filter is empty") }
        let parsed = try parseOr()
        guard position == tokens.count else { throw error("unexpected \(describe(tokens[position]))") }
        return parsed.filter
    }

    func describe(_ token: Token) -> String {
        switch token {
        case .word(let word): "'\(word)'"
        case .string(let string): "\"\(string)\""
        case .number(let number): "\(number)"
        case .open: "'('"
        case .close: "')'"
        case .openBracket: "'['"
        case .closeBracket: "']'"
        }
    }

    var current: Token? { position < tokens.count ? tokens[position] : nil }

    func isKeyword(_ token: Token?, _ keyword: String) -> Bool {
        if case .word(let word)? = token { return word.lowercased() == keyword }
        return false
    }

    mutating func parseOr() throws(SCIMError) -> Parsed {
        var lhs = try parseAnd()
        while isKeyword(current, "or") {
            position += 1
            let rhs = try parseAnd()
            lhs = try checked((.or(lhs.filter, rhs.filter), 1 + max(lhs.depth, rhs.depth)))
        }
        return lhs
    }

    mutating func parseAnd() throws(SCIMError) -> Parsed {
        var lhs = try parseUnary()
        while isKeyword(current, "and") {
            position += 1
            let rhs = try parseUnary()
            lhs = try checked((.and(lhs.filter, rhs.filter), 1 + max(lhs.depth, rhs.depth)))
        }
        return lhs
    }

    mutating func parseUnary() throws(SCIMError) -> Parsed {
        if isKeyword(current, "not"), position + 1 < tokens.count, tokens[position + 1] == .open {
            position += 1
            // The parentheses `not` requires count with it as one level.
            let inner = try parseGroup()
            return try checked((.not(inner.filter), inner.depth))
        }
        if current == .open { return try parseGroup() }
        return try parseAttributeExpression()
    }

    mutating func parseGroup() throws(SCIMError) -> Parsed {
        guard current == .open else { throw error("expected '('") }
        position += 1
        try enter()
        let inner = try parseOr()
        guard current == .close else { throw error(current.map { "expected ')' but found \(describe($0))" } ?? "missing ')'") }
        position += 1
        nesting -= 1
        return try checked((inner.filter, inner.depth + 1))
    }

    mutating func parseAttributeExpression() throws(SCIMError) -> Parsed {
        guard case .word(let word)? = current else {
            throw error(current.map { "expected an attribute name but found \(describe($0))" } ?? "expected an attribute name")
        }
        position += 1
        let path = try AttributePath(parsing: word)
        if current == .openBracket {
            position += 1
            try enter()
            let inner = try parseOr()
            guard current == .closeBracket else { throw error("missing ']' after the value filter of \(word)") }
            position += 1
            nesting -= 1
            // `emails[type eq "work"].value` is a PATCH path, not a filter; a filter may not continue after ']'.
            return try checked((.valuePath(path, inner.filter), inner.depth + 1))
        }
        guard case .word(let opWord)? = current else { throw error("expected an operator after \(word)") }
        position += 1
        let lowered = opWord.lowercased()
        if lowered == "pr" { return (.present(path), 1) }
        guard let op = Filter.ComparisonOperator(rawValue: lowered) else { throw error("unknown operator '\(opWord)'") }
        guard let valueToken = current else { throw error("expected a value after '\(opWord)'") }
        position += 1
        let value: Filter.FilterValue
        switch valueToken {
        case .string(let string): value = .string(string)
        case .number(let number): value = .number(number)
        case .word(let literal) where literal.lowercased() == "true": value = .bool(true)
        case .word(let literal) where literal.lowercased() == "false": value = .bool(false)
        case .word(let literal) where literal.lowercased() == "null": value = .null
        default: throw error("\(describe(valueToken)) is not a value; strings are written in double quotes")
        }
        return (.compare(path, op, value), 1)
    }

    func tokenize() throws(SCIMError) -> [Token] {
        var tokens: [Token] = []
        let scalars = Array(text.unicodeScalars)
        var index = 0
        while index < scalars.count {
            let scalar = scalars[index]
            switch scalar {
            case " ", "\t", "\n", "\r":
                index += 1
            case "(":
                tokens.append(.open)
                index += 1
            case ")":
                tokens.append(.close)
                index += 1
            case "[":
                tokens.append(.openBracket)
                index += 1
            case "]":
                tokens.append(.closeBracket)
                index += 1
            case "\"":
                var value = String.UnicodeScalarView()
                index += 1
                var closed = false
                while index < scalars.count {
                    let character = scalars[index]
                    if character == "\"" {
                        closed = true
                        index += 1
                        break
                    }
                    if character == "\\" {
                        index += 1
                        guard index < scalars.count else { break }
                        switch scalars[index] {
                        case "n": value.append("\n")
                        case "t": value.append("\t")
                        case "r": value.append("\r")
                        case "b": value.append("\u{08}")
                        case "f": value.append("\u{0C}")
                        case "\"", "\\", "/": value.append(scalars[index])
                        case "u":
                            guard index + 4 < scalars.count,
                                scalars[(index + 1)...(index + 4)].allSatisfy(\.properties.isASCIIHexDigit),
                                let code = UInt32(String(String.UnicodeScalarView(scalars[(index + 1)...(index + 4)])), radix: 16),
                                let unicode = Unicode.Scalar(code)
                            else { throw error("bad \\u escape in a string") }
                            guard code != 0 else { throw error("a string may not contain U+0000") }
                            value.append(unicode)
                            index += 4
                        default:
                            throw error("unknown escape '\\\(scalars[index])' in a string: use \\\", \\\\, \\/, \\b, \\f, \\n, \\r, \\t or \\uXXXX")
                        }
                        index += 1
                        continue
                    }
                    guard character.value >= 0x20, character.value != 0x7F else {
                        throw error("a control character (U+\(String(character.value, radix: 16, uppercase: true))) in a string must be escaped")
                    }
                    value.append(character)
                    index += 1
                }
                guard closed else { throw error("unterminated string") }
                tokens.append(.string(String(value)))
            default:
                var word = String.UnicodeScalarView()
                while index < scalars.count, !" \t\n\r()[]\"".unicodeScalars.contains(scalars[index]) {
                    word.append(scalars[index])
                    index += 1
                }
                let text = String(word)
                if let first = text.first, first.isNumber || first == "-", let number = Double(text) {
                    tokens.append(.number(number))
                } else {
                    tokens.append(.word(text))
                }
            }
        }
        return tokens
    }
}
