import GatewayCore
import GatewayTesting
import PropertyBased
import Testing

/// The filter → SQL compiler agrees with the in-memory evaluator: random users go into the embedded directory and
/// the in-memory one, and random filters over them select the same users from both.
@Suite struct FilterPropertyTests {
    /// Draws choices from a generated list of numbers, so generated inputs shrink with the list.
    struct Tape {
        let values: [Int]
        var position = 0

        init(_ values: [Int]) { self.values = values }

        mutating func pick(_ count: Int) -> Int {
            defer { position += 1 }
            return values.isEmpty ? 0 : values[position % values.count] % count
        }

        mutating func pick<T>(_ choices: [T]) -> T { choices[pick(choices.count)] }
    }

    static let words = ["alice", "Bob", "carol", "ÉMILE", "émile", "o'neil", "a%b_c", "Surveyor", "surveyor lead", "Z"]
    static let domains = ["example.com", "Example.COM", "home.test"]

    static func users(_ tape: inout Tape) -> [JSONValue] {
        (0..<(3 + tape.pick(6))).map { index in
            var body: [String: JSONValue] = [
                "schemas": [.string(SCIMSchema.user)],
                "userName": .string("\(tape.pick(words))\(index)@\(tape.pick(domains))"),
                "active": .bool(tape.pick(2) == 0),
            ]
            if tape.pick(2) == 0 { body["displayName"] = .string(tape.pick(words)) }
            if tape.pick(2) == 0 { body["title"] = .string(tape.pick(words)) }
            if tape.pick(2) == 0 { body["externalId"] = .string("ext-\(tape.pick(words))") }
            if tape.pick(2) == 0 { body["name"] = ["givenName": .string(tape.pick(words)), "familyName": .string(tape.pick(words))] }
            let emails: [JSONValue] = (0..<tape.pick(3)).map { number in
                [
                    "value": .string("\(tape.pick(words))\(index)-\(number)@\(tape.pick(domains))"),
                    "type": .string(tape.pick(["work", "home", "other"])),
                ]
            }
            if !emails.isEmpty { body["emails"] = .array(emails) }
            return .object(body)
        }
    }

    static let stringAttributes = [
        "userName", "displayName", "title", "externalId", "name.givenName", "name.familyName", "emails.value", "emails.type", "emails",
    ]
    static let values = ["a", "A", "alice", "ÉMILE", "émile", "example.com", "EXAMPLE", "work", "%", "_", "o'n", "Surveyor", "z", ""]

    static func comparison(_ tape: inout Tape, attributes: [String] = stringAttributes) -> String {
        let attribute = tape.pick(attributes + ["active"])
        if attribute == "active" {
            return tape.pick(["active eq true", "active eq false", "active ne true", "active pr"])
        }
        let op = tape.pick(["eq", "ne", "co", "sw", "ew", "pr", "gt", "ge", "lt", "le"])
        if op == "pr" { return "\(attribute) pr" }
        let value = tape.pick(values)
        return "\(attribute) \(op) \"\(value)\""
    }

    static func filter(_ tape: inout Tape, depth: Int = 0) -> String {
        switch depth < 3 ? tape.pick(6) : 0 {
        case 1: return "\(filter(&tape, depth: depth + 1)) and \(filter(&tape, depth: depth + 1))"
        case 2: return "\(filter(&tape, depth: depth + 1)) or \(filter(&tape, depth: depth + 1))"
        case 3: return "not (\(filter(&tape, depth: depth + 1)))"
        case 4: return "(\(filter(&tape, depth: depth + 1)))"
        case 5:
            let inner = comparison(&tape, attributes: ["value", "type"])
            let second = tape.pick(2) == 0 ? " and " + comparison(&tape, attributes: ["value", "type"]) : ""
            return "emails[\(inner)\(second)]"
        default: return comparison(&tape)
        }
    }

    static func userNames(_ fixture: DirectoryFixture, _ users: [JSONValue], _ filters: [String]) async throws -> [[String]] {
        let context = try await fixture.context()
        for user in users { _ = try await fixture.service.create(user, in: .user, context: context) }
        var answers: [[String]] = []
        for filter in filters {
            do {
                var query = SearchQuery(filter: try Filter(parsing: filter))
                query.count = 1000
                let result = try await fixture.service.search(query, in: .user, context: context)
                answers.append(result.resources.compactMap { $0.body[attribute: "userName"]?.stringValue }.sorted())
            } catch let error as SCIMError {
                // A filter both refuse (a comparison the schema does not allow) must be refused alike.
                answers.append(["refused: \(error.scimType?.rawValue ?? "")"])
            }
        }
        return answers
    }

    @Test func theSQLCompilerAndTheEvaluatorSelectTheSameUsers() async throws {
        await propertyCheck(count: 40, input: Gen.int(in: 0...9999).array(of: 40...120), Gen.int(in: 0...9999).array(of: 20...200)) {
            population,
            choices in
            var userTape = Tape(population)
            let users = Self.users(&userTape)
            var filterTape = Tape(choices)
            let filters = (0..<12).map { _ in Self.filter(&filterTape) }
            let sqlite = try await DirectoryFixture.run(.sqlite) { try await Self.userNames($0, users, filters) }
            let memory = try await DirectoryFixture.run(.memory) { try await Self.userNames($0, users, filters) }
            for (index, filter) in filters.enumerated() {
                #expect(sqlite[index] == memory[index], "\(filter)")
            }
        }
    }
}
