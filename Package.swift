// swift-tools-version:6.2
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let log = Target.Dependency.product(name: "Logging", package: "swift-log")
let metrics = Target.Dependency.product(name: "Metrics", package: "swift-metrics")
let lifecycle = Target.Dependency.product(name: "ServiceLifecycle", package: "swift-service-lifecycle")
let propertyBased = Target.Dependency.product(name: "PropertyBased", package: "swift-property-based")

/// One plugin (a stage or a backend) is a library target under `Plugins/<Name>/Sources` and a test target under
/// `Plugins/<Name>/Tests`. Adding a plugin takes one line in `targets` below and one `register` in the executable.
func gatewayPlugin(_ name: String, dependencies: [Target.Dependency] = [], testDependencies: [Target.Dependency] = []) -> [Target] {
    [
        .target(
            name: name,
            dependencies: ["SCIMCore", "GatewayCore", log, metrics] + dependencies,
            path: "Plugins/\(name)/Sources",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "\(name)Tests",
            dependencies: [.byName(name: name), "GatewayTesting", .product(name: "Yams", package: "Yams"), propertyBased] + testDependencies,
            path: "Plugins/\(name)/Tests",
            swiftSettings: swiftSettings
        ),
    ]
}

let package = Package(
    name: "scim-gateway",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "scim-gateway", targets: ["scim-gateway"]),
        .executable(name: "fulcrum-emulator", targets: ["fulcrum-emulator"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", exact: "2.28.1", traits: ["FullFoundation"]),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", exact: "2.37.6"),
        .package(url: "https://github.com/apple/swift-log.git", exact: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", exact: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", exact: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", exact: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams.git", exact: "6.2.2"),
        .package(url: "https://github.com/vapor/sqlite-nio.git", exact: "1.13.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-certificates.git", exact: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.0.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", exact: "2.0.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", exact: "1.37.0"),
    ],
    targets: [
        .target(
            name: "SCIMCore",
            dependencies: [.product(name: "HTTPTypes", package: "swift-http-types")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "GatewayCore",
            dependencies: [
                "SCIMCore", log, metrics, lifecycle, .product(name: "Yams", package: "Yams"), .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SQLFilterCompiler",
            dependencies: ["SCIMCore", "GatewayCore"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "GatewayHTTP",
            dependencies: [
                "SCIMCore", "GatewayCore", log, metrics, lifecycle,
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "GatewayTesting",
            dependencies: [
                "SCIMCore", "GatewayCore", "SQLiteBackend", "FulcrumBackend", "FulcrumEmulator", log, metrics, lifecycle,
                .product(name: "Yams", package: "Yams"), .product(name: "Hummingbird", package: "hummingbird"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "scim-gateway",
            dependencies: [
                "SCIMCore", "GatewayCore", "GatewayHTTP", "AuthenticationStage", "ManagedNamespaceStage", "RateLimitStage", "SchemaValidationStage",
                "AttributeMappingStage", "SQLiteBackend", "FulcrumBackend", log,
                metrics,
                lifecycle,
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "scim-gateway-bench",
            dependencies: [
                "GatewayCore", "GatewayTesting", "SQLiteBackend", .product(name: "SQLiteNIO", package: "sqlite-nio"),
                .product(name: "HummingbirdTesting", package: "hummingbird"), .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            path: "Benchmarks/Sources/scim-gateway-bench",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "FulcrumEmulator",
            dependencies: [
                log, .product(name: "Hummingbird", package: "hummingbird"), .product(name: "Yams", package: "Yams"),
                .product(name: "Crypto", package: "swift-crypto"), .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "fulcrum-emulator",
            dependencies: [
                "FulcrumEmulator", log, .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "FulcrumEmulatorTests",
            dependencies: ["FulcrumEmulator", .product(name: "HummingbirdTesting", package: "hummingbird")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SCIMCoreTests",
            dependencies: ["SCIMCore", .product(name: "HTTPTypes", package: "swift-http-types")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "GatewayCoreTests",
            dependencies: ["GatewayCore", "GatewayTesting", propertyBased],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "GatewayHTTPTests",
            dependencies: [
                "GatewayHTTP", "GatewayTesting", "AuthenticationStage", "ManagedNamespaceStage", "RateLimitStage", "SchemaValidationStage",
                "AttributeMappingStage", "SQLiteBackend",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: [
                "scim-gateway", "fulcrum-emulator", "GatewayTesting",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
        + gatewayPlugin("AuthenticationStage")
        + gatewayPlugin("ManagedNamespaceStage")
        + gatewayPlugin("RateLimitStage")
        + gatewayPlugin("SchemaValidationStage")
        + gatewayPlugin("AttributeMappingStage")
        + gatewayPlugin(
            "SQLiteBackend",
            dependencies: [
                "SQLFilterCompiler",
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                lifecycle,
            ]
        )
        + gatewayPlugin(
            "FulcrumBackend",
            dependencies: [
                "SQLiteBackend", lifecycle,
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            testDependencies: ["FulcrumEmulator", log, metrics, lifecycle, .product(name: "Hummingbird", package: "hummingbird")]
        )
)
