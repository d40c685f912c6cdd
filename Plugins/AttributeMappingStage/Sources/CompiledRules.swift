import Foundation
import GatewayCore

/// Rules checked against the schemas and put in dependency order at start-up.
struct CompiledRules: Sendable {
    enum Target: Sendable, Hashable {
        case member(Field)
        case attribute(String)
    }

    enum Field: String, Sendable, Hashable {
        case email, firstName, lastName
    }

    struct Compiled: Sendable {
        var rule: AttributeMappingStage.Rule
        var sources: [SourcePath]
        var target: Target
        var placeholders: [String: SourcePath]
    }

    let rules: [Compiled]
    let engine: PatchEngine

    init(_ rules: [AttributeMappingStage.Rule], path: String, schemas: SchemaCatalog, engine: PatchEngine) throws {
        self.engine = engine
        var compiled: [Compiled] = []
        var writers: [Target: Int] = [:]
        for (index, rule) in rules.enumerated() {
            let at = "\(path)[\(index)]"
            guard !rule.from.isEmpty || rule.template != nil || rule.default != nil else {
                throw ConfigurationError.invalidValue("\(at).from", "a rule needs a source, a template or a default")
            }
            var sources: [SourcePath] = []
            for (sourceIndex, text) in rule.from.enumerated() {
                guard let source = SourcePath(text, schemas: schemas) else {
                    throw ConfigurationError.invalidValue("\(at).from[\(sourceIndex)]", "unknown source attribute '\(text)'")
                }
                sources.append(source)
            }
            var placeholders: [String: SourcePath] = [:]
            if let template = rule.template {
                for name in Self.placeholders(in: template) {
                    guard let source = SourcePath(name, schemas: schemas) else {
                        throw ConfigurationError.invalidValue("\(at).template", "unknown attribute '{\(name)}'")
                    }
                    placeholders[name] = source
                }
            }
            let target: Target
            if rule.to.hasPrefix("member.") {
                guard let field = Field(rawValue: String(rule.to.dropFirst("member.".count))) else {
                    throw ConfigurationError.invalidValue(
                        "\(at).to",
                        "unknown target '\(rule.to)' (member fields: member.email, member.firstName, member.lastName)"
                    )
                }
                target = .member(field)
            } else {
                guard let destination = SourcePath(rule.to, schemas: schemas), destination.writable else {
                    throw ConfigurationError.invalidValue("\(at).to", "unknown target '\(rule.to)'")
                }
                target = .attribute(rule.to)
            }
            if let earlier = writers.updateValue(index, forKey: target) {
                throw ConfigurationError.invalidValue("\(at).to", "\(rule.to) is already written by \(path)[\(earlier)]")
            }
            compiled.append(Compiled(rule: rule, sources: sources, target: target, placeholders: placeholders))
        }
        self.rules = try Self.ordered(compiled, path: path, schemas: schemas)
    }

    static func placeholders(in template: String) -> [String] {
        var names: [String] = []
        var rest = Substring(template)
        while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
            names.append(String(rest[rest.index(after: open)..<close]))
            rest = rest[rest.index(after: close)...]
        }
        return names
    }

    /// Rules whose target another rule reads run first; a cycle is refused.
    static func ordered(_ rules: [Compiled], path: String, schemas: SchemaCatalog) throws -> [Compiled] {
        func reads(_ rule: Compiled) -> [SourcePath] { rule.sources + Array(rule.placeholders.values) }
        func writes(_ rule: Compiled) -> SourcePath? {
            if case .attribute(let text) = rule.target { return SourcePath(text, schemas: schemas) }
            return nil
        }
        var remaining = Array(rules.indices)
        var order: [Int] = []
        while !remaining.isEmpty {
            // A rule is ready when no other remaining rule writes what it reads.
            guard
                let ready = remaining.first(where: { candidate in
                    !remaining.contains { other in
                        other != candidate
                            && writes(rules[other]).map { written in reads(rules[candidate]).contains { $0.overlaps(written) } } == true
                    }
                })
            else {
                let names = remaining.map { "\(path)[\($0)]" }.joined(separator: ", ")
                throw ConfigurationError.invalidValue(path, "these rules read each other's targets in a cycle: \(names)")
            }
            order.append(ready)
            remaining.removeAll { $0 == ready }
        }
        return order.map { rules[$0] }
    }

    /// Applies the rules to a user as it is about to be stored.
    func apply(to user: JSONValue) throws -> (JSONValue, MemberFields) {
        var user = user
        var fields = MemberFields()
        for compiled in rules {
            guard let value = value(of: compiled, in: user) else { continue }
            switch compiled.target {
            case .member(.email): fields.email = value
            case .member(.firstName): fields.firstName = value
            case .member(.lastName): fields.lastName = value
            case .attribute(let path):
                do {
                    user = try engine.apply([PatchOperation(op: .replace, path: path, value: .string(value))], to: user)
                } catch {
                    throw SCIMError.invalidValue("the attribute mapping could not write \(path): \(error.detail)")
                }
            }
        }
        return (user, fields)
    }

    func value(of compiled: Compiled, in user: JSONValue) -> String? {
        let rule = compiled.rule
        var value: String?
        if let template = rule.template {
            var rendered = template
            var any = false
            for (name, source) in compiled.placeholders {
                let text = source.read(user) ?? ""
                if !text.isEmpty { any = true }
                rendered = rendered.replacingOccurrences(of: "{\(name)}", with: text)
            }
            value = any ? rendered.trimmingCharacters(in: .whitespaces) : nil
        } else {
            value = compiled.sources.lazy.compactMap { $0.read(user) }.first { !$0.isEmpty }
        }
        if var text = value {
            for transform in rule.transform {
                switch transform {
                case .trim: text = text.trimmingCharacters(in: .whitespacesAndNewlines)
                case .lowercase: text = text.lowercased()
                case .uppercase: text = text.uppercased()
                }
            }
            value = rule.map[text] ?? text
        }
        if value?.isEmpty ?? true { value = rule.default }
        return value
    }
}
