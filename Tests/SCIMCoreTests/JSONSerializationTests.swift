import SCIMCore
import Testing

@Suite struct JSONSerializationTests {
    static let documents: [String] = [
        #"{"a":1,"b":[true,false,null],"c":{"d":"e"},"f":-2.5,"g":1e3,"h":""}"#,
        #"["\"quoted\" \\ back\/slash \n\t\r\b\f", "\u00e9\u4e2d\ud83d\ude00"]"#,
        #"  {"schemas" : ["urn:ietf:params:scim:api:messages:2.0:PatchOp"] , "Operations":[ ] }  "#,
        "0", "-0", "123456789012", "3.25", "\"plain\"", "[]", "{}",
    ]

    @Test(arguments: documents)
    func parsesAndRoundTrips(text: String) throws {
        let value = try JSONValue(parsing: Array(text.utf8))
        #expect(try JSONValue(parsing: value.serialized()) == value)
    }

    @Test func escapesAndUnicodeSurviveTheRoundTrip() throws {
        let value = try JSONValue(parsing: Array(#"{"k":"é中😀 \"x\" \u0001"}"#.utf8))
        #expect(value[attribute: "k"] == .string("é中😀 \"x\" \u{01}"))
        #expect(String(decoding: value.serialized(), as: UTF8.self) == #"{"k":"é中😀 \"x\" \u0001"}"#)
    }

    @Test func numbersKeepTheirKind() throws {
        #expect(try JSONValue(parsing: Array("42".utf8)) == .integer(42))
        #expect(try JSONValue(parsing: Array("4.5".utf8)) == .number(4.5))
    }

    @Test(arguments: [
        "{junk", "{\"a\":}", "[1,]", "{\"a\" 1}", "tru", "\"unterminated", "01", "1.", "-", "{\"a\":1}x", "\"\u{01}\"",
        #""\ud800""#, "[" + String(repeating: "[", count: 600) + "]", "1e999", "-1e400", #"{"a":1,"a":2}"#, #"{"a":{"b":1,"b":1}}"#,
        #""a\u0000b""#, #"{"k\u0000":1}"#,
    ])
    func malformedTextIsRefused(text: String) {
        #expect(throws: JSONParseError.self) { try JSONValue(parsing: Array(text.utf8)) }
    }

    /// Invalid UTF-8 (a stray continuation byte, an overlong encoding, a truncated sequence, an encoded surrogate,
    /// a byte that never occurs) is refused, not read as U+FFFD.
    @Test(arguments: [[0x80], [0xC0, 0xAF], [0xE2, 0x82], [0xED, 0xA0, 0x80], [0xFF], [0xF4, 0x90, 0x80, 0x80]] as [[UInt8]])
    func invalidUTF8IsRefused(bytes: [UInt8]) {
        let document = Array(#"{"k":"a"#.utf8) + bytes + Array(#"b"}"#.utf8)
        #expect(throws: JSONParseError.self) { try JSONValue(parsing: document) }
    }

    /// SCIM bodies compare keys case-insensitively (RFC 7643 §2.1), so `userName` and `USERNAME` are duplicates there.
    @Test func keysThatDifferOnlyInCaseAreDuplicatesInSCIMBodies() throws {
        let document = Array(#"{"userName":"a","USERNAME":"b"}"#.utf8)
        #expect(throws: JSONParseError.self) { try JSONValue(parsing: document, caseInsensitiveKeys: true) }
        #expect(try JSONValue(parsing: document).objectValue?.count == 2)
    }
}
