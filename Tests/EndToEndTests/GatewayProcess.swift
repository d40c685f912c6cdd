import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

// glibc has both, but Swift's Glibc module is imported without _GNU_SOURCE.
@_silgen_name("pipe2")
private func pipe2(_ descriptors: UnsafeMutablePointer<Int32>, _ flags: Int32) -> Int32
@_silgen_name("posix_spawn_file_actions_addchdir_np")
private func posix_spawn_file_actions_addchdir_np(
    _ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>,
    _ path: UnsafePointer<CChar>
) -> Int32

/// A child process started with `posix_spawn`.
///
/// Not Foundation's `Process`: on this toolchain `Process.run()` over-reads a `dirent` while it lists `/proc/self/fd`
/// and crashes the whole test process about one run in five (swift-corelibs-foundation pull request 5472, fixed after
/// Swift 6.3.1).
struct ChildProcess: Sendable {
    let pid: pid_t
    /// The read ends of the child's standard output and (when captured) standard error, read with ``read(_:chunk:)``
    /// (blocking reads on a thread of their own: no dispatch source, which libdispatch on Linux can trip over when
    /// the descriptor closes).
    let stdout: Int32
    let stderr: Int32?

    enum SpawnError: Error {
        case failed(String, Int32)
    }

    init(executable: URL, arguments: [String], directory: URL, captureStandardError: Bool) throws {
        func pipe() throws -> (read: Int32, write: Int32) {
            var fds: [Int32] = [0, 0]
            guard pipe2(&fds, O_CLOEXEC) == 0 else { throw SpawnError.failed("pipe2", errno) }
            return (fds[0], fds[1])
        }
        let out = try pipe()
        let err = try captureStandardError ? pipe() : nil
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addchdir_np(&actions, directory.path)
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, out.write, 1)
        if let err {
            posix_spawn_file_actions_adddup2(&actions, err.write, 2)
        } else {
            posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        }
        // The child starts with default signal handling and nothing blocked, whatever the test process set up.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGTERM, SIGINT, SIGPIPE, SIGHUP, SIGCHLD] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = ([executable.path] + arguments).map { strdup($0) } + [nil]
        defer { for argument in argv { free(argument) } }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, executable.path, &actions, &attributes, argv, environ)
        close(out.write)
        if let err { close(err.write) }
        guard status == 0 else {
            close(out.read)
            if let err { close(err.read) }
            throw SpawnError.failed("posix_spawn \(executable.path)", status)
        }
        self.pid = pid
        self.stdout = out.read
        self.stderr = err?.read
    }

    /// Waits for the child on a thread of its own (waitpid blocks); its exit status, or the signal that ended it
    /// (as Foundation's `terminationStatus`).
    /// `beforeReaping` runs once the child has ended but while its pid is still reserved.
    func exitStatus(beforeReaping: @escaping @Sendable () -> Void = {}) async -> Int32 {
        let pid = pid
        return await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                var info = siginfo_t()
                while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) == -1, errno == EINTR {}
                beforeReaping()
                var status: Int32 = 0
                while waitpid(pid, &status, 0) == -1, errno == EINTR {}
                let signal = status & 0x7f
                continuation.resume(returning: signal == 0 ? (status >> 8) & 0xff : signal)
            }
        }
    }

    /// Reads `descriptor` to its end on a thread of its own, handing each chunk to `chunk`, then closes it.
    static func read(_ descriptor: Int32, chunk: @escaping @Sendable ([UInt8]) -> Void, end: @escaping @Sendable () -> Void) {
        Thread.detachNewThread {
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = buffer.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
                if count < 0, errno == EINTR { continue }
                guard count > 0 else { break }
                chunk(Array(buffer[0..<count]))
            }
            close(descriptor)
            end()
        }
    }

    /// Reads `descriptor` to its end; the text read.
    static func readAll(_ descriptor: Int32) async -> String {
        let buffer = Buffer()
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            read(descriptor, chunk: { bytes in buffer.bytes.withLock { $0 += bytes } }, end: { continuation.resume() })
        }
        return String(decoding: buffer.bytes.withLock { $0 }, as: UTF8.self)
    }

    final class Buffer: Sendable {
        let bytes = Mutex<[UInt8]>([])
    }
}

struct GatewayProcess: Sendable {
    /// `.build/<triple>/debug/scim-gateway`, beside the test bundle.
    static let executable = built("scim-gateway")
    /// The Fulcrum API emulator, built beside it.
    static let emulator = built("fulcrum-emulator")

    static func built(_ name: String) -> URL {
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var directory = bundle.deletingLastPathComponent()
        while !directory.path.isEmpty, directory.path != "/" {
            let candidate = directory.appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        return URL(fileURLWithPath: ".build/debug/\(name)")
    }

    /// The repository root (for the sample gateway.yaml).
    static let repository: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    struct Result: Sendable {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs a command to completion.
    static func run(_ arguments: [String], in directory: URL) async throws -> Result {
        let child = try ChildProcess(executable: executable, arguments: arguments, directory: directory, captureStandardError: true)
        async let stdout = ChildProcess.readAll(child.stdout)
        async let stderr = ChildProcess.readAll(child.stderr!)
        let status = await child.exitStatus()
        return Result(status: status, stdout: await stdout, stderr: await stderr)
    }

    /// A running `serve`.
    final class Server: Sendable {
        let child: ChildProcess
        let lines: AsyncStream<String>
        let output = Mutex<[String]>([])
        let exited: Task<Int32, Never>
        let ended = Ended()

        init(arguments: [String], directory: URL, executable: URL = GatewayProcess.executable) throws {
            child = try ChildProcess(executable: executable, arguments: arguments, directory: directory, captureStandardError: false)
            let (lines, continuation) = AsyncStream.makeStream(of: String.self)
            let buffer = ChildProcess.Buffer()
            ChildProcess.read(
                child.stdout,
                chunk: { chunk in
                    let complete: [String] = buffer.bytes.withLock { data in
                        data += chunk
                        var found: [String] = []
                        while let newline = data.firstIndex(of: 0x0A) {
                            found.append(String(decoding: data[..<newline], as: UTF8.self))
                            data.removeSubrange(...newline)
                        }
                        return found
                    }
                    for line in complete { continuation.yield(line) }
                },
                end: { continuation.finish() }
            )
            self.lines = lines
            let (child, ended) = (child, ended)
            exited = Task { await child.exitStatus { ended.value.withLock { $0 = true } } }
        }

        /// A test that fails half-way must not leave a gateway running: stop the one this started, unless it has
        /// ended (its pid may then belong to another process).
        deinit {
            if !ended.value.withLock({ $0 }) { kill(child.pid, SIGTERM) }
        }

        /// Reads output until a line starts with `prefix`; returns every line read so far.
        func waitFor(_ prefix: String) async throws -> [String] {
            for await line in lines {
                let all = output.withLock {
                    $0.append(line)
                    return $0
                }
                if line.hasPrefix(prefix) { return all }
            }
            throw GatewayProcessError.exitedEarly(output.withLock { $0 })
        }

        func signal(_ signal: Int32) {
            if !ended.value.withLock({ $0 }) { kill(child.pid, signal) }
        }

        func waitForExit() async -> Int32 { await exited.value }

        final class Ended: Sendable {
            let value = Mutex(false)
        }
    }

    enum GatewayProcessError: Error {
        case exitedEarly([String])
    }

    /// A working directory holding a copy of the sample configuration, on a free port and its own store.
    static func sandbox(sample path: String = "gateway.yaml", editing edit: (String) -> String = { $0 }) throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("scim-gateway-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let sample = try String(contentsOf: repository.appendingPathComponent(path), encoding: .utf8)
        try edit(sample).write(to: directory.appendingPathComponent("gateway.yaml"), atomically: true, encoding: .utf8)
        return directory
    }
}
