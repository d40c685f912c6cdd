import Foundation
import GatewayCore
import SCIMCore
import SQLiteNIO

/// Compiles a SCIM ``Filter`` to a SQL `WHERE` fragment over the directory's tables, so filters run as indexed
/// queries: `userName eq "x"` is a point lookup on `members_user_name`, never a scan that tests every row.
struct SQLFilter {
    var sql: String
    var binds: [SQLiteData]

    /// Where an attribute lives.
    enum Target {
        /// A column; `caseExact: false` compares with `COLLATE NOCASE`.
        case column(String, caseExact: Bool, kind: Kind)
        /// A value inside the stored JSON document.
        case json(String, caseExact: Bool, kind: Kind)
        /// A multi-valued attribute stored as a JSON array of objects; the filter applies to its elements.
        case jsonArray(String, definition: AttributeDefinition)
        /// A multi-valued attribute of simple values (a JSON array of strings, say): a comparison tests each value.
        case jsonValues(String, caseExact: Bool, kind: Kind)
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

    let type: ResourceType

    let schemas: SchemaCatalog

    /// An attribute the type lacks matches nothing instead of being refused (a search across types).
    let lenient: Bool

    static func compile(
        _ filter: Filter,
        type: ResourceType,
        schemas: SchemaCatalog = .standard,
        lenient: Bool = false
    ) throws(SCIMError) -> SQLFilter {
        var binds: [SQLiteData] = []
        let sql = try SQLFilter(sql: "", binds: [], type: type, schemas: schemas, lenient: lenient).expression(filter, binds: &binds)
        return SQLFilter(sql: sql, binds: binds, type: type, schemas: schemas, lenient: lenient)
    }

    private init(sql: String, binds: [SQLiteData], type: ResourceType, schemas: SchemaCatalog, lenient: Bool) {
        self.sql = sql
        self.binds = binds
        self.type = type
        self.schemas = schemas
        self.lenient = lenient
    }

    func target(_ path: AttributePath) throws(SCIMError) -> Target {
        do {
            return try Self.target(path, type: type, schemas: schemas)
        } catch {
            if lenient { return .nothing }
            throw error
        }
    }

    /// The target of `path` for this resource type; `nil` when the server does not store it.
    static func target(_ path: AttributePath, type: ResourceType, schemas: SchemaCatalog = .standard) throws(SCIMError) -> Target {
        let schema = path.schema?.lowercased()
        let key = path.key
        func unknown() -> SCIMError { .invalidFilter("attribute \(path) is not supported in filters on \(type.endpoint)") }
        if let schema, let extensionSchema = schemas.extensionSchema(schema, of: type) {
            guard let definition = extensionSchema.attribute(path.name) else { throw unknown() }
            if definition.multiValued, definition.type != .complex {
                // A list of simple values: the filter tests each one.
                guard path.subAttribute == nil else { throw unknown() }
                return .jsonValues(#"$."\#(extensionSchema.id)"."\#(definition.name)""#, caseExact: definition.caseExact, kind: kind(definition.type))
            }
            if definition.type == .complex {
                let sub = path.subAttribute ?? "value"
                guard let subDefinition = definition.subAttribute(sub) else { throw unknown() }
                return .json(
                    #"$."\#(extensionSchema.id)"."\#(definition.name)"."\#(subDefinition.name)""#,
                    caseExact: subDefinition.caseExact,
                    kind: .text
                )
            }
            guard path.subAttribute == nil else { throw unknown() }
            return .json(#"$."\#(extensionSchema.id)"."\#(definition.name)""#, caseExact: definition.caseExact, kind: kind(definition.type))
        }
        if let schema, schema != type.schema.lowercased() { throw unknown() }
        switch key {
        case "id": return .column("id", caseExact: true, kind: .text)
        case "externalid": return .column("external_id", caseExact: true, kind: .text)
        case "meta.created": return .column("created_at", caseExact: true, kind: .dateTime)
        case "meta.lastmodified": return .column("updated_at", caseExact: true, kind: .dateTime)
        // Every row of the table is of one type: a literal stands for it.
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
                return .json(#"$."\#(definition.name)"."\#(subDefinition.name)""#, caseExact: subDefinition.caseExact, kind: kind(subDefinition.type))
            }
            return .json(#"$."\#(definition.name)""#, caseExact: definition.caseExact, kind: kind(definition.type))
        }
        switch key {
        case "displayname": return .column("name", caseExact: false, kind: .text)
        case "members", "members.value": return .groupMembers
        default: throw unknown()
        }
    }

    /// Columns whose normalised key (``DirectoryKey``) is stored beside them.
    static let keyColumns = ["user_name": "user_name_key", "name": "name_key"]

    static func kind(_ type: AttributeDefinition.DataType) -> Kind {
        switch type {
        case .boolean: .boolean
        case .integer, .decimal: .number
        case .dateTime: .dateTime
        default: .text
        }
    }

    private func expression(_ filter: Filter, binds: inout [SQLiteData]) throws(SCIMError) -> String {
        switch filter {
        case .and(let lhs, let rhs):
            return "(\(try expression(lhs, binds: &binds)) AND \(try expression(rhs, binds: &binds)))"
        case .or(let lhs, let rhs):
            return "(\(try expression(lhs, binds: &binds)) OR \(try expression(rhs, binds: &binds)))"
        case .not(let inner):
            return "(NOT COALESCE(\(try expression(inner, binds: &binds)), 0))"
        case .present(let path):
            return try present(target(path), path: path, binds: &binds)
        case .compare(let path, let op, let value):
            return try compare(target(path), path: path, op: op, value: value, binds: &binds)
        case .valuePath(let path, let inner):
            let target = try target(path)
            guard case .jsonArray(let attribute, let definition) = target else {
                if case .groupMembers = target { return try membersExists(inner, table: .groupMembers, binds: &binds) }
                if case .userGroups = target { return try membersExists(inner, table: .userGroups, binds: &binds) }
                if case .nothing = target { return "0" }
                if case .complex(let attribute) = target {
                    // `name[givenName eq "x"]` is `name.givenName eq "x"`.
                    return try expression(Self.qualify(inner, in: attribute), binds: &binds)
                }
                throw SCIMError.invalidFilter("\(path) is not a multi-valued attribute")
            }
            return
                "EXISTS (SELECT 1 FROM json_each(attributes, '$.\"\(attribute)\"') e WHERE \(try element(inner, definition: definition, binds: &binds)))"
        }
    }

    /// The filter inside `attribute[…]`, with its paths made sub-attributes of `attribute`.
    static func qualify(_ filter: Filter, in attribute: AttributePath) -> Filter {
        func sub(_ path: AttributePath) -> AttributePath {
            let name = path.subAttribute != nil && path.name.lowercased() == attribute.name.lowercased() ? path.subAttribute! : path.name
            return AttributePath(schema: attribute.schema, name: attribute.name, subAttribute: name)
        }
        switch filter {
        case .and(let lhs, let rhs): return .and(qualify(lhs, in: attribute), qualify(rhs, in: attribute))
        case .or(let lhs, let rhs): return .or(qualify(lhs, in: attribute), qualify(rhs, in: attribute))
        case .not(let inner): return .not(qualify(inner, in: attribute))
        case .present(let path): return .present(sub(path))
        case .compare(let path, let op, let value): return .compare(sub(path), op, value)
        case .valuePath: return filter
        }
    }

    /// A filter over the elements of a JSON array (`emails[type eq "work"]`): paths name sub-attributes.
    private func element(_ filter: Filter, definition: AttributeDefinition, binds: inout [SQLiteData]) throws(SCIMError) -> String {
        func sub(_ path: AttributePath) throws(SCIMError) -> (String, AttributeDefinition) {
            let name = path.subAttribute ?? path.name
            let subName = path.subAttribute == nil && path.name.lowercased() == definition.name.lowercased() ? "value" : name
            guard let subDefinition = definition.subAttribute(subName) else {
                throw SCIMError.invalidFilter("\(definition.name) has no sub-attribute \(subName)")
            }
            return ("json_extract(e.value, '$.\"\(subDefinition.name)\"')", subDefinition)
        }
        switch filter {
        case .and(let lhs, let rhs):
            return "(\(try element(lhs, definition: definition, binds: &binds)) AND \(try element(rhs, definition: definition, binds: &binds)))"
        case .or(let lhs, let rhs):
            return "(\(try element(lhs, definition: definition, binds: &binds)) OR \(try element(rhs, definition: definition, binds: &binds)))"
        case .not(let inner):
            return "(NOT COALESCE(\(try element(inner, definition: definition, binds: &binds)), 0))"
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

    private func membersExists(_ inner: Filter, table: MembershipTable, binds: inout [SQLiteData]) throws(SCIMError) -> String {
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
            case .not(let inner): return "(NOT COALESCE(\(try build(inner)), 0))"
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
            return
                "EXISTS (SELECT 1 FROM group_members gm JOIN groups g2 ON g2.id = gm.group_id WHERE gm.member_id = members.id AND g2.managed = 1 AND \(condition))"
        }
    }

    private func present(_ target: Target, path: AttributePath, binds: inout [SQLiteData]) throws(SCIMError) -> String {
        switch target {
        case .column(let column, _, _): return "(\(column) IS NOT NULL AND \(column) <> '')"
        case .json(let jsonPath, _, _):
            let expr = "json_extract(attributes, '\(jsonPath)')"
            return "(\(expr) IS NOT NULL AND \(expr) <> '')"
        case .jsonArray(let attribute, _):
            return "(json_array_length(attributes, '$.\"\(attribute)\"') > 0)"
        case .jsonValues(let jsonPath, _, _):
            return "(json_array_length(attributes, '\(jsonPath)') > 0)"
        case .complex(let attribute):
            return "(json_extract(attributes, '$.\"\(attribute.name)\"') IS NOT NULL)"
        case .nothing:
            return "0"
        case .groupMembers: return "EXISTS (SELECT 1 FROM group_members gm WHERE gm.group_id = groups.id)"
        case .userGroups:
            return "EXISTS (SELECT 1 FROM group_members gm JOIN groups g2 ON g2.id = gm.group_id WHERE gm.member_id = members.id AND g2.managed = 1)"
        }
    }

    private func compare(
        _ target: Target,
        path: AttributePath,
        op: Filter.ComparisonOperator,
        value: Filter.FilterValue,
        binds: inout [SQLiteData]
    ) throws(SCIMError) -> String {
        switch target {
        case .column(let column, let caseExact, let kind):
            // Equality on a unique case-insensitive value compares normalised keys: Unicode-aware and indexed.
            if let key = Self.keyColumns[column], op == .eq || op == .ne, case .string(let text) = value {
                return try comparison(key, caseExact: true, kind: .text, op: op, value: .string(DirectoryKey.fold(text)), binds: &binds)
            }
            return try comparison(column, caseExact: caseExact, kind: kind, op: op, value: value, binds: &binds)
        case .json(let jsonPath, let caseExact, let kind):
            return try comparison("json_extract(attributes, '\(jsonPath)')", caseExact: caseExact, kind: kind, op: op, value: value, binds: &binds)
        case .jsonValues(let jsonPath, let caseExact, let kind):
            // Each value of the list: `skills eq "cad"` matches `["gps", "cad"]`.
            // `ne` on a list: no value is equal.
            let test = try comparison("e.value", caseExact: caseExact, kind: kind, op: op == .ne ? .eq : op, value: value, binds: &binds)
            return "\(op == .ne ? "NOT " : "")EXISTS (SELECT 1 FROM json_each(attributes, '\(jsonPath)') e WHERE \(test))"
        case .complex(let attribute):
            throw SCIMError.invalidFilter("\(attribute) is complex: filter on one of its sub-attributes, or with \(attribute)[…]")
        case .nothing:
            return "0"
        case .jsonArray(_, let definition):
            // `emails eq "x"` and `emails.value eq "x"` test each element's value (or the named sub-attribute).
            // `ne` on a list: no element is equal.
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
        binds: inout [SQLiteData]
    ) throws(SCIMError) -> String {
        let collate = caseExact ? "" : " COLLATE NOCASE"
        let bind: SQLiteData
        switch (kind, value) {
        case (_, .null):
            switch op {
            case .eq: return "(\(expr) IS NULL)"
            case .ne: return "(\(expr) IS NOT NULL)"
            default: throw SCIMError.invalidFilter("null can only be compared with eq or ne")
            }
        case (.boolean, .bool(let flag)):
            guard op == .eq || op == .ne else { throw SCIMError.invalidFilter("booleans can only be compared with eq or ne") }
            return op == .eq ? "(\(expr) = \(flag ? 1 : 0))" : "(COALESCE(\(expr), 0) <> \(flag ? 1 : 0))"
        case (.boolean, .string(let text)) where ["true", "false"].contains(text.lowercased()):
            return try comparison(expr, caseExact: caseExact, kind: kind, op: op, value: .bool(text.lowercased() == "true"), binds: &binds)
        case (.boolean, _):
            throw SCIMError.invalidFilter("a boolean attribute is compared with true or false")
        case (.number, .number(let number)):
            bind = .float(number)
        case (.number, _):
            throw SCIMError.invalidFilter("a numeric attribute is compared with a number")
        case (.text, .string(let text)), (.dateTime, .string(let text)):
            bind = .text(text)
        case (.text, .bool), (.text, .number), (.dateTime, .bool), (.dateTime, .number):
            throw SCIMError.invalidFilter("a string attribute is compared with a string in double quotes")
        }
        binds.append(bind)
        switch op {
        case .eq: return "(\(expr) = ?\(collate))"
        case .ne: return "(\(expr) IS NULL OR \(expr) <> ?\(collate))"
        case .gt: return "(\(expr) > ?\(collate))"
        case .ge: return "(\(expr) >= ?\(collate))"
        case .lt: return "(\(expr) < ?\(collate))"
        case .le: return "(\(expr) <= ?\(collate))"
        case .co, .sw, .ew:
            guard kind == .text || kind == .dateTime, case .text(let text) = bind else {
                throw SCIMError.invalidFilter("\(op.rawValue) applies to strings only")
            }
            binds.removeLast()
            let escaped = text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%")
                .replacingOccurrences(of: "_", with: "\\_")
            let pattern = op == .co ? "%\(escaped)%" : op == .sw ? "\(escaped)%" : "%\(escaped)"
            if caseExact {
                // LIKE ignores ASCII case; GLOB is exact. Match with LIKE, then confirm case with instr/substr.
                binds.append(.text(pattern))
                binds.append(.text(text))
                let exact =
                    op == .co
                    ? "instr(\(expr), ?) > 0"
                    : op == .sw ? "substr(\(expr), 1, length(?1x)) = ?1x" : "substr(\(expr), -length(?1x)) = ?1x"
                let check = exact.replacingOccurrences(of: "?1x", with: "?")
                if op != .co { binds.append(.text(text)) }
                return "(\(expr) LIKE ? ESCAPE '\\' AND \(check))"
            }
            binds.append(.text(pattern))
            return "(\(expr) LIKE ? ESCAPE '\\')"
        }
    }
}

extension SQLFilter.Target {
    var isGroupMembers: Bool {
        if case .groupMembers = self { return true }
        return false
    }
}
