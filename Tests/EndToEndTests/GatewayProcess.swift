import Foundation
import Synchronization
import Testing

/// The built `scim-gateway` executable, run as a child process the way an operator runs it.
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
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = directory
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
            do { try process.run() } catch { continuation.resume(throwing: error) }
        }
        let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return Result(status: status, stdout: stdout, stderr: stderr)
    }

    /// A running `serve`.
    final class Server: Sendable {
        let process: Process
        let lines: AsyncStream<String>
        let output = Mutex<[String]>([])
        let exit: AsyncStream<Int32>

        init(arguments: [String], directory: URL, executable: URL = GatewayProcess.executable) throws {
            let process = Process()
            process.executableURL = executable
            process.arguments = arguments
            process.currentDirectoryURL = directory
            let out = Pipe()
            process.standardOutput = out
            process.standardError = FileHandle.nullDevice
            let (lines, continuation) = AsyncStream.makeStream(of: String.self)
            let (exit, exitContinuation) = AsyncStream.makeStream(of: Int32.self)
            let buffer = Mutex(Data())
            out.fileHandleForReading.readabilityHandler = { handle in
                let chunk = handle.availableData
                if chunk.isEmpty {
                    handle.readabilityHandler = nil
                    continuation.finish()
                    return
                }
                let complete: [String] = buffer.withLock { data in
                    data.append(chunk)
                    var found: [String] = []
                    while let newline = data.firstIndex(of: 0x0A) {
                        found.append(String(decoding: data[data.startIndex..<newline], as: UTF8.self))
                        data.removeSubrange(data.startIndex...newline)
                    }
                    return found
                }
                for line in complete { continuation.yield(line) }
            }
            process.terminationHandler = { exitContinuation.yield($0.terminationStatus) }
            self.process = process
            self.lines = lines
            self.exit = exit
            try process.run()
        }

        /// A test that fails half-way must not leave a gateway running: stop the one this started.
        deinit {
            if process.isRunning { process.terminate() }
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

        func signal(_ signal: Int32) { kill(process.processIdentifier, signal) }

        func waitForExit() async -> Int32 {
            for await status in exit { return status }
            return -1
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
