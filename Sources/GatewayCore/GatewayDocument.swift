public import Foundation
internal import Yams

/// `gateway.yaml`, decoded: typed `server:`, `scim:` and `bootstrap:` sections, and undecoded plugin blocks that the
/// ``PluginRegistry`` hands to each plugin.
///
/// ```yaml
/// server: { host: 0.0.0.0, port: 8443, tls: { selfSigned: true } }
/// scim: { defaultPageSize: 100, maxPageSize: 1000 }
/// pipeline:
///   - use: authentication
/// backend: { use: sqlite, config: { path: data/gateway.sqlite } }
/// bootstrap: { organization: { name: Example }, owner: { email: owner@example.com } }
/// ```
public struct GatewayDocument {
    public var server: ListenerConfiguration
    public var scim: SCIMConfiguration
    public var logging: LoggingConfiguration
    public var pipeline: [PluginReference]
    public var backend: PluginReference
    public var bootstrap: BootstrapConfiguration?
    /// The directory relative paths resolve against.
    public var directory: URL

    static let topLevelKeys = ["server", "scim", "logging", "pipeline", "backend", "bootstrap"]

    /// Reads and decodes the file at `url`.
    public init(contentsOf url: URL) throws(ConfigurationError) {
        let text: String
        do {
            text = try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw ConfigurationError(.unreadable, path: "", message: "cannot read the file: \(error.localizedDescription)")
        }
        try self.init(yaml: text, directory: url.deletingLastPathComponent())
    }

    /// Decodes a document given as text; relative paths resolve against `directory`.
    public init(yaml: String, directory: URL) throws(ConfigurationError) {
        let root = try ConfigBlock(yaml: yaml)
        guard !root.isEmpty else { throw ConfigurationError(.missingKey, path: "backend", message: "required key is missing") }
        if let unknown = root.keys.first(where: { !Self.topLevelKeys.contains($0) }) {
            throw .unknownKey(unknown)
        }
        self.directory = directory
        self.server = try root.child("server").decode(ListenerConfiguration.self)
        try server.validate(path: "server")
        self.scim = try root.child("scim").decode(SCIMConfiguration.self)
        try scim.validate(path: "scim")
        self.logging = try root.child("logging").decode(LoggingConfiguration.self)
        self.pipeline = try root.child("pipeline").elements().map { element throws(ConfigurationError) in try Self.reference(element) }
        let backendBlock = root.child("backend")
        guard !backendBlock.isEmpty else { throw ConfigurationError(.missingKey, path: "backend", message: "required key is missing") }
        self.backend = try Self.reference(backendBlock)
        let bootstrapBlock = root.child("bootstrap")
        self.bootstrap = bootstrapBlock.isEmpty ? nil : try bootstrapBlock.decode(BootstrapConfiguration.self)
        try bootstrap?.validate(path: "bootstrap")
    }

    static func reference(_ block: ConfigBlock) throws(ConfigurationError) -> PluginReference {
        if let unknown = block.keys.first(where: { $0 != "use" && $0 != "config" }) {
            throw .unknownKey(ConfigBlock.join(block.path, unknown))
        }
        let useBlock = block.child("use")
        guard !useBlock.isEmpty else { throw ConfigurationError(.missingKey, path: useBlock.path, message: "required key is missing") }
        let name = try useBlock.decode(String.self)
        return PluginReference(name: PluginName(rawValue: name), config: block.child("config"), usePath: useBlock.path)
    }
}

@available(*, unavailable)
extension GatewayDocument: Sendable {}

/// `server:` — the listener.
public struct ListenerConfiguration: Codable, Sendable, Hashable {
    /// Address to bind. Default `0.0.0.0`.
    public var host: String = "0.0.0.0"
    /// Port to bind; `0` picks a free one. Default `8443`.
    public var port: Int = 8443
    /// HTTPS settings. Without them the listener speaks plain HTTP, which needs ``plainHTTP`` and a loopback ``host``.
    public var tls: TLSSettings?
    /// Allow plain HTTP (no `tls:`); only on a loopback address. Default `false`.
    public var plainHTTP: Bool = false
    /// The URL clients use to reach the gateway (`https://scim.example.com`), for the Tenant URL and `meta.location`.
    /// Default: derived from host and port.
    public var publicURL: String?
    /// Largest request body accepted, in bytes; larger bodies get 413. Default 1 MiB.
    public var maxBodyBytes: Int = 1_048_576
    /// Serve `GET /bench/ceiling`: a fixed body the size of a user, through the same listener, TLS and middleware
    /// but no pipeline or store, for benchmarks to measure the ceiling. Default `false`.
    public var benchmarkCeiling: Bool = false
    /// Seconds a connection may sit without a complete request (a raw TCP connection, a stalled TLS handshake,
    /// headers sent halfway, an idle keep-alive) before it is closed. Default 60.
    public var idleTimeout: Int = 60
    /// Most connections open at once; one more is closed as soon as it opens. Default 1024.
    public var maxConnections: Int = 1024

    public init() {}

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        host = try c.decodeIfPresent(String.self, forKey: .host) ?? host
        port = try c.decodeIfPresent(Int.self, forKey: .port) ?? port
        tls = try c.decodeIfPresent(TLSSettings.self, forKey: .tls)
        plainHTTP = try c.decodeIfPresent(Bool.self, forKey: .plainHTTP) ?? plainHTTP
        publicURL = try c.decodeIfPresent(String.self, forKey: .publicURL)
        maxBodyBytes = try c.decodeIfPresent(Int.self, forKey: .maxBodyBytes) ?? maxBodyBytes
        benchmarkCeiling = try c.decodeIfPresent(Bool.self, forKey: .benchmarkCeiling) ?? benchmarkCeiling
        idleTimeout = try c.decodeIfPresent(Int.self, forKey: .idleTimeout) ?? idleTimeout
        maxConnections = try c.decodeIfPresent(Int.self, forKey: .maxConnections) ?? maxConnections
    }

    /// The certificate source.
    public struct TLSSettings: Codable, Sendable, Hashable {
        /// PEM certificate chain file (relative to the config file).
        public var certificateChain: String?
        /// PEM private key file (relative to the config file).
        public var privateKey: String?
        /// Generate (once) a development certificate into ``selfSignedDirectory``. Default `false`.
        public var selfSigned: Bool = false
        /// Where a self-signed certificate is kept. Default `data/tls`.
        public var selfSignedDirectory: String = "data/tls"

        public init() {}

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            certificateChain = try c.decodeIfPresent(String.self, forKey: .certificateChain)
            privateKey = try c.decodeIfPresent(String.self, forKey: .privateKey)
            selfSigned = try c.decodeIfPresent(Bool.self, forKey: .selfSigned) ?? selfSigned
            selfSignedDirectory = try c.decodeIfPresent(String.self, forKey: .selfSignedDirectory) ?? selfSignedDirectory
        }
    }

    /// `true` when `host` is a loopback address.
    public var isLoopback: Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    func validate(path: String) throws(ConfigurationError) {
        guard (0...65535).contains(port) else { throw .invalidValue("\(path).port", "must be between 0 and 65535") }
        guard maxBodyBytes >= 1024 else { throw .invalidValue("\(path).maxBodyBytes", "must be at least 1024") }
        guard (1...3600).contains(idleTimeout) else { throw .invalidValue("\(path).idleTimeout", "must be between 1 and 3600 seconds") }
        guard maxConnections >= 1 else { throw .invalidValue("\(path).maxConnections", "must be at least 1") }
        if let tls {
            if tls.selfSigned {
                if tls.certificateChain != nil || tls.privateKey != nil {
                    throw .invalidValue("\(path).tls.selfSigned", "give either selfSigned: true or certificateChain and privateKey, not both")
                }
            } else {
                guard tls.certificateChain != nil else {
                    throw ConfigurationError(.missingKey, path: "\(path).tls.certificateChain", message: "required unless selfSigned is true")
                }
                guard tls.privateKey != nil else {
                    throw ConfigurationError(.missingKey, path: "\(path).tls.privateKey", message: "required unless selfSigned is true")
                }
            }
            if plainHTTP { throw .invalidValue("\(path).plainHTTP", "cannot be true together with tls") }
        } else {
            guard plainHTTP else {
                throw ConfigurationError(
                    .missingKey,
                    path: "\(path).tls",
                    message: "required: HTTPS is the default (set plainHTTP: true for loopback-only HTTP)"
                )
            }
            guard isLoopback else {
                throw .invalidValue("\(path).host", "plain HTTP is only allowed on a loopback address (127.0.0.1, ::1, localhost), not \(host)")
            }
        }
        if let publicURL, !(publicURL.hasPrefix("https://") || publicURL.hasPrefix("http://")) {
            throw .invalidValue("\(path).publicURL", "must start with https:// or http://")
        }
    }
}

/// `scim:` — protocol-level settings shared by every backend.
public struct SCIMConfiguration: Codable, Sendable, Hashable {
    /// Page size when a list request gives no `count`. Default 100.
    public var defaultPageSize: Int = 100
    /// Largest page returned, whatever `count` asks. Default 1000.
    public var maxPageSize: Int = 1000
    /// Extension schemas of this deployment, published in `/Schemas` and stored with the resources. Default none.
    public var extensions: [ExtensionSchema] = []
    /// Searches no index answers (`emails.value co "x"`) one organization may run at once; more get 429. Default 2.
    public var maxConcurrentScans: Int = 2

    public init() {}

    /// A declared extension schema: `id` is its URN; its attributes are simple (not complex).
    public struct ExtensionSchema: Codable, Sendable, Hashable {
        public var id: String
        public var name: String
        public var description: String = ""
        /// `User` or `Group`. Default `User`.
        public var resourceType: String = "User"
        public var attributes: [Attribute]

        public struct Attribute: Codable, Sendable, Hashable {
            public var name: String
            /// `string`, `boolean`, `integer`, `decimal`, `dateTime` or `reference`. Default `string`.
            public var type: AttributeDefinition.DataType = .string
            public var multiValued: Bool = false
            public var caseExact: Bool = false
            public var description: String = ""

            public init(from decoder: any Decoder) throws {
                let c = try decoder.container(keyedBy: CodingKeys.self)
                name = try c.decode(String.self, forKey: .name)
                type = try c.decodeIfPresent(AttributeDefinition.DataType.self, forKey: .type) ?? type
                multiValued = try c.decodeIfPresent(Bool.self, forKey: .multiValued) ?? multiValued
                caseExact = try c.decodeIfPresent(Bool.self, forKey: .caseExact) ?? caseExact
                description = try c.decodeIfPresent(String.self, forKey: .description) ?? description
            }
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            id = try c.decode(String.self, forKey: .id)
            name = try c.decode(String.self, forKey: .name)
            description = try c.decodeIfPresent(String.self, forKey: .description) ?? description
            resourceType = try c.decodeIfPresent(String.self, forKey: .resourceType) ?? resourceType
            attributes = try c.decode([Attribute].self, forKey: .attributes)
        }

        var definition: SchemaDefinition {
            SchemaDefinition(
                id: id,
                name: name,
                description: description,
                attributes: attributes.map {
                    AttributeDefinition($0.name, $0.type, multiValued: $0.multiValued, caseExact: $0.caseExact, description: $0.description)
                }
            )
        }
    }

    /// The catalog of every schema served: the built-in ones and ``extensions``.
    public var catalog: SchemaCatalog {
        SchemaCatalog(
            userExtensions: extensions.filter { $0.resourceType == "User" }.map(\.definition),
            groupExtensions: extensions.filter { $0.resourceType == "Group" }.map(\.definition)
        )
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        defaultPageSize = try c.decodeIfPresent(Int.self, forKey: .defaultPageSize) ?? defaultPageSize
        maxPageSize = try c.decodeIfPresent(Int.self, forKey: .maxPageSize) ?? maxPageSize
        extensions = try c.decodeIfPresent([ExtensionSchema].self, forKey: .extensions) ?? extensions
        maxConcurrentScans = try c.decodeIfPresent(Int.self, forKey: .maxConcurrentScans) ?? maxConcurrentScans
    }

    func validate(path: String) throws(ConfigurationError) {
        guard maxPageSize >= 1 else { throw .invalidValue("\(path).maxPageSize", "must be at least 1") }
        guard maxConcurrentScans >= 1 else { throw .invalidValue("\(path).maxConcurrentScans", "must be at least 1") }
        guard (1...maxPageSize).contains(defaultPageSize) else {
            throw .invalidValue("\(path).defaultPageSize", "must be between 1 and maxPageSize (\(maxPageSize))")
        }
        var seen = Set(SchemaCatalog.standard.all.map { $0.id.lowercased() })
        for (index, schema) in extensions.enumerated() {
            let at = "\(path).extensions[\(index)]"
            guard schema.id.lowercased().hasPrefix("urn:"), schema.id.split(separator: ":").count >= 3 else {
                throw .invalidValue("\(at).id", "must be a URN (urn:…)")
            }
            guard seen.insert(schema.id.lowercased()).inserted else { throw .invalidValue("\(at).id", "\(schema.id) is already defined") }
            guard ["User", "Group"].contains(schema.resourceType) else { throw .invalidValue("\(at).resourceType", "must be User or Group") }
            guard !schema.attributes.isEmpty else { throw .invalidValue("\(at).attributes", "must list at least one attribute") }
            var names = Set<String>()
            for (attributeIndex, attribute) in schema.attributes.enumerated() {
                let attributePath = "\(at).attributes[\(attributeIndex)]"
                guard (try? AttributePath(parsing: attribute.name)) != nil, !attribute.name.contains(".") else {
                    throw .invalidValue("\(attributePath).name", "'\(attribute.name)' is not an attribute name")
                }
                guard attribute.type != .complex else { throw .invalidValue("\(attributePath).type", "complex attributes cannot be declared") }
                guard names.insert(attribute.name.lowercased()).inserted else {
                    throw .invalidValue("\(attributePath).name", "\(attribute.name) is declared twice")
                }
            }
        }
    }
}

/// `logging:`.
public struct LoggingConfiguration: Codable, Sendable, Hashable {
    /// `trace`, `debug`, `info`, `notice`, `warning`, `error` or `critical`. Default `info`.
    public var level: Level = .info

    public enum Level: String, Codable, Sendable, Hashable {
        case trace, debug, info, notice, warning, error, critical
    }

    public init() {}

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        level = try c.decodeIfPresent(Level.self, forKey: .level) ?? level
    }
}

/// `bootstrap:` — what the first start creates in an empty store, so a new user gets a working Tenant URL and token.
public struct BootstrapConfiguration: Codable, Sendable, Hashable {
    public var organization: OrganizationSeed
    public var owner: OwnerSeed
    /// Description stored with the bootstrap token. Default `Microsoft Entra provisioning`.
    public var tokenDescription: String = "Microsoft Entra provisioning"

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        organization = try c.decode(OrganizationSeed.self, forKey: .organization)
        owner = try c.decode(OwnerSeed.self, forKey: .owner)
        tokenDescription = try c.decodeIfPresent(String.self, forKey: .tokenDescription) ?? tokenDescription
    }

    /// Checks what the first start would otherwise fail on halfway: the block is applied in one transaction, but a
    /// mistake is best reported before the gateway starts.
    func validate(path: String) throws(ConfigurationError) {
        if organization.name.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            throw .invalidValue("\(path).organization.name", "must not be empty")
        }
        if !EmailAddress.isPlausible(owner.email.trimmingCharacters(in: .whitespacesAndNewlines)) {
            throw .invalidValue("\(path).owner.email", "'\(owner.email)' is not an email address")
        }
    }

    public struct OrganizationSeed: Codable, Sendable, Hashable {
        public var name: String
        /// Default `enterprise`.
        public var plan: Plan = .enterprise
        /// Default `true`.
        public var sso: Bool = true
        /// Default `true`.
        public var developerPack: Bool = true

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            name = try c.decode(String.self, forKey: .name)
            plan = try c.decodeIfPresent(Plan.self, forKey: .plan) ?? plan
            sso = try c.decodeIfPresent(Bool.self, forKey: .sso) ?? sso
            developerPack = try c.decodeIfPresent(Bool.self, forKey: .developerPack) ?? developerPack
        }
    }

    public struct OwnerSeed: Codable, Sendable, Hashable {
        public var email: String
        public var firstName: String?
        public var lastName: String?
    }
}
