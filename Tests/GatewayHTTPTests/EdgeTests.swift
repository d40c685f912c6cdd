import Foundation
import GatewayCore
import GatewayTesting
import HTTPTypes
import HummingbirdTesting
import NIOCore
import SQLiteBackend
import Testing

@Suite struct EdgeTests {
    @Test func entraTestConnectionProbeAnswersAnEmptyListWithoutAcceptHeader() async throws {
        try await withEdge { fixture, client in
            let uri = "/scim/v2/Users?filter=userName+eq+%22f3a8e2c1-9f41-4c7f-9d5e-1b2c3d4e5f60%22"
            try await client.execute(uri: uri, method: .get, headers: fixture.authorization) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "application/scim+json")
                let body = try response.scim
                #expect(body[attribute: "totalResults"] == 0)
                #expect(body[attribute: "Resources"] == [])
                #expect(body[attribute: "schemas"] == [.string(SCIMSchema.listResponse)])
            }
            // Entra also looks up a random group.
            try await client.execute(
                uri: "/scim/v2/Groups?filter=displayName+eq+%22x%22&excludedAttributes=members",
                method: .get,
                headers: fixture.authorization
            ) {
                #expect($0.status == .ok)
            }
        }
    }

    /// (Authorization header, expected detail fragment)
    static let unauthenticated: [(String?, String)] = [
        (nil, "missing bearer token"),
        ("Basic dXNlcjpwYXNz", "malformed"),
        ("Bearer", "malformed"),
        ("Bearer fgw_0000000000000000000000000000000000000000000000000000000000000000", "not valid"),
    ]

    @Test(arguments: unauthenticated)
    func unauthenticatedRequestsGet401WithASCIMBody(header: String?, detail: String) async throws {
        try await withEdge { _, client in
            var headers = HTTPFields()
            if let header { headers[.authorization] = header }
            try await client.execute(uri: "/scim/v2/Users", method: .get, headers: headers) { response in
                #expect(response.status == .unauthorized)
                #expect(response.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true)
                #expect(response.headers[.contentType] == "application/scim+json")
                let body = try response.scim
                #expect(body[attribute: "status"] == "401")
                #expect(body[attribute: "schemas"] == [.string(SCIMSchema.error)])
                #expect(body[attribute: "detail"]?.stringValue?.contains(detail) == true)
            }
        }
    }

    @Test func anOrganizationWithoutTheDeveloperPackGets403NamingIt() async throws {
        try await withEdge(features: PlanFeatures(plan: .enterprise, sso: true, developerPack: false)) { fixture, client in
            try await client.execute(
                uri: "/scim/v2/Users",
                method: .post,
                headers: fixture.authorization,
                body: json(["schemas": [.string(SCIMSchema.user)], "userName": "a@b.co"])
            ) {
                response in
                #expect(response.status == .forbidden)
                let detail = try response.scim[attribute: "detail"]?.stringValue ?? ""
                #expect(detail.hasSuffix("is missing the Developer Pack"))
            }
            let listed = try await fixture.service.search(SearchQuery(), in: .user, context: try await fixture.context())
            #expect(listed.totalResults == 0)
        }
    }

    /// (method, path, status, scimType)
    static let routing: [(HTTPRequest.Method, String, Int, String?)] = [
        (.get, "/scim/v2/Nope", 404, nil),
        (.get, "/elsewhere", 404, nil),
        (.put, "/scim/v2/Users", 405, nil),
        (.delete, "/scim/v2/ServiceProviderConfig", 405, nil),
        (.get, "/scim/v2/Users/00000000-0000-0000-0000-000000000000", 404, nil),
        (.get, "/scim/v2/Me", 501, nil),
        (.get, "/scim/v2/Users?startIndex=abc", 400, "invalidValue"),
        (.get, "/scim/v2/Users?filter=userName+xx+%22a%22", 400, "invalidFilter"),
        (.get, "/scim/v2/Users?sortOrder=sideways", 400, "invalidValue"),
        (.get, "/scim/v2/Users?whatever=1&filter=userName+eq+%22a%22", 200, nil),
        (.get, "/scim/v2/ServiceProviderConfig", 200, nil),
        (.get, "/scim/v2/ResourceTypes/User", 200, nil),
        (.get, "/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:Group", 200, nil),
        (.get, "/scim/v2/Schemas/urn:nope", 404, nil),
    ]

    @Test(arguments: routing)
    func everyAnswerIsSCIM(method: HTTPRequest.Method, path: String, status: Int, scimType: String?) async throws {
        try await withEdge { fixture, client in
            try await client.execute(uri: path, method: method, headers: fixture.authorization) { response in
                #expect(Int(response.status.code) == status)
                #expect(response.headers[.contentType] == "application/scim+json")
                if status >= 400 {
                    let body = try response.scim
                    #expect(body[attribute: "status"] == .string(String(status)))
                    #expect(body[attribute: "scimType"]?.stringValue == scimType)
                }
            }
        }
    }

    @Test func malformedJSONIsInvalidSyntaxAndOversizedBodiesAre413() async throws {
        var server = ListenerConfiguration()
        server.maxBodyBytes = 2048
        try await withEdge(server: server) { fixture, client in
            try await client.execute(uri: "/scim/v2/Users", method: .post, headers: fixture.authorization, body: ByteBuffer(string: "{junk")) {
                response in
                #expect(response.status == .badRequest)
                let body = try response.scim
                #expect(body[attribute: "scimType"] == "invalidSyntax")
            }
            let big = json(["schemas": [.string(SCIMSchema.user)], "userName": .string(String(repeating: "x", count: 5000))])
            try await client.execute(uri: "/scim/v2/Users", method: .post, headers: fixture.authorization, body: big) { response in
                #expect(response.status == .contentTooLarge)
                let body = try response.scim
                #expect(body[attribute: "status"] == "413")
            }
        }
    }

    @Test(arguments: ["application/scim+json; charset=utf-8", "application/json", "application/json; charset=UTF-8", "Application/SCIM+JSON"])
    func anyJSONContentTypeIsAccepted(contentType: String) async throws {
        try await withEdge { fixture, client in
            var headers = fixture.authorization
            headers[.contentType] = contentType
            let body = json(["schemas": [.string(SCIMSchema.user)], "userName": "ct@example.com"])
            try await client.execute(uri: "/scim/v2/Users", method: .post, headers: headers, body: body) { response in
                #expect(response.status == .created)
            }
        }
    }

    @Test func createAnswers201WithLocationAndETagAndPreconditionsHold() async throws {
        try await withEdge { fixture, client in
            let created = try await client.execute(
                uri: "/scim/v2/Users",
                method: .post,
                headers: fixture.authorization.merging(entraHeaders),
                body: json(["schemas": [.string(SCIMSchema.user)], "userName": "etag@example.com", "active": true])
            ) { response in
                #expect(response.status == .created)
                let body = try response.scim
                let id = try #require(body[attribute: "id"]?.stringValue)
                #expect(response.headers[.location]?.hasSuffix("/scim/v2/Users/\(id)") == true)
                #expect(body[attribute: "meta"]?[attribute: "location"]?.stringValue == response.headers[.location])
                #expect(response.headers[.eTag] == #"W/"1""#)
                return id
            }
            var conditional = fixture.authorization
            conditional[.ifNoneMatch] = #"W/"1""#
            try await client.execute(uri: "/scim/v2/Users/\(created)", method: .get, headers: conditional) { #expect($0.status == .notModified) }
            var stale = fixture.authorization
            stale[.ifMatch] = #"W/"7""#
            let patch = json(["schemas": [.string(SCIMSchema.patchOp)], "Operations": [["op": "Replace", "path": "active", "value": "False"]]])
            try await client.execute(uri: "/scim/v2/Users/\(created)", method: .patch, headers: stale, body: patch) { response in
                #expect(response.status == .preconditionFailed)
            }
            try await client.execute(uri: "/scim/v2/Users/\(created)", method: .get, headers: fixture.authorization) { response in
                let body = try response.scim
                #expect(body[attribute: "active"] == true)
            }
        }
    }

    @Test func healthAndReadinessNeedNoToken() async throws {
        try await withEdge { _, client in
            try await client.execute(uri: "/healthz", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/readyz", method: .get) { #expect($0.status == .ok) }
        }
    }
}

extension HTTPFields {
    func merging(_ other: HTTPFields) -> HTTPFields {
        var result = self
        for field in other { result[field.name] = field.value }
        return result
    }
}
