import AuthenticationStage
import GatewayCore
import GatewayTesting
import Testing

@Suite struct AuthenticationStageTests {
    static let goodToken = "fgw_0123456789abcdef0123456789abcdef"
    static let downgradedToken = "fgw_downgraded000000000000000000000"

    let backend = FakeBackend(tokens: [
        goodToken: .test(),
        downgradedToken: .test(features: PlanFeatures(plan: .professional, sso: false, developerPack: true)),
    ])

    func stage() async throws -> AuthenticationStage {
        try await AuthenticationStage(configuration: .init(), context: .test(backend: backend))
    }

    func request(_ token: String?) -> SCIMRequest {
        SCIMRequest(operation: .search(.user), bearerToken: token.map(BearerToken.init))
    }

    @Test func aValidOwnerTokenSetsThePrincipalAndContinues() async throws {
        let next = RecordingNext()
        _ = try await stage().handle(request(Self.goodToken), context: .test(), next: next.callAsFunction)
        #expect(next.recorded.count == 1)
        #expect(next.recorded.first?.context.principal == .test())
    }

    /// (token, expected status, words the detail must contain)
    static let refusals: [(String?, Int, String)] = [
        (nil, 401, "missing bearer token"),
        ("", 401, "malformed"),
        ("short", 401, "malformed"),
        ("has spaces in it which is not allowed", 401, "malformed"),
        ("fgw_unknown00000000000000000000000000", 401, "not valid"),
        (downgradedToken, 403, "the Enterprise plan (current plan: professional) and single sign-on (SSO)"),
    ]

    @Test(arguments: refusals)
    func refusedRequestsNeverReachTheBackendOperation(token: String?, status: Int, detail: String) async throws {
        let next = RecordingNext()
        let stage = try await stage()
        let error = await #expect(throws: SCIMError.self) {
            try await stage.handle(request(token), context: .test(), next: next.callAsFunction)
        }
        #expect(error.map { Int($0.status.code) } == status)
        #expect(error?.detail.contains(detail) == true, "\(error?.detail ?? "")")
        if status == 401 { #expect(error?.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true) }
        #expect(next.recorded.isEmpty)
    }

    @Test func theTokenNeverAppearsInItsDescription() {
        let token = BearerToken(Self.goodToken)
        #expect(!"\(token)".contains(Self.goodToken))
        #expect(!String(reflecting: token).contains(Self.goodToken))
    }

    @Test func itTakesNoConfigurationKeys() throws {
        let error = #expect(throws: ConfigurationError.self) {
            try ConfigBlock(yaml: "realm: x", path: "pipeline[0].config").decode(AuthenticationStage.Configuration.self)
        }
        #expect(error?.path == "pipeline[0].config.realm")
    }
}
