import Foundation
import GatewayCore
import GatewayTesting
import Logging
import SQLiteNIO
import Synchronization
import Testing

@testable import SQLiteBackend

/// What the store does when things go wrong: every failure translated in one place, readiness that probes the
/// writer, and a bootstrap that applies whole or not at all.
@Suite struct SQLiteStoreTests {
    static func bootstrap() throws -> BootstrapConfiguration {
        try ConfigBlock(yaml: "organization: { name: Acme }\nowner: { email: owner@acme.test }", path: "bootstrap")
            .decode(BootstrapConfiguration.self)
    }

    func open(_ folder: URL, busyTimeout: Int = 10000) async throws -> SQLiteBackend {
        try await SQLiteBackend(
            configuration: .init(path: "gateway.sqlite", synchronous: .normal, busyTimeout: busyTimeout),
            context: .test(directory: folder)
        )
    }

    /// A first start that fails halfway leaves no organization without an Owner or a token: the next start
    /// bootstraps again and prints the token.
    @Test func aBootstrapThatFailsHalfwayLeavesNothing() async throws {
        let folder = TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(at: folder) }
        let backend = try await open(folder)
        _ = try await backend.store.write { connection in
            try await connection.query("CREATE TRIGGER refuse_tokens BEFORE INSERT ON api_tokens BEGIN SELECT RAISE(ABORT, 'disk full'); END")
        }
        let fulcrum = SimulatedFulcrum(backend: backend)
        await #expect(throws: (any Error).self) { try await fulcrum.bootstrap(Self.bootstrap()) }
        #expect(try await fulcrum.listOrganizations().isEmpty)
        _ = try await backend.store.write { connection in try await connection.query("DROP TRIGGER refuse_tokens") }
        let (organization, token) = try #require(try await fulcrum.bootstrap(Self.bootstrap()))
        #expect(try await fulcrum.listMembers(organizationID: organization.id).map(\.email) == ["owner@acme.test"])
        _ = try await backend.authenticate(token: BearerToken(token.secret), context: .test())
        #expect(try await fulcrum.bootstrap(Self.bootstrap()) == nil)
        await backend.close()
    }

    /// A store locked by another process answers 503 with Retry-After on every operation that writes (delete and
    /// search used to skip the translation), and `/readyz` turns red while the writer cannot write.
    @Test func aBusyStoreIs503WithRetryAfterAndNotReady() async throws {
        try await DirectoryFixture.run { fixture in
            let folder = fixture.folder
            await fixture.backend.close()
            let backend = try await open(folder, busyTimeout: 20)
            let service = ResourceService(backend: backend)
            let principal = try await backend.authenticate(token: BearerToken(fixture.token), context: .test())
            let context = GatewayContext.test(principal: principal)
            let user = try await service.create(["userName": "alice@example.com"], in: .user, context: context)
            try await backend.checkReadiness()

            let other = try await SQLiteConnection.open(storage: .file(path: backend.path), logger: Logger(label: "other-process"))
            _ = try await other.query("BEGIN EXCLUSIVE")
            let busy = await #expect(throws: SCIMError.self) { try await service.delete(id: user.id, in: .user, ifMatch: nil, context: context) }
            #expect(busy?.status == .serviceUnavailable)
            #expect(busy?.headers[.retryAfter] == "1")
            await #expect(throws: SCIMError.self) { try await backend.checkReadiness() }
            _ = try await other.query("ROLLBACK")
            try await other.close()

            try await backend.checkReadiness()
            try await service.delete(id: user.id, in: .user, ifMatch: nil, context: context)
            await backend.close()
        }
    }

    /// A slow scan holds its own connection and thread: token lookups and point reads are answered while it runs.
    @Test func aSlowScanHoldsNeitherTokenLookupsNorPointReads() async throws {
        try await DirectoryFixture.run { fixture in
            let backend = try #require(fixture.sqlite)
            let (started, startedContinuation) = AsyncStream.makeStream(of: Void.self)
            let finished = Flag()
            async let scan: Void = backend.store.read(lane: .scan) { connection in
                startedContinuation.yield()
                _ = try await connection.query(
                    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 5000000) SELECT count(*) FROM c"
                )
                finished.set()
            }
            for await _ in started { break }
            _ = try await backend.authenticate(token: BearerToken(fixture.token), context: .test())
            _ = try await fixture.service.search(SearchQuery(), in: .user, context: try await fixture.context())
            let scanFinishedFirst = finished.isSet
            #expect(!scanFinishedFirst)
            try await scan
        }
    }

    @Test func aBusyTimeoutOutOfRangeIsRefused() async throws {
        await #expect(throws: ConfigurationError.self) { try await open(TemporaryDirectory.make(), busyTimeout: -1) }
    }
}

/// A flag set from one task and read from another.
final class Flag: Sendable {
    private let value = Atomic(false)
    func set() { value.store(true, ordering: .sequentiallyConsistent) }
    var isSet: Bool { value.load(ordering: .sequentiallyConsistent) }
}
