import SCIMCore
import SQLFilterCompiler

/// SQLite's side of the filter compiler: JSON1 functions, `scim_fold` (``CaseFolding``, registered on every
/// connection) for case-insensitive text, `instr`/`substr` for substrings, booleans as 0 and 1.
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

    func fold(_ expr: String) -> String { "\(SQLiteStore.foldFunction)(\(expr))" }

    func compareText(_ lhs: String, _ op: String, _ rhs: String) -> String { "(\(lhs) \(op) \(rhs))" }

    func match(_ lhs: String, _ op: Filter.ComparisonOperator, _ text: String, binds: inout SQLBinds) -> String {
        // Substrings, not LIKE: LIKE ignores ASCII case, and the values compared here are exact (or folded both).
        switch op {
        case .co: return "(instr(\(lhs), \(binds.add(.text(text)))) > 0)"
        case .sw: return "(substr(\(lhs), 1, length(\(binds.add(.text(text))))) = \(binds.add(.text(text))))"
        // From the character after the last length(text) ones: '' for an empty text, so `ew ""` is true as `sw ""` is.
        default: return "(substr(\(lhs), length(\(lhs)) - length(\(binds.add(.text(text)))) + 1) = \(binds.add(.text(text))))"
        }
    }

    func boolean(_ expr: String, is flag: Bool) -> String { "(\(expr) = \(flag ? 1 : 0))" }

    func number(_ expr: String) -> String { expr }

    var never: String { "0" }

    func not(_ condition: String) -> String { "(NOT COALESCE(\(condition), 0))" }

}
