import AsyncHTTPClient
import Foundation
import GatewayCore
import Logging
import NIOCore
import NIOHTTP1
import SCIMCore

/// Fulcrum's REST API v2 over one shared `HTTPClient`: `X-ApiToken`, JSON both ways, a timeout per call, pacing
/// within the token's hourly budget, and retries where they are safe. Every failure leaves as a ``SCIMError`` (or
/// ``UpstreamRefusal`` for what the caller must decide on: a 404, a 422, a POST that may have landed).
struct FulcrumClient: Sendable {
    typealias Method = HTTPMethod
    let http: HTTPClient
    let baseURL: String
    let timeout: TimeAmount
    let retries: Int
    /// The longest `Retry-After` (or backoff) a request waits for before the client is told to come back later.
    let maximumWait: Duration
    let budget: UpstreamBudget
    let logger: Logger

    struct Response: Sendable {
        var status: Int
        var json: [String: any Sendable]?
    }

    /// A call Fulcrum answered in a way the caller must handle.
    enum UpstreamRefusal: Error, Sendable {
        case notFound
        /// 422: Fulcrum's validation message, flattened (`email has already been taken`).
        case invalid(String)
        /// A POST whose outcome is unknown (timeout, 5xx): verify before trying again.
        case uncertain(String)
    }

    /// Sends one call. GET, PUT and DELETE are retried on 5xx and timeouts; a POST is not (it may have landed: the
    /// caller verifies, see ``UpstreamRefusal/uncertain(_:)``). A 429 is retried for any method, after `Retry-After`
    /// or an exponential backoff with jitter, as long as the wait stays under ``maximumWait``.
    func send(
        _ method: Method,
        _ path: String,
        body: [String: Any]? = nil,
        token: String,
        budgetKey: String
    ) async throws -> Response {
        let idempotent = method != .POST
        var attempt = 0
        while true {
            if let wait = budget.spend(budgetKey, write: method != .GET) {
                var error = SCIMError(
                    status: .tooManyRequests,
                    detail: "the gateway has spent this token's Fulcrum budget (\(budget.callsPerHour) calls an hour); retry in \(wait) s"
                )
                error.headers[.retryAfter] = "\(wait)"
                throw error
            }
            var request = HTTPClientRequest(url: baseURL + path)
            request.method = method
            request.headers.add(name: "X-ApiToken", value: token)
            request.headers.add(name: "Accept", value: "application/json")
            request.headers.add(name: "User-Agent", value: "scim-gateway")
            if let body {
                request.headers.add(name: "Content-Type", value: "application/json")
                request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: body)))
            }
            let outcome: Outcome
            do {
                let response = try await http.execute(request, timeout: timeout)
                let bytes = try await response.body.collect(upTo: 64 << 20)
                outcome = .answered(Int(response.status.code), response.headers.first(name: "Retry-After"), bytes)
            } catch let error as HTTPClientError where [.deadlineExceeded, .readTimeout, .connectTimeout].contains(error) {
                outcome = .timedOut
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                outcome = .unreachable("\(error)")
            }
            attempt += 1
            switch outcome {
            case .answered(let status, _, let bytes) where (200..<300).contains(status):
                let json =
                    bytes.readableBytes == 0 ? nil : try? JSONSerialization.jsonObject(with: Data(bytes.readableBytesView)) as? [String: any Sendable]
                return Response(status: status, json: json)
            case .answered(429, let retryAfter, _):
                let wait = retryAfter.flatMap(Int.init).map { Duration.seconds($0) } ?? backoff(attempt)
                guard attempt <= retries, wait <= maximumWait else {
                    var error = SCIMError(status: .tooManyRequests, detail: "Fulcrum is rate limiting this token; retry later")
                    error.headers[.retryAfter] = "\(max(1, wait.components.seconds))"
                    throw error
                }
                logger.notice("Fulcrum answered 429; waiting", metadata: ["fulcrum.path": "\(path)", "fulcrum.wait_s": "\(wait.components.seconds)"])
                try await Task.sleep(for: wait)
            case .answered(let status, _, _) where [401, 402, 403].contains(status):
                throw SCIMError.unauthorized(
                    "Fulcrum refused the token (HTTP \(status)): it must be the API token of an Owner of an organization with the Developer Pack"
                )
            case .answered(404, _, _):
                throw UpstreamRefusal.notFound
            case .answered(422, _, let bytes):
                throw UpstreamRefusal.invalid(Self.message(of: bytes))
            case .answered(let status, _, let bytes) where status < 500:
                throw SCIMError(
                    status: .badGateway,
                    detail: "Fulcrum answered \(method) \(path) with HTTP \(status): \(SCIMError.excerpt(Self.message(of: bytes)))"
                )
            case .answered(let status, _, _):
                if !idempotent { throw UpstreamRefusal.uncertain("HTTP \(status)") }
                guard attempt <= retries else {
                    throw SCIMError(status: .badGateway, detail: "Fulcrum answered \(method) \(path) with HTTP \(status) \(attempt) times")
                }
                try await Task.sleep(for: backoff(attempt))
            case .timedOut:
                if !idempotent { throw UpstreamRefusal.uncertain("timed out") }
                guard attempt <= retries else {
                    throw SCIMError(
                        status: .gatewayTimeout,
                        detail: "Fulcrum did not answer \(method) \(path) within \(timeout.nanoseconds / 1_000_000_000) s"
                    )
                }
            case .unreachable(let reason):
                // Nothing was sent when the connection could not be made, so any method may retry.
                guard attempt <= retries else {
                    throw SCIMError(status: .badGateway, detail: "Fulcrum is unreachable at \(baseURL): \(SCIMError.excerpt(reason))")
                }
                try await Task.sleep(for: backoff(attempt))
            }
        }
    }

    enum Outcome {
        case answered(Int, String?, ByteBuffer)
        case timedOut
        case unreachable(String)
    }

    /// 0.5 s, 1 s, 2 s … with ±50% jitter.
    func backoff(_ attempt: Int) -> Duration {
        let base = 0.5 * pow(2, Double(max(0, attempt - 1)))
        return .milliseconds(Int(base * 1000 * Double.random(in: 0.5...1.5)))
    }

    /// Fulcrum's 422 body, `{"membership":{"errors":{"email":["has already been taken"]}}}` (or a string), as words.
    static func message(of bytes: ByteBuffer) -> String {
        guard let json = try? JSONSerialization.jsonObject(with: Data(bytes.readableBytesView)) as? [String: Any] else {
            return String(buffer: bytes)
        }
        var parts: [String] = []
        for (_, value) in json {
            guard let errors = (value as? [String: Any])?["errors"] else { continue }
            if let text = errors as? String { parts.append(text) }
            if let fields = errors as? [String: Any] {
                for (field, messages) in fields.sorted(by: { $0.key < $1.key }) {
                    let list = (messages as? [String]) ?? [(messages as? String) ?? "\(messages)"]
                    parts.append(list.map { field == "base" ? $0 : "\(field) \($0)" }.joined(separator: ", "))
                }
            }
        }
        return parts.isEmpty ? String(buffer: bytes) : parts.joined(separator: "; ")
    }

    // MARK: Lists

    /// Every item of a paginated list, asking for Fulcrum's maximum page; stops at `total_pages` or an empty page.
    func list(_ path: String, key: String, token: String, budgetKey: String) async throws -> [[String: any Sendable]] {
        var items: [[String: any Sendable]] = []
        var page = 1
        let separator = path.contains("?") ? "&" : "?"
        while true {
            let response = try await send(.GET, "\(path)\(separator)page=\(page)&per_page=20000", token: token, budgetKey: budgetKey)
            let batch = (response.json?[key] as? [[String: any Sendable]]) ?? []
            items += batch
            let totalPages = response.json?["total_pages"] as? Int ?? page
            if batch.isEmpty || page >= totalPages { return items }
            page += 1
        }
    }
}
