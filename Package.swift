// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "harepost",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "harepost", targets: ["harepost"]),
        .executable(name: "harepost-baseline", targets: ["harepost-baseline"]),
        .library(name: "HarepostProto", targets: ["HarepostProto"]),
        .library(name: "HarepostJSON", targets: ["HarepostJSON"]),
        .library(name: "HarepostRPC", targets: ["HarepostRPC"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.5.1"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        // protobuf-c code generated from proto/ by scripts/generate-protos.sh, plus
        // the descriptor registry and layout checks. Only HarepostProto imports it.
        .target(
            name: "CHarepostProto",
            cSettings: [.headerSearchPath("generated")],
            linkerSettings: [.linkedLibrary("protobuf-c")]
        ),
        // Generic messages over protobuf-c descriptors: build, read, pack, unpack.
        .target(
            name: "HarepostProto",
            dependencies: ["CHarepostProto"],
            swiftSettings: swiftSettings
        ),
        // Descriptor-driven JSON <-> message bridge.
        .target(
            name: "HarepostJSON",
            dependencies: ["HarepostProto", "HarepostTime"],
            swiftSettings: swiftSettings
        ),
        // Time as text and numbers: RFC 3339, durations in nanoseconds. No dependencies.
        .target(
            name: "HarepostTime",
            swiftSettings: swiftSettings
        ),
        // Labelled swift-metrics families made once and reused on hot paths.
        .target(
            name: "HarepostMetrics",
            dependencies: [
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // The retry policy: pure decisions, no I/O (the compiler holds it to that).
        .target(
            name: "HarepostRetryPolicy",
            dependencies: ["HarepostTime"],
            swiftSettings: swiftSettings
        ),
        // Length-prefixed protobuf RPC over Unix sockets: framing, server, client.
        .target(
            name: "HarepostRPC",
            dependencies: [
                "HarepostProto",
                "HarepostTime",
                "HarepostMetrics",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The auth service: accounts, API keys, signing secrets (SQLite).
        .target(
            name: "HarepostAuth",
            dependencies: [
                "HarepostProto",
                "HarepostRPC",
                "HarepostSQLite",
                "HarepostTime",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // What SQLite errors say about the disk, shared by auth and store.
        .target(
            name: "HarepostSQLite",
            dependencies: [.product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: swiftSettings
        ),
        // Which target addresses are internal (SSRF guard), shared by store and dispatcher.
        .target(
            name: "HarepostNetworkPolicy",
            swiftSettings: swiftSettings
        ),
        // The store service: domains, deliveries, attempts, the due-work queue (SQLite).
        .target(
            name: "HarepostStore",
            dependencies: [
                "HarepostProto",
                "HarepostJSON",
                "HarepostRPC",
                "HarepostTime",
                "HarepostSQLite",
                "HarepostNetworkPolicy",
                "HarepostCurl",
                "CSQLiteConfig",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Process-wide SQLite settings (sqlite3_config is variadic). Only HarepostStore imports it.
        .target(
            name: "CSQLiteConfig",
            linkerSettings: [.linkedLibrary("sqlite3")]
        ),
        // libcurl and fixed-argument wrappers of its variadic calls. Only HarepostCurl imports it.
        .target(
            name: "CCurl",
            linkerSettings: [.linkedLibrary("curl")]
        ),
        // Outbound HTTP: libcurl's multi interface on its own thread, with the
        // connect-time address guard.
        .target(
            name: "HarepostCurl",
            dependencies: [
                "CCurl",
                "HarepostNetworkPolicy",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The dispatcher: claim, attempt over HTTP, decide (retry policy), record.
        .target(
            name: "HarepostDispatcher",
            dependencies: [
                "HarepostJSON",
                "HarepostProto",
                "HarepostRPC",
                "HarepostCurl",
                "HarepostRetryPolicy",
                "HarepostMetrics",
                "HarepostTime",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The public HTTP listener (SwiftNIO's HTTP/1.1 pipeline).
        .target(
            name: "HarepostGateway",
            dependencies: [
                "HarepostProto",
                "HarepostRPC",
                "HarepostJSON",
                "HarepostMetrics",
                "HarepostTime",
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Runs the components as child processes and restarts any that dies (`harepost up`).
        .target(
            name: "HarepostSupervisor",
            dependencies: [
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            // The bare Hummingbird endpoints scripts/bench.py measures the
            // gateway against; not part of the production binary.
            name: "harepost-baseline",
            dependencies: [
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "harepost",
            dependencies: [
                "HarepostRPC",
                "HarepostJSON",
                "HarepostTime",
                "HarepostMetrics",
                "HarepostGateway",
                "HarepostAuth",
                "HarepostStore",
                "HarepostDispatcher",
                "HarepostCurl",
                "HarepostSupervisor",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Helpers shared by the test targets (child processes without blocking the pool).
        .target(
            name: "HarepostTestSupport",
            dependencies: [
                "HarepostRPC",
                "HarepostTime",
                "HarepostJSON",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/HarepostTestSupport",
            resources: [.copy("Fixtures")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "HarepostProtoTests",
            dependencies: ["HarepostProto", "HarepostTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "HarepostJSONTests",
            dependencies: [
                "HarepostTime", "HarepostJSON", "HarepostProto", "HarepostTestSupport",
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "HarepostAuthTests",
            dependencies: [
                "HarepostTestSupport",
                "HarepostAuth",
                "HarepostRPC",
                "HarepostProto",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "HarepostStoreTests",
            dependencies: [
                "HarepostTestSupport",
                "HarepostStore",
                "HarepostRPC",
                "HarepostProto",
                "HarepostJSON",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "HarepostNetworkPolicyTests",
            dependencies: ["HarepostNetworkPolicy"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "HarepostGatewayTests",
            dependencies: [
                "HarepostGateway",
                "HarepostTestSupport",
                "HarepostAuth",
                "HarepostStore",
                "HarepostRPC",
                "HarepostProto",
                "HarepostJSON",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "HarepostDispatcherTests",
            dependencies: [
                "HarepostRetryPolicy",
                "HarepostDispatcher",
                "HarepostCurl",
                "HarepostTestSupport",
                "HarepostStore",
                "HarepostAuth",
                "HarepostRPC",
                "HarepostProto",
                "HarepostJSON",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // Starts real `harepost` processes.
        .testTarget(
            name: "HarepostEndToEndTests",
            dependencies: [
                "harepost",
                "HarepostTestSupport",
                "HarepostRPC",
                "HarepostProto",
                "HarepostJSON",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "HarepostSupervisorTests",
            dependencies: [
                "HarepostSupervisor",
                "HarepostTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "HarepostRPCTests",
            dependencies: [
                "HarepostMetrics",
                "HarepostTime",
                "HarepostRPC",
                "HarepostTestSupport",
                "HarepostProto",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOTestUtils", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
