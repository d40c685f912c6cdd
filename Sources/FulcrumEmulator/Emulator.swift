public import Foundation
public import Hummingbird
public import Logging
import NIOCore
import Synchronization

/// A faithful local Fulcrum API v2 (`FULCRUM_API.md` §11): memberships, roles, groups, whoami and tokens in memory,
/// Fulcrum's status codes and bodies, a per-user rate limit, switches for every inferred behaviour and faults for
/// tests. `GET /_emulator/stats` counts the calls received, by route.
public final class Emulator: Sendable {
    struct State {
        var model = EmulatorModel()
        var behaviour = EmulatorBehaviour()
        var requests = 0
        var throttled = 0
        var byRoute: [String: Int] = [:]
        /// Each user's calls in the last hour, oldest first.
        var calls: [String: [Date]] = [:]
        var faultCounter = 0
    }

    let state: Mutex<State>

    public init(model: EmulatorModel = EmulatorModel(), behaviour: EmulatorBehaviour = EmulatorBehaviour()) {
        state = Mutex(State(model: model, behaviour: behaviour))
    }

    /// Reads or changes the data directly, as Fulcrum's own UI would (tests, the seed).
    public func withModel<T>(_ body: (inout EmulatorModel) throws -> T) rethrows -> T {
        try state.withLock { try body(&$0.model) }
    }

    public var behaviour: EmulatorBehaviour {
        get { state.withLock { $0.behaviour } }
        set { state.withLock { $0.behaviour = newValue } }
    }

    /// What `GET /_emulator/stats` reports.
    public struct Stats: Sendable, Codable, Equatable {
        public var requests: Int
        public var throttled: Int
        public var byRoute: [String: Int]
    }

    public var stats: Stats {
        state.withLock { Stats(requests: $0.requests, throttled: $0.throttled, byRoute: $0.byRoute) }
    }

    // MARK: HTTP

    /// The router serving the API under `/api/v2` and the emulator's own `/_emulator` routes.
    public func router() -> Router<BasicRequestContext> {
        let router = Router()
        for method in [HTTPRequest.Method.get, .post, .put, .delete, .patch] {
            router.on("**", method: method) { request, _ in await self.respond(request) }
        }
        return router
    }

    /// A server on `host:port` (0: a free port); `onRunning` gets the bound port.
    public func application(
        host: String = "127.0.0.1",
        port: Int = 0,
        logger: Logger,
        onRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        Application(
            router: router(),
            configuration: .init(address: .hostname(host, port: port), serverName: "fulcrum-emulator"),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? port) },
            logger: logger
        )
    }

    func respond(_ request: Request) async -> Response {
        var request = request
        let path = request.uri.path
        if path.hasPrefix("/_emulator/") { return await emulatorRoute(&request, path: path) }
        guard path.hasPrefix("/api/v2/") else { return Self.json(404, ["error": "Not Found", "status": 404]) }
        let body = try? await request.collectBody(upTo: 4 << 20)
        let call = APICall(request: request, body: body.map { Data($0.readableBytesView) })
        let route = call.route
        let fault = state.withLock { state -> Fault? in
            state.requests += 1
            state.byRoute[route, default: 0] += 1
            return state.nextFault()
        }
        if let latency = fault?.latency, latency > 0 { try? await Task.sleep(for: .milliseconds(latency)) }
        switch fault?.kind {
        case .hang:
            // Never answers; the client's timeout (or closing the connection) ends the call.
            while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) }
            return Self.json(500, ["error": "Internal Server Error", "status": 500])
        case .error: return Self.json(500, ["error": "Internal Server Error", "status": 500])
        case .throttle: return throttledResponse(retryAfter: 60)
        case nil: break
        }
        return state.withLock { state in
            var handler = APIHandler(state: state, call: call)
            let response = handler.handle()
            state = handler.state
            if state.behaviour.loseAnswerNext > 0 {
                state.behaviour.loseAnswerNext -= 1
                return Self.json(500, ["error": "Internal Server Error", "status": 500])
            }
            return response
        }
    }

    func throttledResponse(retryAfter: Int) -> Response {
        let send = state.withLock {
            $0.throttled += 1
            return $0.behaviour.sendRetryAfter
        }
        var response = Self.json(429, ["error": "Too Many Requests", "status": 429])
        if send { response.headers[.retryAfter] = "\(max(1, retryAfter))" }
        return response
    }

    func emulatorRoute(_ request: inout Request, path: String) async -> Response {
        switch (request.method, path) {
        case (.get, "/_emulator/stats"):
            let stats = self.stats
            return Self.json(200, ["requests": stats.requests, "throttled": stats.throttled, "byRoute": stats.byRoute])
        case (.get, "/_emulator/behaviour"):
            let data = (try? JSONEncoder().encode(behaviour)) ?? Data("{}".utf8)
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
        case (.put, "/_emulator/behaviour"):
            // A partial object: the keys it names change, the rest stay.
            guard let buffer = try? await request.collectBody(upTo: 1 << 16),
                let patch = try? JSONSerialization.jsonObject(with: Data(buffer.readableBytesView)) as? [String: Any]
            else {
                return Self.json(400, ["error": "the body must be a JSON object of behaviour switches"])
            }
            let current = (try? JSONSerialization.jsonObject(with: JSONEncoder().encode(behaviour)) as? [String: Any]) ?? [:]
            let merged = current.merging(patch) { _, new in new }
            do {
                let data = try JSONSerialization.data(withJSONObject: merged)
                behaviour = try JSONDecoder().decode(EmulatorBehaviour.self, from: data)
                return Self.json(200, merged)
            } catch {
                return Self.json(400, ["error": "\(error)"])
            }
        default:
            return Self.json(404, ["error": "Not Found", "status": 404])
        }
    }

    static func json(_ status: Int, _ object: Any?) -> Response {
        guard let object else { return Response(status: .init(code: status)) }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return Response(
            status: .init(code: status),
            headers: [.contentType: "application/json; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: data))
        )
    }
}

struct Fault {
    enum Kind { case error, throttle, hang }
    var kind: Kind?
    var latency: Int
}

extension Emulator.State {
    /// The fault this call gets, if any, from the behaviour's counters and rate.
    mutating func nextFault() -> Fault? {
        let latency = behaviour.latencyMilliseconds
        if behaviour.hangNext > 0 {
            behaviour.hangNext -= 1
            return Fault(kind: .hang, latency: latency)
        }
        if behaviour.failNext > 0 {
            behaviour.failNext -= 1
            return Fault(kind: .error, latency: latency)
        }
        if behaviour.throttleNext > 0 {
            behaviour.throttleNext -= 1
            return Fault(kind: .throttle, latency: latency)
        }
        if behaviour.errorRate > 0 {
            faultCounter += 1
            // Evenly spread: the call fails whenever the running total of `errorRate` crosses a whole number.
            let before = Int(Double(faultCounter - 1) * behaviour.errorRate)
            let after = Int(Double(faultCounter) * behaviour.errorRate)
            if after > before { return Fault(kind: .error, latency: latency) }
        }
        return latency > 0 ? Fault(kind: nil, latency: latency) : nil
    }
}
