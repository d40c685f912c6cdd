import Foundation
public import GatewayCore
import Logging
public import Metrics

/// Checks every request against the schemas the server publishes, before anything is written:
/// types, required attributes, canonical values, multi-valued shapes, at most one `primary`; read-only attributes are
/// dropped from input, and a PATCH aimed at a read-only or immutable attribute is 400 `mutability`. Limits bound body
/// size (413), filters (400 `invalidFilter`) and PATCH size.
///
/// Attributes the schemas do not define follow ``Configuration/unsupportedAttributes``: by default they are accepted
/// and dropped (not stored, not echoed, counted in `scim_gateway.validation.unsupported_attributes`), so Entra's default
/// mappings (phone numbers, addresses, …) never fail a create.
///
/// ```yaml
/// pipeline:
///   - use: validation
///     config:
///       unsupportedAttributes: ignore   # ignore | store | reject
///       maxBodyBytes: 1048576
///       maxFilterLength: 2048
///       maxFilterDepth: 8
///       maxOperationsPerPatch: 1000
///       maxMembersPerPatch: 1000
///       maxIdentifierLength: 512        # userName, displayName, externalId, emails.value, members.value
///       maxStringLength: 8192           # every other string
///       canonicalValues: enforce        # enforce | ignore
/// ```
///
/// `password` is write-only (RFC 7643 §4.1): its type is checked, then it is dropped in every mode; it is never
/// stored or returned. The RFC 7643 User attributes a Fulcrum member does not store (`phoneNumbers`, `addresses`,
/// …) are type-checked before the `unsupportedAttributes` policy applies, and a PATCH left with no operation once
/// they are dropped is a successful no-op (Entra sends phone and address changes with its default mappings).
public struct SchemaValidationStage: Stage {
    /// What to do with attributes the published schemas do not define.
    public enum UnsupportedAttributes: String, Codable, Sendable, Hashable {
        /// Accept the request, drop the attribute, count it.
        case ignore
        /// Accept and keep the attribute as sent (it is echoed back, though `/Schemas` does not describe it).
        case store
        /// 400 `invalidValue` naming the attribute.
        case reject
    }

    /// Whether `canonicalValues` (emails `type`, members `type`) are enforced.
    public enum CanonicalValues: String, Codable, Sendable, Hashable {
        case enforce, ignore
    }

    /// The `config:` block.
    public struct Configuration: Codable, Sendable, Hashable {
        /// Default `ignore`.
        public var unsupportedAttributes: UnsupportedAttributes = .ignore
        /// Largest body, in bytes (413 above). Default 1 MiB.
        public var maxBodyBytes: Int = 1_048_576
        /// Longest filter, in characters. Default 2048.
        public var maxFilterLength: Int = 2048
        /// Deepest nesting of a filter (parentheses, `not`, value paths, and/or). Default 8.
        public var maxFilterDepth: Int = 8
        /// Most operations in one PATCH. Default 1000.
        public var maxOperationsPerPatch: Int = 1000
        /// Most group members added or removed by one PATCH. Default 1000.
        public var maxMembersPerPatch: Int = 1000
        /// Longest `userName`, `displayName`, `externalId`, `emails.value` or `members.value`, in characters.
        /// Default 512: Entra's longest (a 256-character mail or group name) fits twice.
        public var maxIdentifierLength: Int = 512
        /// Longest value of any other string attribute, in characters. Default 8192.
        public var maxStringLength: Int = 8192
        /// Default `enforce`.
        public var canonicalValues: CanonicalValues = .enforce

        public init() {}

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            unsupportedAttributes = try c.decodeIfPresent(UnsupportedAttributes.self, forKey: .unsupportedAttributes) ?? unsupportedAttributes
            maxBodyBytes = try c.decodeIfPresent(Int.self, forKey: .maxBodyBytes) ?? maxBodyBytes
            maxFilterLength = try c.decodeIfPresent(Int.self, forKey: .maxFilterLength) ?? maxFilterLength
            maxFilterDepth = try c.decodeIfPresent(Int.self, forKey: .maxFilterDepth) ?? maxFilterDepth
            maxOperationsPerPatch = try c.decodeIfPresent(Int.self, forKey: .maxOperationsPerPatch) ?? maxOperationsPerPatch
            maxMembersPerPatch = try c.decodeIfPresent(Int.self, forKey: .maxMembersPerPatch) ?? maxMembersPerPatch
            maxIdentifierLength = try c.decodeIfPresent(Int.self, forKey: .maxIdentifierLength) ?? maxIdentifierLength
            maxStringLength = try c.decodeIfPresent(Int.self, forKey: .maxStringLength) ?? maxStringLength
            canonicalValues = try c.decodeIfPresent(CanonicalValues.self, forKey: .canonicalValues) ?? canonicalValues
        }
    }

    public static let name: PluginName = "validation"

    let configuration: Configuration
    let validator: SchemaValidator
    let unsupported: Counter

    public init(configuration: Configuration, context: PluginContext) async throws {
        for (value, key) in [
            (configuration.maxBodyBytes, "maxBodyBytes"), (configuration.maxFilterLength, "maxFilterLength"),
            (configuration.maxFilterDepth, "maxFilterDepth"), (configuration.maxOperationsPerPatch, "maxOperationsPerPatch"),
            (configuration.maxMembersPerPatch, "maxMembersPerPatch"), (configuration.maxIdentifierLength, "maxIdentifierLength"),
            (configuration.maxStringLength, "maxStringLength"),
        ] where value < 1 {
            throw ConfigurationError.invalidValue(key, "must be at least 1")
        }
        self.configuration = configuration
        guard configuration.maxFilterDepth <= FilterLimits.default.maxDepth else {
            throw ConfigurationError.invalidValue("maxFilterDepth", "must be at most \(FilterLimits.default.maxDepth)")
        }
        self.validator = SchemaValidator(
            enforceCanonicalValues: configuration.canonicalValues == .enforce,
            catalog: context.schemas,
            limits: .init(
                identifier: configuration.maxIdentifierLength,
                string: configuration.maxStringLength,
                filter: FilterLimits(maxLength: configuration.maxFilterLength, maxDepth: configuration.maxFilterDepth)
            )
        )
        self.unsupported = Counter(label: "scim_gateway.validation.unsupported_attributes", factory: context.metricsFactory)
    }

    public func handle(
        _ request: SCIMRequest,
        context: GatewayContext,
        next: (SCIMRequest, GatewayContext) async throws -> SCIMResponse
    ) async throws -> SCIMResponse {
        var request = request
        var context = context
        if request.bodySize > configuration.maxBodyBytes {
            throw SCIMError(status: .contentTooLarge, detail: "the request body is larger than \(configuration.maxBodyBytes) bytes")
        }
        if let filter = request.query.filter, !filter.trimmingCharacters(in: .whitespaces).isEmpty {
            _ = try Filter(parsing: filter, limits: validator.limits.filter)
        }
        var found: [String] = []
        let drop = configuration.unsupportedAttributes == .ignore
        switch request.operation {
        case .create(let type), .replace(let type, _):
            guard let body = request.body else { throw SCIMError.invalidSyntax("the request needs a JSON body") }
            request.body = try validator.validateResource(body, type: type, dropUnsupported: drop, unsupported: &found)
        case .patch(let type, let id):
            guard let operations = request.patchOperations else { throw SCIMError.invalidSyntax("a PATCH needs a PatchOp body") }
            guard operations.count <= configuration.maxOperationsPerPatch else {
                throw SCIMError.invalidValue(
                    "a PATCH may carry at most \(configuration.maxOperationsPerPatch) operations; this one has \(operations.count)"
                )
            }
            request.patchOperations = try validator.validatePatch(operations, type: type, resourceID: id, dropUnsupported: drop, unsupported: &found)
        default:
            break
        }
        if !found.isEmpty {
            switch configuration.unsupportedAttributes {
            case .reject:
                throw SCIMError.invalidValue("unsupported attribute\(found.count == 1 ? "" : "s"): \(found.joined(separator: ", "))")
            case .ignore:
                unsupported.increment(by: found.count)
                context.logger.debug("dropped unsupported attributes", metadata: ["scim.attributes": "\(found.joined(separator: ","))"])
            case .store:
                break
            }
        }
        // In store mode every write keeps what earlier writes stored, not only the writes that bring something new.
        if configuration.unsupportedAttributes == .store { context.policy.storeUnsupportedAttributes = true }
        // Counted by the service on the change a PATCH really makes (a remove by filter, or of every member, too).
        context.policy.maxMembersPerPatch = configuration.maxMembersPerPatch
        return try await next(request, context)
    }
}
