import HTTPTypes
import SCIMCore
import Testing

@Suite struct FilterTests {
    static let parsed: [(String, Filter)] = [
        (#"userName eq "bjensen""#, .compare(AttributePath(name: "userName"), .eq, .string("bjensen"))),
        (#"USERNAME EQ "x""#, .compare(AttributePath(name: "USERNAME"), .eq, .string("x"))),
        (#"name.familyName co "O'Malley""#, .compare(AttributePath(name: "name", subAttribute: "familyName"), .co, .string("O'Malley"))),
        (#"title pr"#, .present(AttributePath(name: "title"))),
        (#"active eq true"#, .compare(AttributePath(name: "active"), .eq, .bool(true))),
        (
            #"meta.lastModified gt "2011-05-13T04:42:34Z""#,
            .compare(AttributePath(name: "meta", subAttribute: "lastModified"), .gt, .string("2011-05-13T04:42:34Z"))
        ),
        (
            #"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#,
            .compare(
                AttributePath(schema: "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", name: "employeeNumber"),
                .eq,
                .string("701984")
            )
        ),
        (
            #"userName eq "a" and externalId eq "b""#,
            .and(.compare(AttributePath(name: "userName"), .eq, .string("a")), .compare(AttributePath(name: "externalId"), .eq, .string("b")))
        ),
        (
            #"a eq "1" or b eq "2" and c eq "3""#,
            .or(
                .compare(AttributePath(name: "a"), .eq, .string("1")),
                .and(.compare(AttributePath(name: "b"), .eq, .string("2")), .compare(AttributePath(name: "c"), .eq, .string("3")))
            )
        ),
        (
            #"(a eq "1" or b eq "2") and not (c pr)"#,
            .and(
                .or(.compare(AttributePath(name: "a"), .eq, .string("1")), .compare(AttributePath(name: "b"), .eq, .string("2"))),
                .not(.present(AttributePath(name: "c")))
            )
        ),
        (
            #"emails[type eq "work" and value co "@example.com"]"#,
            .valuePath(
                AttributePath(name: "emails"),
                .and(
                    .compare(AttributePath(name: "type"), .eq, .string("work")),
                    .compare(AttributePath(name: "value"), .co, .string("@example.com"))
                )
            )
        ),
        (#"x eq "esc\"aped\\""#, .compare(AttributePath(name: "x"), .eq, .string(#"esc"aped\"#))),
        (#"count ge 10"#, .compare(AttributePath(name: "count"), .ge, .number(10))),
        (#"manager eq null"#, .compare(AttributePath(name: "manager"), .eq, .null)),
    ]

    @Test(arguments: parsed)
    func parsesTheRFCGrammar(text: String, expected: Filter) throws {
        #expect(try Filter(parsing: text) == expected)
    }

    @Test(arguments: [
        "", "userName", #"userName eq"#, #"userName xx "a""#, #"userName eq bjensen"#, #"(userName eq "a""#,
        #"userName eq "a")"#, #"emails[type eq "work""#, #"userName eq "unterminated"#, #"eq "x""#, #"userName eq "a" and"#,
        #"1abc eq "x""#,
    ])
    func rejectsMalformedFilters(text: String) {
        let error = #expect(throws: SCIMError.self) { try Filter(parsing: text) }
        #expect(error?.status == .badRequest)
        #expect(error?.scimType == .invalidFilter)
    }

    @Test func depthCountsParenthesesNotValuePathsAndConnectives() throws {
        let limits = { (depth: Int) in FilterLimits(maxLength: 8192, maxDepth: depth) }
        _ = try Filter(parsing: #"a eq "1""#, limits: limits(1))
        // not ( … and ( … or … ) ): the parentheses of `not` count with it, the inner ones on their own.
        let nested = #"not (a eq "1" and (b pr or c pr))"#
        _ = try Filter(parsing: nested, limits: limits(5))
        #expect(throws: SCIMError.self) { try Filter(parsing: nested, limits: limits(4)) }
        _ = try Filter(parsing: #"emails[type eq "work"]"#, limits: limits(2))
        #expect(throws: SCIMError.self) { try Filter(parsing: #"(((a pr)))"#, limits: limits(3)) }
    }

    /// Parentheses nested far past any limit are refused by the parser itself, without recursing that deep.
    @Test(arguments: ["(", "not (", "emails["])
    func deepNestingIsRefusedNotFollowed(opening: String) {
        let closing = opening == "emails[" ? "]" : ")"
        let text = String(repeating: opening, count: 10_000) + #"a eq "1""# + String(repeating: closing, count: 10_000)
        let error = #expect(throws: SCIMError.self) { try Filter(parsing: text, limits: FilterLimits(maxLength: 1 << 20, maxDepth: 32)) }
        #expect(error?.scimType == .invalidFilter)
        #expect(error?.detail.contains("nests deeper than 32") == true)
    }

    @Test(arguments: [
        #"userName eq "\q""#,
        #"userName eq "a\x41""#,
        "userName eq \"a\u{01}b\"",
        "userName eq \"tab\tinside\"",
        #"userName eq "\u0000""#,
        #"userName eq "\u12""#,
        #"userName eq "\uD800""#,
    ])
    func refusesBadStringsInFilters(text: String) {
        let error = #expect(throws: SCIMError.self) { try Filter(parsing: text) }
        #expect(error?.scimType == .invalidFilter)
    }

    @Test func acceptsTheEscapesOfJSON() throws {
        let filter = try Filter(parsing: #"userName eq "a\"b\\c\/d\n\u00e9""#)
        #expect(filter == .compare(AttributePath(name: "userName"), .eq, .string("a\"b\\c/d\né")))
    }
}
