import AuthenticationStage
import GatewayCore
import GatewayTesting
import Synchronization
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

    @Test func unknownKeysAreRefusedWithTheirPath() throws {
        let error = #expect(throws: ConfigurationError.self) {
            try ConfigBlock(yaml: "realm: x", path: "pipeline[0].config").decode(AuthenticationStage.Configuration.self)
        }
        #expect(error?.path == "pipeline[0].config.realm")
    }

    @Test(arguments: [
        "beforeLookup: { global: { requestsPerSecond: 0, burst: 1 } }", "beforeLookup: { perAddress: { requestsPerSecond: 1, burst: 0 } }",
        "failedTokenSeconds: -1",
    ])
    func badLimitsAreRefused(yaml: String) async throws {
        let configuration = try ConfigBlock(yaml: yaml).decode(AuthenticationStage.Configuration.self)
        #expect(throws: ConfigurationError.self) { try AuthenticationStage(configuration: configuration, context: .test(backend: backend)) { 0 } }
    }

    /// A flood of bad tokens from one address is answered 429 from memory: the backend sees only the burst, other
    /// addresses are not held back, and the bucket refills with time.
    @Test func requestsDrawFromBucketsBeforeTheTokenIsLookedUp() async throws {
        let configuration = try ConfigBlock(yaml: "beforeLookup: { perAddress: { requestsPerSecond: 1, burst: 3 } }\nfailedTokenSeconds: 0")
            .decode(AuthenticationStage.Configuration.self)
        let now = Mutex(0.0)
        let stage = try AuthenticationStage(configuration: configuration, context: .test(backend: backend)) { now.withLock { $0 } }
        func send(_ token: String, from address: String) async -> SCIMError? {
            var context = GatewayContext.test()
            context.clientAddress = address
            do {
                _ = try await stage.handle(request(token), context: context, next: RecordingNext().callAsFunction)
                return nil
            } catch { return error as? SCIMError }
        }
        var statuses: [Int] = []
        for index in 0..<10 { statuses.append(Int(await send("fgw_bad\(index)000000000000000000000000000", from: "192.0.2.1")?.status.code ?? 200)) }
        #expect(statuses == [401, 401, 401] + Array(repeating: 429, count: 7))
        #expect(backend.lookupCount == 3)
        #expect(await send(Self.goodToken, from: "192.0.2.2") == nil)
        let limited = await send(Self.goodToken, from: "192.0.2.1")
        #expect(limited?.headers[.retryAfter] == "1")
        now.withLock { $0 = 1 }
        #expect(await send(Self.goodToken, from: "192.0.2.1") == nil)
    }

    /// A refused token is refused again from memory until `failedTokenSeconds` pass; a good token is never cached
    /// as refused.
    @Test func aRefusedTokenIsNotLookedUpAgainForAWhile() async throws {
        let configuration = try ConfigBlock(yaml: "failedTokenSeconds: 10").decode(AuthenticationStage.Configuration.self)
        let now = Mutex(0.0)
        let stage = try AuthenticationStage(configuration: configuration, context: .test(backend: backend)) { now.withLock { $0 } }
        let bad = "fgw_unknown00000000000000000000000000"
        for _ in 0..<5 {
            await #expect(throws: SCIMError.self) { try await stage.handle(request(bad), context: .test(), next: RecordingNext().callAsFunction) }
        }
        #expect(backend.lookupCount == 1)
        for _ in 0..<3 { _ = try await stage.handle(request(Self.goodToken), context: .test(), next: RecordingNext().callAsFunction) }
        #expect(backend.lookupCount == 4)
        now.withLock { $0 = 25 }
        await #expect(throws: SCIMError.self) { try await stage.handle(request(bad), context: .test(), next: RecordingNext().callAsFunction) }
        #expect(backend.lookupCount == 5)
    }

    @Test func recentFailuresStayBounded() {
        let failures = RecentFailures(seconds: 10, capacity: 1000)
        for index in 0..<50_000 { failures.insert("k\(index)", at: 0) }
        #expect(failures.count <= 2000)
        #expect(failures.contains("k49999", at: 0))
        #expect(!failures.contains("k49999", at: 20))
    }
}
