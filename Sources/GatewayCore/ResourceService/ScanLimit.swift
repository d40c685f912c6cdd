public import SCIMCore
import Synchronization

/// Bounds the searches no index answers (a `co` over every member's emails, say) that one organization runs at
/// once: one tenant's slow filters queue behind each other on the backend's scan lane instead of piling up, and
/// beyond the bound the tenant gets 429 with `Retry-After`. Point reads, indexed searches and authentication are
/// never counted.
public final class ScanLimit: Sendable {
    public let perOrganization: Int
    private let running = Mutex<[String: Int]>([:])

    public init(perOrganization: Int) {
        self.perOrganization = perOrganization
    }

    /// Runs `body` holding one of the organization's scan slots, or throws 429 when all are taken.
    public func run<T: Sendable>(organizationID: String, _ body: () async throws -> T) async throws -> T {
        let admitted = running.withLock { running in
            let count = running[organizationID, default: 0]
            guard count < perOrganization else { return false }
            running[organizationID] = count + 1
            return true
        }
        guard admitted else {
            var error = SCIMError.tooManyRequests(scope: "organization", retryAfter: 1)
            error.detail =
                "\(perOrganization) searches that no index answers are already running for this organization; "
                + "retry after 1 second, or filter on userName, externalId, id or (for groups) displayName with eq"
            throw error
        }
        defer {
            running.withLock { running in
                let count = running[organizationID, default: 1] - 1
                running[organizationID] = count > 0 ? count : nil
            }
        }
        return try await body()
    }

    /// Whether a search over `type` can be answered from an index: no filter (a page of the listing index), or one
    /// that requires, through `and`, equality on an indexed attribute.
    public static func isIndexed(_ filter: Filter?, type: ResourceType) -> Bool {
        guard let filter else { return true }
        let keys: Set<String> = type == .user ? ["id", "username", "externalid"] : ["id", "displayname", "externalid"]
        func indexed(_ filter: Filter) -> Bool {
            switch filter {
            case .compare(let path, .eq, .string):
                return path.subAttribute == nil && (path.schema == nil || path.schema?.lowercased() == type.schema.lowercased())
                    && keys.contains(path.name.lowercased())
            case .and(let lhs, let rhs): return indexed(lhs) || indexed(rhs)
            default: return false
            }
        }
        return indexed(filter)
    }
}
