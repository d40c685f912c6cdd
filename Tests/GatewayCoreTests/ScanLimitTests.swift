import GatewayCore
import GatewayTesting
import Testing

/// Searches no index answers are bounded per organization; indexed ones never count.
@Suite struct ScanLimitTests {
    @Test(
        arguments: [
            (nil, ResourceType.user, true),
            (#"userName eq "a@b.c""#, .user, true),
            (#"USERNAME eq "a@b.c" and emails.value co "x""#, .user, true),
            (#"externalId eq "e" or title pr"#, .user, false),
            (#"emails.value co "zzzz""#, .user, false),
            (#"userName sw "a""#, .user, false),
            (#"displayName eq "Crew""#, .group, true),
            (#"displayName eq "Crew""#, .user, false),
            (#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "a""#, .user, true),
            (#"not (userName eq "a")"#, .user, false),
        ] as [(String?, ResourceType, Bool)]
    )
    func indexedSearchesAreRecognised(filter: String?, type: ResourceType, indexed: Bool) throws {
        #expect(ScanLimit.isIndexed(try filter.map { try Filter(parsing: $0) }, type: type) == indexed)
    }

    @Test func overTheBoundIs429ForThatOrganizationOnly() async throws {
        let limit = ScanLimit(perOrganization: 1)
        let (entered, enteredContinuation) = AsyncStream.makeStream(of: Void.self)
        let (release, releaseContinuation) = AsyncStream.makeStream(of: Void.self)
        async let held: Void = limit.run(organizationID: "a") {
            enteredContinuation.yield()
            for await _ in release { break }
        }
        for await _ in entered { break }
        let refused = await #expect(throws: SCIMError.self) { try await limit.run(organizationID: "a") {} }
        #expect(refused?.status == .tooManyRequests)
        #expect(refused?.headers[.retryAfter] == "1")
        try await limit.run(organizationID: "b") {}
        releaseContinuation.yield()
        try await held
        try await limit.run(organizationID: "a") {}
    }
}
