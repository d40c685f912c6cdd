import AttributeMappingStage
import GatewayCore
import GatewayTesting
import Testing

@Suite struct AttributeMappingStageTests {
    static let fulcrum = "urn:example:params:scim:schemas:extension:fulcrum:2.0:User"

    static let catalog = SchemaCatalog(
        userExtensions: [
            SchemaDefinition(
                id: fulcrum,
                name: "FulcrumUser",
                description: "",
                attributes: [AttributeDefinition("crewEmail", description: ""), AttributeDefinition("surname", description: "")]
            )
        ]
    )

    func stage(_ yaml: String) async throws -> AttributeMappingStage {
        let configuration = try ConfigBlock(yaml: yaml, path: "pipeline[3].config").decode(AttributeMappingStage.Configuration.self)
        var context = PluginContext.test()
        context.schemas = Self.catalog
        return try await AttributeMappingStage(configuration: configuration, context: context)
    }

    /// Runs the stage and returns the mapping it handed to the backend, applied to `user` for `organization`.
    func mapped(_ yaml: String, _ user: JSONValue, organization: String = "org-1") async throws -> (JSONValue, MemberFields) {
        let next = RecordingNext()
        _ = try await stage(yaml).handle(
            SCIMRequest(operation: .create(.user), body: user),
            context: .test(principal: .test()),
            next: next.callAsFunction
        )
        let mapping = try #require(next.recorded.first?.context.policy.mapping)
        return try mapping(user, organization)
    }

    @Test func anExtensionAttributeBecomesTheMemberEmailThroughTransforms() async throws {
        let rules = "rules:\n  - { from: \"\(Self.fulcrum):crewEmail\", to: member.email, transform: [trim, lowercase] }"
        let (user, fields) = try await mapped(rules, ["userName": "x", Self.fulcrum: ["crewEmail": "  Crew.Lead@Example.COM "]])
        #expect(fields.email == "crew.lead@example.com")
        #expect(user[attribute: Self.fulcrum]?[attribute: "crewEmail"] == "  Crew.Lead@Example.COM ")
    }

    @Test func templatesMapsDefaultsAndFilteredSources() async throws {
        let rules = """
            rules:
              - { from: [name.givenName, name.familyName], to: displayName, template: "{name.givenName} {name.familyName}" }
              - { from: title, to: member.lastName, map: { Lead: Crew Lead }, default: Unknown }
              - { from: "emails[type eq \\"home\\"].value", to: member.firstName, transform: [uppercase] }
            """
        let user: JSONValue = [
            "userName": "x", "name": ["givenName": "Ada", "familyName": "Lovelace"], "title": "Lead",
            "emails": [["type": "work", "value": "w@example.com"], ["type": "home", "value": "h@example.com"]],
        ]
        let (result, fields) = try await mapped(rules, user)
        #expect(result[attribute: "displayName"] == "Ada Lovelace")
        #expect(fields.lastName == "Crew Lead")
        #expect(fields.firstName == "H@EXAMPLE.COM")
        let (_, untitled) = try await mapped(rules, ["userName": "y"])
        #expect(untitled.lastName == "Unknown")
        #expect(untitled.firstName == nil)
    }

    @Test func aRuleThatReadsAnotherRulesTargetRunsAfterIt() async throws {
        let rules = """
            rules:
              - { from: displayName, to: member.lastName }
              - { from: nickName, to: displayName, transform: [uppercase] }
            """
        let (_, fields) = try await mapped(rules, ["userName": "x", "nickName": "babs", "displayName": "old"])
        #expect(fields.lastName == "BABS")
    }

    @Test func organizationsCanReplaceTheRules() async throws {
        let rules = """
            rules:
              - { from: title, to: member.lastName }
            organizations:
              special: { rules: [ { from: nickName, to: member.lastName } ] }
            """
        let user: JSONValue = ["userName": "x", "title": "T", "nickName": "N"]
        #expect(try await mapped(rules, user).1.lastName == "T")
        #expect(try await mapped(rules, user, organization: "special").1.lastName == "N")
    }

    /// (rules, key path of the error)
    static let invalid: [(String, String)] = [
        ("rules:\n  - { from: title, to: member.nickname }", "rules[0].to"),
        ("rules:\n  - { from: title, to: groups }", "rules[0].to"),
        ("rules:\n  - { from: favouriteColour, to: member.lastName }", "rules[0].from[0]"),
        ("rules:\n  - { from: title, to: member.lastName }\n  - { from: nickName, to: member.lastName }", "rules[1].to"),
        ("rules:\n  - { from: title, to: nickName }\n  - { from: nickName, to: title }", "rules"),
        ("rules:\n  - { from: title, to: nickName, template: \"{nope}\" }", "rules[0].template"),
        ("rules:\n  - { from: title, to: nickName, transform: [reverse] }", "rules[0].transform[0]"),
        ("rules:\n  - { from: title, to: nickName, tranform: [trim] }", "rules[0].tranform"),
    ]

    @Test(arguments: invalid)
    func rulesThatCannotWorkAreRefusedWithTheKeyPath(yaml: String, path: String) async throws {
        let error = await #expect(throws: ConfigurationError.self) { try await stage(yaml) }
        #expect(error?.path.hasSuffix(path) == true, "\(String(describing: error))")
    }
}
