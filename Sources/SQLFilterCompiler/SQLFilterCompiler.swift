public import GatewayCore
public import SCIMCore

/// Compiles a SCIM ``Filter`` to a SQL `WHERE` condition over the directory's tables (`members`, `groups`,
/// `group_members`, attributes in a JSON document column), for any engine through its ``SQLDialect``, so filters run
/// as indexed queries: `userName eq "x"` is a point lookup on the normalised key, never a scan.
///
/// The filter has been checked against the schemas (``FilterValidator``) before; what the compiler still refuses is
/// 400 `invalidFilter`. In a search across types, an attribute the type lacks matches nothing.
public struct SQLFilterCompiler: Sendable {
    public let dialect: any SQLDialect
    public let type: ResourceType
    public let schemas: SchemaCatalog
    /// An attribute the type lacks matches nothing instead of being refused (a search across types).
    public let lenient: Bool

    public init(dialect: any SQLDialect, type: ResourceType, schemas: SchemaCatalog = .standard, lenient: Bool = false) {
        self.dialect = dialect
        self.type = type
        self.schemas = schemas
        self.lenient = lenient
    }

    /// The condition and its parameters, numbered after `binds`' values.
    public func compile(_ filter: Filter, binds: inout SQLBinds) throws(SCIMError) -> String {
        try expression(filter, binds: &binds)
    }

    /// The `ORDER BY` key of `sortBy` (without direction or tie-break).
    public func orderKey(_ sortBy: AttributePath) throws(SCIMError) -> String {
        switch try Self.target(sortBy, type: type, schemas: schemas) {
        case .column(let column, let caseExact, _): return caseExact ? column : dialect.fold(column)
        case .json(let path, let caseExact, _):
            let value = dialect.jsonValue("attributes", path)
            return caseExact ? value : dialect.fold(value)
        default: throw SCIMError.invalidValue("sortBy \(sortBy) is not a sortable attribute")
        }
    }

    /// Where an attribute lives.
    enum Target {
        /// A column (or a literal, for `meta.resourceType`).
        case column(String, caseExact: Bool, kind: Kind)
        /// A simple value inside the `attributes` JSON document.
        case json([String], caseExact: Bool, kind: Kind)
        /// A multi-valued attribute stored as a JSON array of objects; the filter applies to its elements.
        case jsonArray(String, definition: AttributeDefinition)
        /// A multi-valued attribute of simple values (a JSON array of strings, say): a comparison tests each value.
        case jsonValues([String], caseExact: Bool, kind: Kind)
        /// A complex single-valued attribute (`name`): a value filter tests its sub-attributes.
        case complex(AttributePath)
        /// An attribute this type does not have (in a search across types): matches nothing.
        case nothing
        /// Group members: rows of `group_members`.
        case groupMembers
        /// A user's groups: rows of `group_members` joined to `groups`.
        case userGroups
    }

    enum Kind {
        case text, boolean, number, dateTime
    }

    /// Columns whose normalised key (``DirectoryKey``) is stored beside them.
    static let keyColumns = ["user_name": "user_name_key", "name": "name_key"]

    func target(_ path: AttributePath) throws(SCIMError) -> Target {
        do {
            return try Self.target(path, type: type, schemas: schemas)
        } catch {
            if lenient { return .nothing }
            throw error
        }
    }

    static func target(_ path: AttributePath, type: ResourceType, schemas: SchemaCatalog) throws(SCIMError) -> Target {
        let schema = path.schema?.lowercased()
        let key = path.key
        func unknown() -> SCIMError { .invalidFilter("attribute \(path) is not supported in filters on \(type.endpoint)") }
        if let schema, let extensionSchema = schemas.extensionSchema(schema, of: type) {
            guard let definition = extensionSchema.attribute(path.name) else { throw unknown() }
            let base = [extensionSchema.id, definition.name]
            if definition.multiValued, definition.type != .complex {
                guard path.subAttribute == nil else { throw unknown() }
                return .jsonValues(base, caseExact: definition.caseExact, kind: kind(definition.type))
            }
            if definition.type == .complex {
                guard let subDefinition = definition.subAttribute(path.subAttribute ?? "value") else { throw unknown() }
                return .json(base + [subDefinition.name], caseExact: subDefinition.caseExact, kind: .text)
            }
            guard path.subAttribute == nil else { throw unknown() }
            return .json(base, caseExact: definition.caseExact, kind: kind(definition.type))
        }
        if let schema, schema != type.schema.lowercased() { throw unknown() }
        switch key {
        case "id": return .column("id", caseExact: true, kind: .text)
        case "externalid": return .column("external_id", caseExact: true, kind: .text)
        case "meta.created": return .column("created_at", caseExact: true, kind: .dateTime)
        case "meta.lastmodified": return .column("updated_at", caseExact: true, kind: .dateTime)
        // Every row of a table is of one type: a literal stands for it.
        case "meta.resourcetype": return .column("'\(type.name)'", caseExact: false, kind: .text)
        default: break
        }
        if type == .user {
            switch key {
            case "username": return .column("user_name", caseExact: false, kind: .text)
            case "active": return .column("active", caseExact: true, kind: .boolean)
            case "groups", "groups.value": return .userGroups
            default: break
            }
            guard let definition = SchemaDefinition.user.attribute(path.name), definition.name != "groups" else { throw unknown() }
            if definition.multiValued { return .jsonArray(definition.name, definition: definition) }
            if path.subAttribute == nil, !definition.subAttributes.isEmpty { return .complex(AttributePath(name: definition.name)) }
            if let sub = path.subAttribute {
                guard let subDefinition = definition.subAttribute(sub) else { throw unknown() }
                return .json([definition.name, subDefinition.name], caseExact: subDefinition.caseExact, kind: kind(subDefinition.type))
            }
            return .json([definition.name], caseExact: definition.caseExact, kind: kind(definition.type))
        }
        switch key {
        case "displayname": return .column("name", caseExact: false, kind: .text)
        case "members", "members.value": return .groupMembers
        default: throw unknown()
        }
    }

    static func kind(_ type: AttributeDefinition.DataType) -> Kind {
        switch type {
        case .boolean: .boolean
        case .integer, .decimal: .number
        case .dateTime: .dateTime
        default: .text
        }
    }

    // MARK: Expressions

    private func expression(_ filter: Filter, binds: inout SQLBinds) throws(SCIMError) -> String {
        switch filter {
        case .and(let lhs, let rhs):
            return "(\(try expression(lhs, binds: &binds)) AND \(try expression(rhs, binds: &binds)))"
        case .or(let lhs, let rhs):
            return "(\(try expression(lhs, binds: &binds)) OR \(try expression(rhs, binds: &binds)))"
        case .not(let inner):
            return dialect.not(try expression(inner, binds: &binds))
        case .present(let path):
            return present(try target(path))
        case .compare(let path, let op, let value):
            return try compare(try target(path), path: path, op: op, value: value, binds: &binds)
        case .valuePath(let path, let inner):
            switch try target(path) {
            case .jsonArray(let attribute, let definition):
                return
                    "EXISTS (SELECT 1 FROM \(dialect.jsonElements("attributes", [attribute], alias: "e")) WHERE \(try element(inner, definition: definition, binds: &binds)))"
            case .groupMembers: return try membersExists(inner, table: .groupMembers, binds: &binds)
            case .userGroups: return try membersExists(inner, table: .userGroups, binds: &binds)
            case .nothing: return dialect.never
            case .complex(let attribute):
                // `name[givenName eq "x"]` is `name.givenName eq "x"`.
                return try expression(inner.qualified(in: attribute), binds: &binds)
            default:
                throw SCIMError.invalidFilter("\(path) is not a multi-valued attribute")
            }
        }
    }

    /// A filter over the elements of a JSON array (`emails[type eq "work"]`): paths name sub-attributes.
    private func element(_ filter: Filter, definition: AttributeDefinition, binds: inout SQLBinds) throws(SCIMError) -> String {
        func sub(_ path: AttributePath) throws(SCIMError) -> (String, AttributeDefinition) {
            let name = path.subAttribute ?? path.name
            let subName = path.subAttribute == nil && path.name.lowercased() == definition.name.lowercased() ? "value" : name
            guard let subDefinition = definition.subAttribute(subName) else {
                throw SCIMError.invalidFilter("\(definition.name) has no sub-attribute \(subName)")
            }
            return (dialect.elementValue("e", key: subDefinition.name), subDefinition)
        }
        switch filter {
        case .and(let lhs, let rhs):
            return "(\(try element(lhs, definition: definition, binds: &binds)) AND \(try element(rhs, definition: definition, binds: &binds)))"
        case .or(let lhs, let rhs):
            return "(\(try element(lhs, definition: definition, binds: &binds)) OR \(try element(rhs, definition: definition, binds: &binds)))"
        case .not(let inner):
            return dialect.not(try element(inner, definition: definition, binds: &binds))
        case .present(let path):
            let (expr, _) = try sub(path)
            return "(\(expr) IS NOT NULL AND \(expr) <> '')"
        case .compare(let path, let op, let value):
            let (expr, subDefinition) = try sub(path)
            return try comparison(expr, caseExact: subDefinition.caseExact, kind: Self.kind(subDefinition.type), op: op, value: value, binds: &binds)
        case .valuePath:
            throw SCIMError.invalidFilter("value filters cannot nest")
        }
    }

    private enum MembershipTable {
        case groupMembers, userGroups
    }

    private func membersExists(_ inner: Filter, table: MembershipTable, binds: inout SQLBinds) throws(SCIMError) -> String {
        func column(_ path: AttributePath) throws(SCIMError) -> (String, Bool) {
            switch (path.subAttribute ?? path.name).lowercased() {
            case "value", "members", "groups": return (table == .groupMembers ? "gm.member_id" : "gm.group_id", true)
            case "display": return (table == .groupMembers ? "m2.user_name" : "g2.name", false)
            default: throw SCIMError.invalidFilter("\(path) is not supported in a members filter")
            }
        }
        func build(_ filter: Filter) throws(SCIMError) -> String {
            switch filter {
            case .and(let lhs, let rhs): return "(\(try build(lhs)) AND \(try build(rhs)))"
            case .or(let lhs, let rhs): return "(\(try build(lhs)) OR \(try build(rhs)))"
            case .not(let inner): return dialect.not(try build(inner))
            case .present(let path):
                let (expr, _) = try column(path)
                return "\(expr) IS NOT NULL"
            case .compare(let path, let op, let value):
                let (expr, caseExact) = try column(path)
                return try comparison(expr, caseExact: caseExact, kind: .text, op: op, value: value, binds: &binds)
            case .valuePath: throw SCIMError.invalidFilter("value filters cannot nest")
            }
        }
        let condition = try build(inner)
        switch table {
        case .groupMembers:
            return "EXISTS (SELECT 1 FROM group_members gm JOIN members m2 ON m2.id = gm.member_id WHERE gm.group_id = groups.id AND \(condition))"
        case .userGroups:
            return "EXISTS (SELECT 1 FROM group_members gm JOIN groups g2 ON g2.id = gm.group_id "
                + "WHERE gm.member_id = members.id AND \(dialect.boolean("g2.managed", is: true)) AND \(condition))"
        }
    }

    private func present(_ target: Target) -> String {
        switch target {
        case .column(let column, _, _): return "(\(column) IS NOT NULL AND \(column) <> '')"
        case .json(let path, _, _):
            let expr = dialect.jsonValue("attributes", path)
            return "(\(expr) IS NOT NULL AND \(expr) <> '')"
        case .jsonArray(let attribute, _): return "(\(dialect.jsonArrayLength("attributes", [attribute])) > 0)"
        case .jsonValues(let path, _, _): return "(\(dialect.jsonArrayLength("attributes", path)) > 0)"
        case .complex(let attribute): return "(\(dialect.jsonValue("attributes", [attribute.name])) IS NOT NULL)"
        case .nothing: return dialect.never
        case .groupMembers: return "EXISTS (SELECT 1 FROM group_members gm WHERE gm.group_id = groups.id)"
        case .userGroups:
            return "EXISTS (SELECT 1 FROM group_members gm JOIN groups g2 ON g2.id = gm.group_id "
                + "WHERE gm.member_id = members.id AND \(dialect.boolean("g2.managed", is: true)))"
        }
    }

    private func compare(
        _ target: Target,
        path: AttributePath,
        op: Filter.ComparisonOperator,
        value: Filter.FilterValue,
        binds: inout SQLBinds
    ) throws(SCIMError) -> String {
        switch target {
        case .column(let column, let caseExact, let kind):
            // Equality on a unique case-insensitive value compares normalised keys: Unicode-aware and indexed.
            if let key = Self.keyColumns[column], op == .eq || op == .ne, case .string(let text) = value {
                return try comparison(key, caseExact: true, kind: .text, op: op, value: .string(DirectoryKey.fold(text)), binds: &binds)
            }
            return try comparison(column, caseExact: caseExact, kind: kind, op: op, value: value, binds: &binds)
        case .json(let path, let caseExact, let kind):
            return try comparison(dialect.jsonValue("attributes", path), caseExact: caseExact, kind: kind, op: op, value: value, binds: &binds)
        case .jsonValues(let path, let caseExact, let kind):
            // Each value of the list: `skills eq "cad"` matches `["gps", "cad"]`; `ne`: no value is equal.
            let test = try comparison(
                dialect.elementValue("e", key: nil),
                caseExact: caseExact,
                kind: kind,
                op: op == .ne ? .eq : op,
                value: value,
                binds: &binds
            )
            return "\(op == .ne ? "NOT " : "")EXISTS (SELECT 1 FROM \(dialect.jsonElements("attributes", path, alias: "e")) WHERE \(test))"
        case .complex(let attribute):
            throw SCIMError.invalidFilter("\(attribute) is complex: filter on one of its sub-attributes, or with \(attribute)[…]")
        case .nothing:
            return dialect.never
        case .jsonArray(_, let definition):
            // `emails eq "x"` and `emails.value eq "x"` test each element's value (or the named sub-attribute);
            // `ne`: no element is equal.
            let inner = Filter.compare(AttributePath(name: definition.name, subAttribute: path.subAttribute), op == .ne ? .eq : op, value)
            let any = try expression(.valuePath(AttributePath(name: definition.name), inner), binds: &binds)
            return op == .ne ? "(NOT \(any))" : any
        case .groupMembers, .userGroups:
            let inner = Filter.compare(AttributePath(name: "value"), op, value)
            return try membersExists(inner, table: target.isGroupMembers ? .groupMembers : .userGroups, binds: &binds)
        }
    }

    /// One comparison, with SCIM's case rules and typed values.
    private func comparison(
        _ expr: String,
        caseExact: Bool,
        kind: Kind,
        op: Filter.ComparisonOperator,
        value: Filter.FilterValue,
        binds: inout SQLBinds
    ) throws(SCIMError) -> String {
        switch (kind, value) {
        case (_, .null):
            switch op {
            case .eq: return "(\(expr) IS NULL)"
            case .ne: return "(\(expr) IS NOT NULL)"
            default: throw SCIMError.invalidFilter("null can only be compared with eq or ne")
            }
        case (.boolean, .bool(let flag)):
            guard op == .eq || op == .ne else { throw SCIMError.invalidFilter("booleans can only be compared with eq or ne") }
            let equal = dialect.boolean(expr, is: flag)
            return op == .eq ? equal : dialect.not(equal)
        case (.boolean, .string(let text)) where ["true", "false"].contains(text.lowercased()):
            return try comparison(expr, caseExact: caseExact, kind: kind, op: op, value: .bool(text.lowercased() == "true"), binds: &binds)
        case (.boolean, _):
            throw SCIMError.invalidFilter("a boolean attribute is compared with true or false")
        case (.number, .number(let number)):
            guard let sql = Self.operators[op] else { throw SCIMError.invalidFilter("\(op.rawValue) applies to strings only") }
            let parameter = binds.add(.real(number))
            let lhs = dialect.number(expr)
            return op == .ne ? "(\(lhs) IS NULL OR \(lhs) <> \(parameter))" : "(\(lhs) \(sql) \(parameter))"
        case (.number, _):
            throw SCIMError.invalidFilter("a numeric attribute is compared with a number")
        case (.text, .string(let text)), (.dateTime, .string(let text)):
            // Case-insensitive: both sides folded alike (the value here, the column by the store's function).
            let (lhs, rhs) = caseExact ? (expr, text) : (dialect.fold(expr), CaseFolding.fold(text))
            switch op {
            case .co, .sw, .ew:
                return dialect.match(lhs, op, rhs, binds: &binds)
            case .ne:
                return "(\(expr) IS NULL OR \(dialect.compareText(lhs, "<>", binds.add(.text(rhs)))))"
            default:
                return dialect.compareText(lhs, Self.operators[op] ?? "=", binds.add(.text(rhs)))
            }
        case (.text, .bool), (.text, .number), (.dateTime, .bool), (.dateTime, .number):
            throw SCIMError.invalidFilter("a string attribute is compared with a string in double quotes")
        }
    }

    static let operators: [Filter.ComparisonOperator: String] = [.eq: "=", .ne: "<>", .gt: ">", .ge: ">=", .lt: "<", .le: "<="]

}

extension SQLFilterCompiler.Target {
    var isGroupMembers: Bool {
        if case .groupMembers = self { return true }
        return false
    }
}
