import Foundation
import GatewayCore
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Synchronization
import Testing

/// Malformed and hostile requests against the sample gateway, by kind (issue "Hostile and sloppy input"): each
/// is a 4xx with an RFC 7644 §3.12 body naming the problem, and the store is exactly as before.
@Suite struct HostileInputTests {
    static let user = SCIMSchema.user
    static let group = SCIMSchema.group
    static let patchOp = SCIMSchema.patchOp

    /// A hostile request: method, path (`{user}` and `{group}` stand for the fixture's ids), raw body, and
    /// the Content-Type sent (nil: none).
    struct Case: Sendable, CustomTestStringConvertible {
        var method: HTTPRequest.Method
        var path: String
        var body: [UInt8]
        var contentType: String? = "application/scim+json"
        var status: Int = 400
        var scimType: String?
        /// Words the detail must contain.
        var detail: String = ""
        var testDescription: String { "\(method) \(path) \(String(decoding: body.prefix(80), as: UTF8.self))" }

        init(
            _ method: HTTPRequest.Method,
            _ path: String,
            _ body: String,
            contentType: String? = "application/scim+json",
            status: Int = 400,
            scimType: String?,
            detail: String = ""
        ) {
            self.init(method, path, bytes: Array(body.utf8), contentType: contentType, status: status, scimType: scimType, detail: detail)
        }

        init(
            _ method: HTTPRequest.Method,
            _ path: String,
            bytes: [UInt8],
            contentType: String? = "application/scim+json",
            status: Int = 400,
            scimType: String?,
            detail: String = ""
        ) {
            self.method = method
            self.path = path
            self.body = bytes
            self.contentType = contentType
            self.status = status
            self.scimType = scimType
            self.detail = detail
        }
    }

    /// A user body whose `userName` value is `bytes`, raw.
    static func userNamed(_ bytes: [UInt8]) -> [UInt8] {
        Array(#"{"schemas":["\#(user)"],"userName":""#.utf8) + bytes + Array(#""}"#.utf8)
    }

    static func patch(_ operations: String) -> String { #"{"schemas":["\#(patchOp)"],"Operations":[\#(operations)]}"# }

    /// Ten thousand parentheses around one comparison, as it sits inside a JSON string.
    static let nested = nested(10_000)

    static func nested(_ depth: Int) -> String {
        String(repeating: "(", count: depth) + #"type eq \"work\""# + String(repeating: ")", count: depth)
    }

    /// 1. JSON text.
    static let json: [Case] = [
        Case(.post, "/Users", bytes: userNamed([0x61, 0x80, 0x62]), scimType: "invalidSyntax", detail: "UTF-8"),
        Case(.post, "/Users", bytes: userNamed([0x61, 0xC0, 0xAF]), scimType: "invalidSyntax", detail: "UTF-8"),
        Case(.post, "/Users", bytes: userNamed([0x61, 0xE2, 0x82]), scimType: "invalidSyntax", detail: "UTF-8"),
        Case(.post, "/Users", bytes: userNamed([0xED, 0xA0, 0x80]), scimType: "invalidSyntax", detail: "UTF-8"),
        Case(
            .post,
            "/Users",
            #"{"schemas":["\#(user)"],"userName":"a@x.test","userName":"root@x.test"}"#,
            scimType: "invalidSyntax",
            detail: "userName"
        ),
        Case(
            .post,
            "/Users",
            #"{"schemas":["\#(user)"],"userName":"a@x.test","USERNAME":"root@x.test"}"#,
            scimType: "invalidSyntax",
            detail: "USERNAME"
        ),
        Case(
            .post,
            "/Users",
            #"{"schemas":["\#(user)"],"schemas":["\#(group)"],"userName":"a@x.test"}"#,
            scimType: "invalidSyntax",
            detail: "schemas"
        ),
        Case(.patch, "/Users/{user}", patch(#"{"op":"add","op":"remove","path":"title","value":"x"}"#), scimType: "invalidSyntax", detail: "op"),
        Case(.post, "/Users", #"{"schemas":["\#(user)"],"userName":"a\u0000@x.test"}"#, scimType: "invalidSyntax", detail: "U+0000"),
        Case(.post, "/Users", #"{"schemas":["\#(user)"],"userName":"a@x.test"} trailing"#, scimType: "invalidSyntax"),
    ]

    /// 2. `schemas`.
    static let schemas: [Case] = [
        Case(.post, "/Users", #"{"userName":"s1@x.test"}"#, scimType: "invalidSyntax", detail: "schemas is required"),
        Case(.post, "/Users", #"{"schemas":[],"userName":"s1@x.test"}"#, scimType: "invalidSyntax", detail: "non-empty list"),
        Case(.post, "/Users", #"{"schemas":null,"userName":"s1@x.test"}"#, scimType: "invalidSyntax", detail: "schemas is required"),
        Case(
            .post,
            "/Users",
            #"{"schemas":["urn:example:unknown"],"userName":"s1@x.test"}"#,
            scimType: "invalidValue",
            detail: "must list the User schema"
        ),
        Case(.post, "/Users", #"{"schemas":["\#(user)","not a urn"],"userName":"s1@x.test"}"#, scimType: "invalidValue", detail: "not a schema URN"),
        Case(.post, "/Users", #"{"schemas":["\#(group)"],"userName":"s1@x.test"}"#, scimType: "invalidValue", detail: "is the Group schema"),
        Case(.post, "/Groups", #"{"schemas":["\#(user)"],"displayName":"G"}"#, scimType: "invalidValue", detail: "is the User schema"),
        Case(
            .post,
            "/Users",
            #"{"schemas":["\#(user)"],"userName":"s1@x.test","\#(SCIMSchema.enterpriseUser)":{"department":"x"}}"#,
            scimType: "invalidValue",
            detail: "not listed in schemas"
        ),
        Case(
            .post,
            "/Users",
            #"{"schemas":["\#(user)","urn:example:ext"],"userName":"s1@x.test","urn:example:ext":{"a":"b"}}"#,
            scimType: "invalidValue",
            detail: "not an extension"
        ),
        Case(.put, "/Users/{user}", #"{"userName":"alice@example.com"}"#, scimType: "invalidSyntax", detail: "schemas is required"),
        Case(.patch, "/Users/{user}", #"{"Operations":[{"op":"replace","path":"title","value":"x"}]}"#, scimType: "invalidSyntax", detail: "PatchOp"),
        Case(
            .patch,
            "/Users/{user}",
            #"{"schemas":["\#(user)"],"Operations":[{"op":"replace","path":"title","value":"x"}]}"#,
            scimType: "invalidSyntax",
            detail: "PatchOp"
        ),
    ]

    /// 3. Content-Type.
    static let contentTypes: [Case] = ["text/plain", "application/xml", "multipart/form-data; boundary=x", "garbage", nil].map {
        Case(
            .post,
            "/Users",
            #"{"schemas":["\#(user)"],"userName":"ct@x.test"}"#,
            contentType: $0,
            status: 415,
            scimType: nil,
            detail: "application/scim+json"
        )
    }

    /// 4–5. Types of attributes not stored, and sizes.
    static let attributes: [Case] = [
        Case(
            .post,
            "/Users",
            #"{"schemas":["\#(user)"],"userName":"t@x.test","phoneNumbers":"x"}"#,
            scimType: "invalidValue",
            detail: "phoneNumbers"
        ),
        Case(.post, "/Users", #"{"schemas":["\#(user)"],"userName":"t@x.test","password":5}"#, scimType: "invalidValue", detail: "password"),
        Case(
            .post,
            "/Users",
            #"{"schemas":["\#(user)"],"userName":"t@x.test","addresses":[{"primary":"yes"}]}"#,
            scimType: "invalidValue",
            detail: "addresses.primary"
        ),
        Case(.post, "/Users", #"{"schemas":["\#(user)"],"userName":"t@x.test","ims":[{"value":1}]}"#, scimType: "invalidValue", detail: "ims.value"),
        Case(.post, "/Users", #"{"schemas":["\#(user)"],"userName":"t@x.test","photos":"x"}"#, scimType: "invalidValue", detail: "photos"),
        Case(
            .post,
            "/Users",
            #"{"schemas":["\#(user)"],"userName":"t@x.test","entitlements":[{"value":true}]}"#,
            scimType: "invalidValue",
            detail: "entitlements.value"
        ),
        Case(
            .post,
            "/Users",
            #"{"schemas":["\#(user)"],"userName":"t@x.test","x509Certificates":[1]}"#,
            scimType: "invalidValue",
            detail: "x509Certificates"
        ),
        Case(.post, "/Users", #"{"schemas":["\#(user)"],"userName":"t@x.test","profileUrl":5}"#, scimType: "invalidValue", detail: "profileUrl"),
        Case(.patch, "/Users/{user}", patch(#"{"op":"add","path":"phoneNumbers","value":"x"}"#), scimType: "invalidValue", detail: "phoneNumbers"),
        Case(.patch, "/Users/{user}", patch(#"{"op":"replace","value":{"password":7}}"#), scimType: "invalidValue", detail: "password"),
        Case(
            .post,
            "/Users",
            #"{"schemas":["\#(user)"],"userName":"\#(String(repeating: "u", count: 100_000))"}"#,
            scimType: "invalidValue",
            detail: "userName is longer than 512"
        ),
        Case(
            .patch,
            "/Users/{user}",
            patch(#"{"op":"replace","path":"title","value":"\#(String(repeating: "t", count: 9000))"}"#),
            scimType: "invalidValue",
            detail: "title is longer than 8192"
        ),
        Case(
            .patch,
            "/Groups/{group}",
            patch(#"{"op":"replace","path":"displayName","value":"\#(String(repeating: "g", count: 600))"}"#),
            scimType: "invalidValue",
            detail: "displayName is longer than 512"
        ),
    ]

    /// 6–7, 10. Paths and filters, the ten-thousand-parentheses PATCH of the review among them.
    static let pathsAndFilters: [Case] = [
        Case(.patch, "/Users/{user}", patch(#"{"op":"replace","path":"name.givenName.x","value":"A"}"#), scimType: "invalidPath"),
        Case(.patch, "/Users/{user}", patch(#"{"op":"replace","path":"emails[type eq \"work\"].value.x","value":"A"}"#), scimType: "invalidPath"),
        Case(
            .patch,
            "/Users/{user}",
            patch(#"{"op":"replace","path":"emails[value eq \"\\q\"].value","value":"A"}"#),
            scimType: "invalidPath",
            detail: "escape"
        ),
        Case(
            .patch,
            "/Users/{user}",
            patch(#"{"op":"replace","path":"emails[\#(nested)].value","value":"a@x.test"}"#),
            scimType: "invalidPath",
            detail: "longer than"
        ),
        Case(.patch, "/Groups/{group}", patch(#"{"op":"remove","path":"members[\#(nested)]"}"#), scimType: "invalidPath", detail: "longer than"),
        Case(
            .patch,
            "/Users/{user}",
            patch(#"{"op":"replace","path":"emails[\#(nested(100))].value","value":"a@x.test"}"#),
            scimType: "invalidPath",
            detail: "nests deeper"
        ),
        Case(.get, #"/Users?filter=userName+eq+%22%5Cq%22"#, "", contentType: nil, scimType: "invalidFilter", detail: "escape"),
        Case(.get, #"/Users?filter=userName+eq+%22a%01b%22"#, "", contentType: nil, scimType: "invalidFilter", detail: "control character"),
        Case(.post, "/.search", #"{"schemas":["\#(SCIMSchema.searchRequest)"],"filter":"\#(nested)"}"#, scimType: "invalidFilter"),
        Case(
            .get,
            "/Users?filter=" + String(repeating: "%28", count: 5000) + "userName+pr" + String(repeating: "%29", count: 5000),
            "",
            contentType: nil,
            scimType: "invalidFilter"
        ),
    ]

    /// The store as SCIM shows it: every user and group, versions included.
    static func snapshot(_ gateway: SampleGateway) async throws -> String {
        var text = ""
        for path in ["/scim/v2/Users?count=1000", "/scim/v2/Groups?count=1000"] {
            text += try await gateway.client.execute(uri: path, method: .get, headers: headers(gateway.token, contentType: nil)) {
                #expect($0.status == .ok)
                return String(buffer: $0.body)
            }
        }
        let members = try await gateway.directory.listMembers(organizationID: try await gateway.directory.listOrganizations()[0].id)
        return text + members.map { "\($0.email) \($0.firstName ?? "") \($0.lastName ?? "") \($0.role)" }.joined(separator: "\n")
    }

    static func headers(_ token: String, contentType: String?) -> HTTPFields {
        var fields: HTTPFields = [.authorization: "Bearer \(token)"]
        if let contentType { fields[.contentType] = contentType }
        return fields
    }

    /// Creates Alice and a group holding her; returns their ids.
    static func seed(_ gateway: SampleGateway) async throws -> (user: String, group: String) {
        let headers = headers(gateway.token, contentType: "application/scim+json")
        let alice = try await gateway.client.execute(
            uri: "/scim/v2/Users",
            method: .post,
            headers: headers,
            body: ByteBuffer(string: #"{"schemas":["\#(user)"],"userName":"alice@example.com","name":{"givenName":"Alice"}}"#)
        ) { response in
            #expect(response.status == .created)
            return try #require(try SampleConfigurationTests.decode(response)[attribute: "id"]?.stringValue)
        }
        let group = try await gateway.client.execute(
            uri: "/scim/v2/Groups",
            method: .post,
            headers: headers,
            body: ByteBuffer(string: #"{"schemas":["\#(group)"],"displayName":"Crew","members":[{"value":"\#(alice)"}]}"#)
        ) { response in
            #expect(response.status == .created)
            return try #require(try SampleConfigurationTests.decode(response)[attribute: "id"]?.stringValue)
        }
        return (alice, group)
    }

    /// Sends every case to one gateway and checks the answer and that nothing changed.
    func expectRefused(_ cases: [Case], editing edit: @escaping (String) -> String = { $0 }) async throws {
        try await withSampleGateway(editing: edit) { gateway in
            let (user, group) = try await Self.seed(gateway)
            let before = try await Self.snapshot(gateway)
            for item in cases {
                let path = "/scim/v2" + item.path.replacingOccurrences(of: "{user}", with: user).replacingOccurrences(of: "{group}", with: group)
                try await gateway.client.execute(
                    uri: path,
                    method: item.method,
                    headers: Self.headers(gateway.token, contentType: item.contentType),
                    body: item.body.isEmpty ? nil : ByteBuffer(bytes: item.body)
                ) { response in
                    let comment = Comment(rawValue: item.testDescription + " → " + String(buffer: response.body).prefix(300))
                    #expect(Int(response.status.code) == item.status, comment)
                    #expect(response.headers[.contentType] == "application/scim+json", comment)
                    let body = try SampleConfigurationTests.decode(response)
                    #expect(body[attribute: "schemas"] == [.string(SCIMSchema.error)], comment)
                    #expect(body[attribute: "status"] == .string(String(item.status)), comment)
                    #expect(body[attribute: "scimType"]?.stringValue == item.scimType, comment)
                    #expect(item.detail.isEmpty || body[attribute: "detail"]?.stringValue?.contains(item.detail) == true, comment)
                }
            }
            #expect(try await Self.snapshot(gateway) == before)
            // The process still serves: the nested path did not take it down.
            try await gateway.client.execute(uri: "/scim/v2/Users/\(user)", method: .get, headers: Self.headers(gateway.token, contentType: nil)) {
                #expect($0.status == .ok)
            }
        }
    }

    @Test func malformedJSONText() async throws { try await expectRefused(Self.json) }
    @Test func missingOrWrongSchemas() async throws { try await expectRefused(Self.schemas) }
    @Test func contentTypesOtherThanJSON() async throws { try await expectRefused(Self.contentTypes) }
    @Test func attributeTypesAndSizes() async throws { try await expectRefused(Self.attributes) }
    @Test func deepPathsBadEscapesAndNestedFilters() async throws { try await expectRefused(Self.pathsAndFilters) }

    /// 9, 11. What Okta and Entra really send is served: a no-path password replace is a no-op, a group replace
    /// carrying the group's own id applies the rest, and a PATCH of attributes not stored is a successful no-op.
    @Test func oktaAndEntraLeniency() async throws {
        try await withSampleGateway { gateway in
            let (user, group) = try await Self.seed(gateway)
            let headers = Self.headers(gateway.token, contentType: "application/scim+json")
            let before = try await Self.snapshot(gateway)
            for (path, operations) in [
                ("/scim/v2/Users/\(user)", #"{"op":"replace","value":{"password":"Okta-Sync-1!"}}"#),
                (
                    "/scim/v2/Users/\(user)",
                    #"{"op":"Add","path":"phoneNumbers[type eq \"work\"].value","value":"+1 555 0100"},{"op":"Replace","path":"addresses[type eq \"work\"].locality","value":"Springfield"}"#
                ),
                ("/scim/v2/Users/\(user)", #"{"op":"replace","value":{"id":"\#(user)","phoneNumbers":[{"type":"mobile","value":"+1 555 0101"}]}}"#),
            ] {
                try await gateway.client.execute(uri: path, method: .patch, headers: headers, body: ByteBuffer(string: Self.patch(operations))) {
                    response in
                    #expect(response.status == .ok, "\(operations): \(String(buffer: response.body))")
                    #expect(!String(buffer: response.body).contains("Okta-Sync-1!"))
                }
            }
            #expect(try await Self.snapshot(gateway) == before)

            let rename = #"{"op":"replace","value":{"id":"\#(group)","displayName":"Surveyors","members":[]}}"#
            try await gateway.client.execute(
                uri: "/scim/v2/Groups/\(group)",
                method: .patch,
                headers: headers,
                body: ByteBuffer(string: Self.patch(rename))
            ) {
                #expect($0.status == .noContent, "\(String(buffer: $0.body))")
            }
            try await gateway.client.execute(uri: "/scim/v2/Groups/\(group)", method: .get, headers: headers) { response in
                let body = try SampleConfigurationTests.decode(response)
                #expect(body[attribute: "displayName"] == "Surveyors")
                #expect(body[attribute: "members"] == nil || body[attribute: "members"] == [])
            }
            let other = #"{"op":"replace","value":{"id":"someone-else","displayName":"X"}}"#
            try await gateway.client.execute(
                uri: "/scim/v2/Groups/\(group)",
                method: .patch,
                headers: headers,
                body: ByteBuffer(string: Self.patch(other))
            ) { response in
                #expect(response.status == .badRequest)
                let body = try SampleConfigurationTests.decode(response)
                #expect(body[attribute: "scimType"] == "mutability")
            }
        }
    }

    /// 12. `password` is write-only: with `unsupportedAttributes: store` the other unstored attributes are kept,
    /// the password is not, in no file of the store and in no answer.
    @Test func aPasswordIsNeverStoredOrReturned() async throws {
        let store: (String) -> String = { $0.replacingOccurrences(of: "unsupportedAttributes: ignore", with: "unsupportedAttributes: store") }
        try await withSampleGateway(editing: store) { gateway in
            let headers = Self.headers(gateway.token, contentType: "application/scim+json")
            let secret = "Plain-Text-Secret-42"
            let created =
                #"{"schemas":["\#(Self.user)"],"userName":"pw@x.test","password":"\#(secret)","phoneNumbers":[{"type":"work","value":"+1 555"}]}"#
            let id = try await gateway.client.execute(uri: "/scim/v2/Users", method: .post, headers: headers, body: ByteBuffer(string: created)) {
                response in
                #expect(response.status == .created)
                #expect(!String(buffer: response.body).contains(secret))
                return try #require(try SampleConfigurationTests.decode(response)[attribute: "id"]?.stringValue)
            }
            let patch = Self.patch(#"{"op":"replace","path":"password","value":"\#(secret)-2"},{"op":"replace","value":{"password":"\#(secret)-3"}}"#)
            try await gateway.client.execute(uri: "/scim/v2/Users/\(id)", method: .patch, headers: headers, body: ByteBuffer(string: patch)) {
                #expect($0.status == .ok)
            }
            try await gateway.client.execute(uri: "/scim/v2/Users/\(id)", method: .get, headers: headers) { response in
                let body = try SampleConfigurationTests.decode(response)
                #expect(body[attribute: "password"] == nil)
                #expect(body[attribute: "phoneNumbers"] != nil)
            }
            let files = FileManager.default.enumerator(at: gateway.folder, includingPropertiesForKeys: nil)?.compactMap { $0 as? URL } ?? []
            #expect(!files.isEmpty)
            for file in files where (try? file.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true {
                let data = try Data(contentsOf: file)
                #expect(data.range(of: Data(secret.utf8)) == nil, "\(file.lastPathComponent) holds the password")
            }
        }
    }
}

/// 8, 13. The HTTP edge over a real socket: requests no client library writes, and connections that never finish.
@Suite struct HostileConnectionTests {
    @Test func noHostAndABrokenChunkAre400AndTheHostIsNeverReflected() async throws {
        try await withSampleGateway(setup: .live) { gateway in
            let port = try #require(gateway.client.port)
            _ = try await HostileInputTests.seed(gateway)
            let noHost = try await RawConnection.open(port: port).send(
                "GET /scim/v2/Users HTTP/1.1\r\nAuthorization: Bearer \(gateway.token)\r\nConnection: close\r\n\r\n"
            )
            #expect(statusCode(noHost) == 400, "\(noHost)")
            #expect(noHost.contains("Host"))

            let brokenChunk = try await RawConnection.open(port: port).send(
                "POST /scim/v2/Users HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer \(gateway.token)\r\n"
                    + "Content-Type: application/scim+json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nZZ\r\n{\"userName\":\r\n0\r\n\r\n"
            )
            #expect(statusCode(brokenChunk) == 400, "\(brokenChunk)")

            let reflected = try await RawConnection.open(port: port).send(
                "GET /scim/v2/Users HTTP/1.1\r\nHost: evil.example\r\nAuthorization: Bearer \(gateway.token)\r\nConnection: close\r\n\r\n"
            )
            #expect(statusCode(reflected) == 200, "\(reflected)")
            #expect(!reflected.contains("evil.example"))
            #expect(reflected.contains("http://127.0.0.1:\(port)/scim/v2/Users/"))
        }
    }

    /// A connection that sends half its headers, or nothing, is closed after `server.idleTimeout`.
    @Test(.timeLimit(.minutes(1))) func idleAndHalfSentConnectionsAreClosed() async throws {
        let edit: (String) -> String = { $0.replacingOccurrences(of: "idleTimeout: 60 ", with: "idleTimeout: 1 ") }
        try await withSampleGateway(editing: edit, setup: .live) { gateway in
            let port = try #require(gateway.client.port)
            let silent = try await RawConnection.open(port: port).send("")
            #expect(silent.isEmpty)
            let halfHeaders = try await RawConnection.open(port: port).send("GET /scim/v2/Users HTTP/1.1\r\nHost: local")
            #expect(statusCode(halfHeaders) == nil || statusCode(halfHeaders) == 408)
        }
    }

    /// With `server.maxConnections: 2` (the test client holds one), a second connection is closed as it opens while
    /// the first is open, and served once the first has gone.
    @Test(.timeLimit(.minutes(1))) func connectionsAreCapped() async throws {
        let edit: (String) -> String = {
            $0.replacingOccurrences(of: "idleTimeout: 60 ", with: "idleTimeout: 2 ").replacingOccurrences(
                of: "maxConnections: 1024 ",
                with: "maxConnections: 2 "
            )
        }
        try await withSampleGateway(editing: edit, setup: .live) { gateway in
            let port = try #require(gateway.client.port)
            let (answered, answeredContinuation) = AsyncStream.makeStream(of: Void.self)
            async let first: String = RawConnection.open(port: port).send("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n") {
                answeredContinuation.yield()
            }
            for await _ in answered { break }
            let refused = try await RawConnection.open(port: port).send("GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            #expect(refused.isEmpty, "\(refused)")
            // The first connection is closed by the idle timeout; its slot is free again.
            #expect(statusCode(try await first) == 200)
            let served = try await RawConnection.open(port: port).send("GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            #expect(statusCode(served) == 200)
        }
    }
}
