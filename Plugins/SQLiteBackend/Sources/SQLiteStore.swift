import Foundation
import GatewayCore
import Logging
import NIOPosix
import SQLiteNIO
import Synchronization

/// The embedded store: one writer connection (write transactions serialised by an ``AsyncLock``), a few reader
/// connections for point reads, one for scans and one for token lookups, all on one WAL-mode SQLite file and on a
/// thread pool of the store's own with a thread per connection: a slow scan holds its own thread and connection,
/// never a writer's, a point read's or authentication's. Other processes (the admin commands) may use the file at
/// the same time; SQLite's locking and a busy timeout keep them apart.
final class SQLiteStore: Sendable {
    /// Which reader connection a read runs on.
    enum Lane {
        /// Point reads and indexed searches, round-robin over the readers.
        case point
        /// Searches no index answers.
        case scan
        /// Token lookups.
        case credentials
    }

    let writer: SQLiteConnection
    let readers: [SQLiteConnection]
    let scanner: SQLiteConnection
    let credentials: SQLiteConnection
    let threadPool: NIOThreadPool
    private let nextReader = Atomic<Int>(0)
    private let writeLock = AsyncLock()
    /// Set when a ROLLBACK failed: the writer may still be inside the failed transaction.
    private let writerInTransaction = Atomic<Bool>(false)
    let path: String
    let logger: Logger

    private init(path: String, threadPool: NIOThreadPool, connections: [SQLiteConnection], logger: Logger) {
        self.path = path
        self.threadPool = threadPool
        self.writer = connections[0]
        self.scanner = connections[1]
        self.credentials = connections[2]
        self.readers = Array(connections.dropFirst(3))
        self.logger = logger
    }

    /// Opens (creating if needed) the store at `path` and applies pending migrations.
    static func open(
        path: String,
        readers readerCount: Int,
        synchronous: SQLiteBackend.Synchronous,
        busyTimeout: Int,
        logger: Logger
    ) async throws -> SQLiteStore {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let readerCount = max(1, readerCount)
        // Writer, scanner, credentials, readers: one thread each.
        let threadPool = NIOThreadPool(numberOfThreads: readerCount + 3)
        threadPool.start()
        var connections: [SQLiteConnection] = []
        do {
            for index in 0..<(readerCount + 3) {
                let connection = try await SQLiteConnection.open(
                    storage: .file(path: path),
                    threadPool: threadPool,
                    logger: logger,
                    on: MultiThreadedEventLoopGroup.singleton.any()
                )
                connections.append(connection)
                try await configure(connection, synchronous: synchronous, busyTimeout: busyTimeout, isWriter: index == 0)
                if index == 0 { try await Migrations.apply(to: connection, logger: logger) }
            }
            return SQLiteStore(path: path, threadPool: threadPool, connections: connections, logger: logger)
        } catch {
            // Nothing opened here outlives a failed open.
            for connection in connections.reversed() { try? await connection.close() }
            try? await threadPool.shutdownGracefully()
            throw error
        }
    }

    /// The SQL name of ``CaseFolding/fold(_:)`` on every connection.
    static let foldFunction = "scim_fold"

    private static func configure(
        _ connection: SQLiteConnection,
        synchronous: SQLiteBackend.Synchronous,
        busyTimeout: Int,
        isWriter: Bool
    ) async throws {
        // busy_timeout replaces sqlite-nio's spinning busy handler with a sleeping one.
        _ = try await connection.query("PRAGMA busy_timeout = \(busyTimeout)")
        if isWriter { _ = try await connection.query("PRAGMA journal_mode = WAL") }
        _ = try await connection.query("PRAGMA foreign_keys = ON")
        _ = try await connection.query("PRAGMA synchronous = \(synchronous.rawValue.uppercased())")
        try await connection.install(
            customFunction: SQLiteCustomFunction(foldFunction, argumentCount: 1, pure: true) { arguments in
                arguments.first?.string.map(CaseFolding.fold)
            }
        )
    }

    /// Runs read-only queries on a reader connection.
    func read<T: Sendable>(lane: Lane = .point, _ body: (SQLiteConnection) async throws -> T) async throws -> T {
        switch lane {
        case .point:
            let index = nextReader.wrappingAdd(1, ordering: .relaxed).oldValue
            return try await body(readers[index % readers.count])
        case .scan: return try await body(scanner)
        case .credentials: return try await body(credentials)
        }
    }

    /// Runs `body` in one `BEGIN IMMEDIATE` transaction on the writer: all of it commits, or none of it.
    /// The commit has returned (and, with `synchronous: full`, reached the disk) before this returns.
    /// A ROLLBACK that failed leaves the writer inside a transaction; the next write (or readiness probe) ends
    /// it first, and fails (so `/readyz` goes red) while it cannot.
    func write<T: Sendable>(_ body: (SQLiteConnection) async throws -> T) async throws -> T {
        try await writeLock.withLock {
            if writerInTransaction.load(ordering: .acquiring) {
                _ = try await writer.query("ROLLBACK")
                writerInTransaction.store(false, ordering: .releasing)
            }
            _ = try await writer.query("BEGIN IMMEDIATE")
            do {
                let result = try await body(writer)
                _ = try await writer.query("COMMIT")
                return result
            } catch {
                do {
                    _ = try await writer.query("ROLLBACK")
                } catch let rollback {
                    // A failed COMMIT may already have ended the transaction; only SQLite can tell.
                    let ended = (rollback as? SQLiteError)?.message.contains("no transaction is active") ?? false
                    if !ended {
                        writerInTransaction.store(true, ordering: .releasing)
                        logger.error("ROLLBACK failed; the store's writer is not ready until it succeeds", metadata: ["error": "\(rollback)"])
                    }
                }
                throw error
            }
        }
    }

    /// Checkpoints the WAL and closes every connection.
    func close() async {
        let alreadyClosed = try? await writeLock.withLock { writer.isClosed }
        guard alreadyClosed == false else { return }
        _ = try? await writeLock.withLock {
            _ = try? await writer.query("PRAGMA wal_checkpoint(TRUNCATE)")
        }
        for reader in readers + [scanner, credentials] { try? await reader.close() }
        try? await writer.close()
        try? await threadPool.shutdownGracefully()
    }
}

extension SQLiteRow {
    func string(_ column: String) -> String? {
        guard let data = self.column(column), data != .null else { return nil }
        return data.string
    }

    func int(_ column: String) -> Int {
        self.column(column)?.integer ?? 0
    }

    func bool(_ column: String) -> Bool {
        int(column) != 0
    }

    /// A member is active unless `active` is 0; NULL (unassigned through SCIM) keeps the membership.
    var isActiveMember: Bool {
        self.column("active") == .null || bool("active")
    }
}

extension SQLiteData {
    static func optional(_ value: String?) -> SQLiteData {
        value.map { .text($0) } ?? .null
    }

    static func flag(_ value: Bool) -> SQLiteData {
        .integer(value ? 1 : 0)
    }

    static func optionalFlag(_ value: Bool?) -> SQLiteData {
        value.map { .integer($0 ? 1 : 0) } ?? .null
    }
}
