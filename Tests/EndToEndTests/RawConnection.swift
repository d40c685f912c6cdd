import NIOCore
import NIOPosix

/// A TCP connection to a loopback port that sends bytes exactly as given: for requests no HTTP client will write
/// (no Host, a broken chunk, headers sent halfway).
struct RawConnection {
    let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>

    static func open(port: Int) async throws -> RawConnection {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
            }
        return RawConnection(channel: channel)
    }

    /// Sends `text` and returns everything the server writes until it closes the connection; `firstBytes` runs
    /// when the first bytes of the answer arrive.
    func send(_ text: String, firstBytes: @Sendable () -> Void = {}) async throws -> String {
        try await channel.executeThenClose { inbound, outbound in
            var received = ""
            do {
                if !text.isEmpty { try await outbound.write(ByteBuffer(string: text)) }
            } catch {
                return received  // closed before the request could be written: refused
            }
            do {
                for try await chunk in inbound {
                    if received.isEmpty { firstBytes() }
                    received += String(buffer: chunk)
                }
            } catch {
                // A reset after the answer still leaves the answer.
            }
            return received
        }
    }
}

/// The status code of the first HTTP response in `text`, or nil.
func statusCode(_ text: String) -> Int? {
    guard text.hasPrefix("HTTP/1.1 ") else { return nil }
    return Int(text.dropFirst(9).prefix(3))
}
