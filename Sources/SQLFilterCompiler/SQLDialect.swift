public import SCIMCore

/// A value bound to a compiled statement's parameter.
public enum SQLValue: Sendable, Hashable {
    case text(String)
    case integer(Int)
    case real(Double)
}

/// The parameters of a statement being compiled, numbered in the order they appear in its text.
public struct SQLBinds: Sendable {
    public private(set) var values: [SQLValue] = []
    let dialect: any SQLDialect

    public init(dialect: any SQLDialect, values: [SQLValue] = []) {
        self.dialect = dialect
        self.values = values
    }

    /// Binds `value` and returns its placeholder (`?` for SQLite, `$3` for PostgreSQL).
    public mutating func add(_ value: SQLValue) -> String {
        values.append(value)
        return dialect.parameter(values.count)
    }
}

/// What differs between SQL engines in a compiled SCIM filter: parameters, reading the JSON document a resource's
/// attributes are stored in, case-insensitive comparison, booleans. Everything else (tables, columns, membership
/// subqueries, the grammar) is the ``SQLFilterCompiler``'s, shared by every engine.
///
/// JSON paths are lists of object keys (`["name", "givenName"]`).
public protocol SQLDialect: Sendable {
    /// The placeholder of the `index`-th (1-based) parameter.
    func parameter(_ index: Int) -> String
    /// The simple value at `path` in the JSON document `column`, as SQL text, number or boolean.
    func jsonValue(_ column: String, _ path: [String]) -> String
    /// A row source (`FROM` item) with one row per element of the JSON array at `path`, called `alias`.
    func jsonElements(_ column: String, _ path: [String], alias: String) -> String
    /// The simple value of an element row: the element itself (`key == nil`) or its member `key`.
    func elementValue(_ alias: String, key: String?) -> String
    /// The number of elements of the JSON array at `path`.
    func jsonArrayLength(_ column: String, _ path: [String]) -> String
    /// Text `expr` folded as ``CaseFolding/fold(_:)`` folds it (the store registers the function): the compiler
    /// folds both sides of a case-insensitive comparison, the bound value in Swift and the column with this.
    func fold(_ expr: String) -> String
    /// `lhs op rhs` (`=`, `<>`, `<`, …) on text, exactly.
    func compareText(_ lhs: String, _ op: String, _ rhs: String) -> String
    /// `lhs` contains, starts with or ends with (`op`: `co`, `sw`, `ew`) `text`, exactly.
    func match(_ lhs: String, _ op: Filter.ComparisonOperator, _ text: String, binds: inout SQLBinds) -> String
    /// `expr` (a boolean column or JSON value) is `flag`; NULL when `expr` is NULL (``not(_:)`` makes that false).
    func boolean(_ expr: String, is flag: Bool) -> String
    /// `expr` read as a number.
    func number(_ expr: String) -> String
    /// The literal that is never true, and a null-safe negation of a condition.
    var never: String { get }
    func not(_ condition: String) -> String
}
