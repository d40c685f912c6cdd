import Foundation
import GatewayCore
import GatewayHTTP
import GatewayTesting
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Testing

@testable import scim_gateway

/// The repository's `gateway.yaml`, edited as an operator would, served in process with every compiled-in plugin.
@Suite struct SampleConfigurationTests {
    static let fulcrum = "urn:example:params:scim:schemas:extension:fulcrum:2.0:User"

    func withSample(
        editing edit: @escaping (String) -> String = { $0 },
        _ body: @escaping @Sendable (_ client: any TestClientProtocol, _ token: String, _ directory: any DirectoryAdministration) async throws -> Void
    ) async throws {
        try await withSampleGateway(editing: edit) { try await body($0.client, $0.token, $0.directory) }
    }

    static func headers(_ token: String) -> HTTPFields {
        [.authorization: "Bearer \(token)", .contentType: "application/scim+json; charset=utf-8"]
    }

    static func body(_ value: JSONValue) -> ByteBuffer { ByteBuffer(bytes: try! JSONEncoder().encode(value)) }

    static func decode(_ response: TestResponse) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: Data(response.body.readableBytesView))
    }

    static let entraDefaultCreate: JSONValue = [
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "externalId": "alias1", "userName": "alice@contoso.com", "active": true, "displayName": "Alice Example",
        "emails": [["primary": true, "type": "work", "value": "alice@contoso.com"]],
        "name": ["formatted": "Alice Example", "familyName": "Example", "givenName": "Alice"],
        "phoneNumbers": [["type": "work", "value": "+1 555 0100"], ["type": "mobile", "value": "+1 555 0101"]],
        "addresses": [["type": "work", "streetAddress": "1 Main St", "locality": "Springfield", "country": "US"]],
        "roles": [], "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": ["employeeNumber": "701984", "department": "Field"],
    ]

    @Test func entrasDefaultCreateSucceedsAndUnsupportedAttributesAreNotStored() async throws {
        try await withSample { client, token, directory in
            try await client.execute(uri: "/scim/v2/Users", method: .post, headers: Self.headers(token), body: Self.body(Self.entraDefaultCreate)) {
                response in
                #expect(response.status == .created)
                let user = try Self.decode(response)
                #expect(user[attribute: "phoneNumbers"] == nil)
                #expect(user[attribute: "addresses"] == nil)
                #expect(user[attribute: "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]?[attribute: "department"] == "Field")
            }
            let organization = try #require(try await directory.listOrganizations().first)
            let member = try #require(try await directory.listMembers(organizationID: organization.id).first { $0.managed })
            #expect(member.email == "alice@contoso.com")
            #expect(member.firstName == "Alice")
            #expect(member.lastName == "Example")
        }
    }

    @Test func rejectRefusesItWithAPreciseMessage() async throws {
        let reject: (String) -> String = { $0.replacingOccurrences(of: "unsupportedAttributes: ignore", with: "unsupportedAttributes: reject") }
        try await withSample(editing: reject) { client, token, _ in
            try await client.execute(uri: "/scim/v2/Users", method: .post, headers: Self.headers(token), body: Self.body(Self.entraDefaultCreate)) {
                response in
                #expect(response.status == .badRequest)
                let error = try Self.decode(response)
                #expect(error[attribute: "scimType"] == "invalidValue")
                let detail = error[attribute: "detail"]?.stringValue ?? ""
                #expect(detail.contains("phoneNumbers") && detail.contains("addresses"))
            }
        }
    }

    /// A custom extension declared only in YAML, mapped into the member's email with transforms.
    static func customMapping(_ sample: String) -> String {
        sample
            .replacingOccurrences(
                of: "  extensions: []",
                with:
                    "  extensions:\n    - id: \(fulcrum)\n      name: FulcrumUser\n      attributes:\n        - { name: crewEmail }\n        - { name: crewCode }"
            )
            .replacingOccurrences(
                of: #"        - { from: ["emails[primary eq true].value", "emails[type eq \"work\"].value"], to: member.email, transform: [trim] }"#,
                with: "        - { from: \"\(fulcrum):crewEmail\", to: member.email, transform: [trim, lowercase] }"
            )
    }

    @Test func aCustomMappingDeclaredOnlyInYAMLRoundTripsThroughCreatePatchAndGet() async throws {
        try await withSample(editing: Self.customMapping) { client, token, directory in
            let organization = try #require(try await directory.listOrganizations().first)
            let create: JSONValue = [
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", .string(Self.fulcrum)],
                "userName": "ada", "name": ["givenName": "Ada", "familyName": "Lovelace"],
                "emails": [["type": "work", "value": "ada@work.example", "primary": true]],
                Self.fulcrum: ["crewEmail": "  Ada.Crew@Field.Example ", "crewCode": "C-7"],
            ]
            let id = try await client.execute(uri: "/scim/v2/Users", method: .post, headers: Self.headers(token), body: Self.body(create)) {
                response in
                #expect(response.status == .created)
                let user = try Self.decode(response)
                #expect(user[attribute: Self.fulcrum]?[attribute: "crewEmail"] == "  Ada.Crew@Field.Example ")
                #expect(user[attribute: "schemas"]?.arrayValue?.contains(.string(Self.fulcrum)) == true)
                return try #require(user[attribute: "id"]?.stringValue)
            }
            #expect(try await directory.listMembers(organizationID: organization.id).first { $0.id == id }?.email == "ada.crew@field.example")

            let patch: JSONValue = [
                "schemas": [.string(SCIMSchema.patchOp)],
                "Operations": [["op": "Replace", "path": .string("\(Self.fulcrum):crewEmail"), "value": "ADA@CREW.EXAMPLE"]],
            ]
            try await client.execute(uri: "/scim/v2/Users/\(id)", method: .patch, headers: Self.headers(token), body: Self.body(patch)) {
                #expect($0.status == .ok)
            }
            try await client.execute(uri: "/scim/v2/Users/\(id)", method: .get, headers: Self.headers(token)) { response in
                let user = try Self.decode(response)
                #expect(user[attribute: Self.fulcrum]?[attribute: "crewEmail"] == "ADA@CREW.EXAMPLE")
                #expect(user[attribute: Self.fulcrum]?[attribute: "crewCode"] == "C-7")
            }
            #expect(try await directory.listMembers(organizationID: organization.id).first { $0.id == id }?.email == "ada@crew.example")

            // The extension is published, filterable, and listed on the User resource type.
            try await client.execute(uri: "/scim/v2/Schemas/\(Self.fulcrum)", method: .get, headers: Self.headers(token)) {
                #expect($0.status == .ok)
            }
            let filter = "/scim/v2/Users?filter=\(Self.fulcrum):crewCode+eq+%22C-7%22"
            try await client.execute(uri: filter, method: .get, headers: Self.headers(token)) { response in
                let list = try Self.decode(response)
                #expect(list[attribute: "totalResults"] == 1)
            }
            try await client.execute(uri: "/scim/v2/ResourceTypes/User", method: .get, headers: Self.headers(token)) { response in
                let extensions = try Self.decode(response)[attribute: "schemaExtensions"]?.arrayValue?.compactMap {
                    $0[attribute: "schema"]?.stringValue
                }
                #expect(extensions?.contains(Self.fulcrum) == true)
            }
        }
    }

    @Test func overTheRateLimitIs429WithRetryAfterAndNothingIsWritten() async throws {
        let slow: (String) -> String = {
            $0.replacingOccurrences(of: "perToken: { requestsPerSecond: 50, burst: 100 }", with: "perToken: { requestsPerSecond: 0.01, burst: 2 }")
        }
        try await withSample(editing: slow) { client, token, directory in
            for name in ["a", "b"] {
                try await client.execute(
                    uri: "/scim/v2/Users",
                    method: .post,
                    headers: Self.headers(token),
                    body: Self.body(["schemas": [.string(SCIMSchema.user)], "userName": .string("\(name)@x.example")])
                ) {
                    #expect($0.status == .created)
                }
            }
            try await client.execute(
                uri: "/scim/v2/Users",
                method: .post,
                headers: Self.headers(token),
                body: Self.body(["schemas": [.string(SCIMSchema.user)], "userName": "c@x.example"])
            ) { response in
                #expect(response.status == .tooManyRequests)
                // 100 s for a whole token at 0.01/s, less what has refilled since the first request (a slow run).
                #expect((90...100).contains(Int(response.headers[.retryAfter] ?? "") ?? 0))
                #expect(response.headers[.contentType] == "application/scim+json")
                let error = try Self.decode(response)
                #expect(error[attribute: "status"] == "429")
            }
            let organization = try #require(try await directory.listOrganizations().first)
            #expect(try await directory.listMembers(organizationID: organization.id).filter(\.managed).count == 2)
        }
    }
}
