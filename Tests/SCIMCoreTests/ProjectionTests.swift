import SCIMCore
import Testing

@Suite struct ProjectionTests {
    let group: JSONValue = [
        "schemas": [.string(SCIMSchema.group)], "id": "g1", "displayName": "Crew", "members": [["value": "a", "display": "A"]],
        "meta": ["resourceType": "Group"],
    ]

    @Test func excludedMembersLeavesMembersOut() throws {
        let result = try Projection(attributes: [], excludedAttributes: ["members"]).apply(to: group, coreSchema: SCIMSchema.group)
        #expect(result[attribute: "members"] == nil)
        #expect(result[attribute: "displayName"] == "Crew")
    }

    @Test func attributesKeepsOnlyThoseAndAlwaysReturnedOnes() throws {
        let result = try Projection(attributes: ["displayName"], excludedAttributes: []).apply(to: group, coreSchema: SCIMSchema.group)
        #expect(result == ["schemas": [.string(SCIMSchema.group)], "id": "g1", "displayName": "Crew"])
    }

    @Test func subAttributeSelection() throws {
        let result = try Projection(attributes: ["members.value"], excludedAttributes: []).apply(to: group, coreSchema: SCIMSchema.group)
        #expect(result[attribute: "members"] == [["value": "a"]])
    }

    @Test func extensionAttributesByURN() throws {
        let user: JSONValue = ["id": "u", "userName": "x", SCIMSchema.enterpriseUser: ["department": "R", "division": "D"]]
        let projection = try Projection(attributes: ["\(SCIMSchema.enterpriseUser):department"], excludedAttributes: [])
        let result = projection.apply(to: user, coreSchema: SCIMSchema.user)
        #expect(result[attribute: SCIMSchema.enterpriseUser] == ["department": "R"])
        #expect(result[attribute: "userName"] == nil)
    }
}
