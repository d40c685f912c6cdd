import Foundation
import GatewayCore
import GatewayTesting
import SQLFilterCompiler
import SQLiteNIO
import Testing

@testable import SQLiteBackend

@Suite struct SQLFilterTests {
    static let users: [JSONValue] = [
        [
            "userName": "Alice@Example.com", "externalId": "ext-A", "active": true, "displayName": "Alice Adams",
            "name": ["givenName": "Alice", "familyName": "Adams"],
            "emails": [["type": "work", "value": "alice@example.com", "primary": true], ["type": "home", "value": "alice@home.test"]],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": ["employeeNumber": "701984", "department": "Survey"],
        ],
        [
            "userName": "bob@example.com", "externalId": "ext-b", "active": false, "displayName": "Bob Brown",
            "name": ["givenName": "Bob", "familyName": "Brown"],
            "emails": [["type": "work", "value": "bob@example.com"]],
        ],
        ["userName": "carol", "externalId": "EXT-C", "active": true, "title": "Lead"],
    ]

    /// (filter, userNames expected, in creation order)
    static let cases: [(String, [String])] = [
        (#"userName eq "alice@example.com""#, ["Alice@Example.com"]),
        (#"USERNAME Eq "BOB@EXAMPLE.COM""#, ["bob@example.com"]),
        (#"externalId eq "ext-a""#, []),  // externalId is caseExact
        (#"externalId eq "ext-A""#, ["Alice@Example.com"]),
        (#"userName sw "b""#, ["bob@example.com"]),
        (#"userName ew ".com""#, ["Alice@Example.com", "bob@example.com"]),
        (#"userName co "ARO""#, ["carol"]),
        (#"externalId co "EXT""#, ["carol"]),
        (#"externalId sw "ext-""#, ["Alice@Example.com", "bob@example.com"]),
        (#"active eq true"#, ["Alice@Example.com", "carol"]),
        (#"active eq false"#, ["bob@example.com"]),
        (#"title pr"#, ["carol"]),
        (#"not (title pr)"#, ["Alice@Example.com", "bob@example.com"]),
        (#"name.familyName eq "adams""#, ["Alice@Example.com"]),
        (#"emails[type eq "home"]"#, ["Alice@Example.com"]),
        (#"emails[type eq "work" and value co "bob"]"#, ["bob@example.com"]),
        (#"emails.value eq "ALICE@home.test""#, ["Alice@Example.com"]),
        (#"emails co "@example.com""#, ["Alice@Example.com", "bob@example.com"]),
        (#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#, ["Alice@Example.com"]),
        (#"userName eq "carol" or displayName sw "bob""#, ["bob@example.com", "carol"]),
        (#"(active eq true and title pr) or userName eq "bob@example.com""#, ["bob@example.com", "carol"]),
        (#"userName ne "carol""#, ["Alice@Example.com", "bob@example.com"]),
        (#"meta.created gt "2000-01-01T00:00:00Z""#, ["Alice@Example.com", "bob@example.com", "carol"]),
        (#"userName eq "f3a8e2c1-1111-2222-3333-444455556666""#, []),
        (#"name[givenName eq "alice"]"#, ["Alice@Example.com"]),
        (#"name[givenName sw "b" or familyName eq "adams"]"#, ["Alice@Example.com", "bob@example.com"]),
        (#"meta.resourceType eq "User""#, ["Alice@Example.com", "bob@example.com", "carol"]),
        (#"meta.resourceType eq "Group""#, []),
        (#"emails ne "bob@example.com""#, ["Alice@Example.com", "carol"]),
    ]

    static let skills = SchemaDefinition(
        id: "urn:example:fulcrum:2.0:User",
        name: "FulcrumUser",
        description: "Skills",
        attributes: [AttributeDefinition("skills", multiValued: true, description: "Skills")]
    )

    /// A multi-valued attribute of simple values is a set: each comparison tests every value.
    @Test(
        arguments: DirectoryKind.allCases,
        [
            (#"urn:example:fulcrum:2.0:User:skills eq "cad""#, ["gis"]),
            (#"urn:example:fulcrum:2.0:User:skills eq "CAD""#, ["gis"]),
            (#"urn:example:fulcrum:2.0:User:skills sw "g""#, ["gis", "gps"]),
            (#"urn:example:fulcrum:2.0:User:skills co "\"""#, [String]()),
            (#"urn:example:fulcrum:2.0:User:skills ne "cad""#, ["gps", "none"]),
            (#"urn:example:fulcrum:2.0:User:skills pr"#, ["gis", "gps"]),
        ]
    )
    func multiValuedExtensionValuesAreSets(kind: DirectoryKind, example: (String, [String])) async throws {
        let (filter, expected) = example
        try await DirectoryFixture.run(kind) { fixture in
            var context = try await fixture.context()
            context.schemas = SchemaCatalog(userExtensions: [Self.skills])
            for (name, skills) in [("gis", ["gps", "cad"]), ("gps", ["gps"]), ("none", [])] {
                let values = JSONValue.array(skills.map { .string($0) })
                _ = try await fixture.service.create(["userName": .string(name), Self.skills.id: ["skills": values]], in: .user, context: context)
            }
            let result = try await fixture.service.search(SearchQuery(filter: try Filter(parsing: filter)), in: .user, context: context)
            #expect(result.resources.compactMap { $0.body[attribute: "userName"]?.stringValue } == expected)
        }
    }

    /// The table runs on the SQL compiler and on the in-memory evaluator: both read the grammar the same way.
    @Test(arguments: DirectoryKind.allCases, cases)
    func filtersSelectTheRightUsers(kind: DirectoryKind, example: (String, [String])) async throws {
        let (filter, expected) = example
        try await DirectoryFixture.run(kind) { fixture in
            let context = try await fixture.context()
            for user in Self.users { _ = try await fixture.service.create(user, in: .user, context: context) }
            let result = try await fixture.service.search(SearchQuery(filter: try Filter(parsing: filter)), in: .user, context: context)
            #expect(result.resources.compactMap { $0.body[attribute: "userName"]?.stringValue } == expected)
            #expect(result.totalResults == expected.count)
        }
    }

    @Test(
        arguments: DirectoryKind.allCases,
        [
            #"nickName gt 5"#, #"active eq "maybe""#, #"unknownAttr eq "x""#, #"userName gt true"#, #"active co "t""#,
            #"urn:example:custom:Thing:x eq "1""#, #"name eq "x""#, #"emails[value gt 5]"#,
        ]
    )
    func unsupportedFiltersAreInvalidFilter(kind: DirectoryKind, filter: String) async throws {
        try await DirectoryFixture.run(kind) { fixture in
            let context = try await fixture.context()
            let error = await #expect(throws: SCIMError.self) {
                try await fixture.service.search(SearchQuery(filter: try Filter(parsing: filter)), in: .user, context: context)
            }
            #expect(error?.scimType == .invalidFilter)
        }
    }

    /// A `userName eq` filter must stay a point lookup on the unique index, whatever the store's size.
    @Test(arguments: [#"userName eq "x""#, #"externalId eq "x""#])
    func equalityFiltersUseAnIndex(filter: String) async throws {
        try await DirectoryFixture.run { fixture in
            var binds = SQLBinds(dialect: SQLiteDialect(), values: [.text("org")])
            let condition = try SQLFilterCompiler(dialect: SQLiteDialect(), type: .user).compile(try Filter(parsing: filter), binds: &binds)
            let sqlite = try #require(fixture.sqlite)
            let plan = try await sqlite.store.read { connection in
                try await connection.query(
                    "EXPLAIN QUERY PLAN SELECT * FROM members WHERE organization_id = ? AND managed = 1 AND \(condition)",
                    binds.values.map(SQLiteData.init)
                )
            }
            let details = plan.compactMap { $0.column("detail")?.string }.joined(separator: " | ")
            #expect(details.contains("USING INDEX members_"), "\(details)")
            #expect(!details.contains("SCAN members"), "\(details)")
        }
    }

    @Test func groupsFilterByDisplayNameCaseInsensitivelyAndByMember() async throws {
        try await DirectoryFixture.run { fixture in
            let context = try await fixture.context()
            let user = try await fixture.service.create(Self.users[2], in: .user, context: context)
            _ = try await fixture.service.create(
                ["displayName": "Field Crew", "members": [["value": .string(user.id)]]],
                in: .group,
                context: context
            )
            _ = try await fixture.service.create(["displayName": "Office"], in: .group, context: context)
            let byName = try await fixture.service.search(
                SearchQuery(filter: try Filter(parsing: #"displayName eq "FIELD CREW""#)),
                in: .group,
                context: context
            )
            #expect(byName.resources.map { $0.body[attribute: "displayName"] } == ["Field Crew"])
            let byMember = try await fixture.service.search(
                SearchQuery(filter: try Filter(parsing: "members[value eq \"\(user.id)\"]")),
                in: .group,
                context: context
            )
            #expect(byMember.totalResults == 1)
        }
    }
}
