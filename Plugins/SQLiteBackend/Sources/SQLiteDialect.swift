import SCIMCore
import SQLFilterCompiler

/// SQLite's side of the filter compiler: JSON1 functions, `COLLATE NOCASE`, `LIKE` (which ignores ASCII case) and
/// `instr`/`substr` for exact matches, booleans as 0 and 1.
struct SQLiteDialect: SQLDialect {
    func parameter(_ index: Int) -> String { "?" }

    func jsonPath(_ path: [String]) -> String {
        "'$" + path.map { ".\"\($0)\"" }.joined() + "'"
    }

    func jsonValue(_ column: String, _ path: [String]) -> String { "json_extract(\(column), \(jsonPath(path)))" }

    func jsonElements(_ column: String, _ path: [String], alias: String) -> String { "json_each(\(column), \(jsonPath(path))) \(alias)" }

    func elementValue(_ alias: String, key: String?) -> String {
        key.map { "json_extract(\(alias).value, \(jsonPath([$0])))" } ?? "\(alias).value"
    }

    func jsonArrayLength(_ column: String, _ path: [String]) -> String { "json_array_length(\(column), \(jsonPath(path)))" }

    func compareText(_ lhs: String, _ op: String, _ rhs: String, caseExact: Bool) -> String {
        "(\(lhs) \(op) \(rhs)\(caseExact ? "" : " COLLATE NOCASE"))"
    }

    func match(_ lhs: String, _ op: Filter.ComparisonOperator, _ text: String, caseExact: Bool, binds: inout SQLBinds) -> String {
        guard caseExact else {
            return "(\(lhs) LIKE \(binds.add(.text(SQLFilterCompiler.likePattern(op, text)))) ESCAPE '\\')"
        }
        // LIKE ignores ASCII case: exact matches compare substrings.
        switch op {
        case .co: return "(instr(\(lhs), \(binds.add(.text(text)))) > 0)"
        case .sw: return "(substr(\(lhs), 1, length(\(binds.add(.text(text))))) = \(binds.add(.text(text))))"
        default: return "(substr(\(lhs), -length(\(binds.add(.text(text))))) = \(binds.add(.text(text))))"
        }
    }

    func boolean(_ expr: String, is flag: Bool) -> String { "(\(expr) = \(flag ? 1 : 0))" }

    func number(_ expr: String) -> String { expr }

    var never: String { "0" }

    func not(_ condition: String) -> String { "(NOT COALESCE(\(condition), 0))" }

    func orderKey(_ expr: String, caseExact: Bool) -> String { caseExact ? expr : "\(expr) COLLATE NOCASE" }
}
