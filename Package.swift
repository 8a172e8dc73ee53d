// swift-tools-version:6.2
//
// Vane: one package, one dependency build. Shared modules live under Shared/, each service is an
// executable product under Services/, operator tools under Tools/. Benchmarks are added only when
// VANE_BENCHMARKS is set, so a plain `swift build` skips the benchmark dependencies; `make test` sets
// it, so CI compiles every benchmark target (without running them) and a break cannot go unseen.

import Foundation
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

/// ModelsCore is built optimized in debug builds too when VANE_BENCHMARKS is set (see there).
let optimizeModelsCore = ProcessInfo.processInfo.environment["VANE_BENCHMARKS"] != nil

var package = Package(
    name: "vane",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "ModelsCore", targets: ["ModelsCore"]),
        .library(name: "KafkaKit", targets: ["KafkaKit"]),
        .library(name: "ExperimentStats", targets: ["ExperimentStats"]),
        // The Swift server SDK (docs/sdks.md): `import VaneSDK` is all an application needs.
        .library(name: "VaneSDK", targets: ["VaneSDK"]),
        .executable(name: "vanectl", targets: ["vanectl"]),
        .executable(name: "management-api", targets: ["ManagementAPI"]),
        .executable(name: "events-ingest", targets: ["EventsIngest"]),
        .executable(name: "events-processor", targets: ["EventsProcessor"]),
        .executable(name: "relay-streamer", targets: ["RelayStreamer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.34.1"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-async-algorithms", from: "1.1.4"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-numerics", from: "1.1.1"),
    ],
    targets: [
        .target(
            name: "CVaneHash",
            path: "Shared/CVaneHash"
        ),
        .target(
            name: "ModelsCore",
            dependencies: ["CVaneHash"],
            path: "Shared/ModelsCore",
            // With VANE_BENCHMARKS (make test, make bench), optimized in debug builds too: the
            // evaluator's "no allocation" guarantee (EvaluationAllocationTests, which `make test` runs
            // in debug) holds for optimized code; unoptimized Swift allocates for generic and closure
            // plumbing the optimizer removes. Not by default: a package that depends on Vane (the
            // Swift SDK) may not use a target with unsafe flags.
            swiftSettings: strict + (optimizeModelsCore ? [.unsafeFlags(["-O"], .when(configuration: .debug))] : [])
        ),
        .target(
            name: "VaneSDK",
            dependencies: [
                "ModelsCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "SDKs/Swift/VaneSDK",
            swiftSettings: strict
        ),
        .target(
            name: "ExperimentStats",
            dependencies: [.product(name: "RealModule", package: "swift-numerics")],
            path: "Shared/ExperimentStats",
            swiftSettings: strict
        ),
        .systemLibrary(
            name: "CRdKafka",
            path: "Shared/CRdKafka",
            pkgConfig: "rdkafka",
            providers: [.apt(["librdkafka-dev"])]
        ),
        .target(
            name: "KafkaKit",
            dependencies: [
                "CRdKafka",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Shared/KafkaKit",
            swiftSettings: strict
        ),
        .target(
            name: "ServiceKit",
            dependencies: [
                "ModelsCore",
                "KafkaKit",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Shared/ServiceKit",
            swiftSettings: strict
        ),
        .target(
            name: "ConfigFeed",
            dependencies: [
                "ModelsCore",
                "ServiceKit",
                "KafkaKit",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Shared/ConfigFeed",
            swiftSettings: strict
        ),
        .target(
            name: "PostgresSupport",
            dependencies: [
                "ServiceKit",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Shared/PostgresSupport",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "ManagementAPI",
            dependencies: [
                "CZlib",
                "ModelsCore",
                "ExperimentStats",
                "PostgresSupport",
                "ServiceKit",
                "KafkaKit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Services/ManagementAPI",
            // The dashboard's HTML, CSS and ES modules: copied next to the binary (vane_ManagementAPI.resources/web),
            // read once at start (Dashboard/DashboardFiles.swift); the Docker image installs the folder too.
            resources: [.copy("Dashboard/web")],
            swiftSettings: strict
        ),
        .systemLibrary(
            name: "CZlib",
            path: "Services/EventsIngest/CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        .executableTarget(
            name: "EventsIngest",
            dependencies: [
                "CZlib",
                "ConfigFeed",
                "ModelsCore",
                "ServiceKit",
                "KafkaKit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Services/EventsIngest",
            exclude: ["CZlib"],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "EventsProcessor",
            dependencies: [
                "ModelsCore",
                "PostgresSupport",
                "ServiceKit",
                "KafkaKit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncAlgorithms", package: "swift-async-algorithms"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Services/EventsProcessor",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "RelayStreamer",
            dependencies: [
                "ModelsCore",
                "ServiceKit",
                "ConfigFeed",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Services/RelayStreamer",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "vanectl",
            dependencies: [
                "ModelsCore",
                "ExperimentStats",
                "KafkaKit",
                "ServiceKit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Tools/vanectl",
            swiftSettings: strict
        ),
        .target(
            name: "TestSupport",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Tests/TestSupport",
            swiftSettings: strict
        ),
        .testTarget(
            name: "KafkaKitTests",
            dependencies: [
                "CRdKafka",
                "KafkaKit",
                "TestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle"),
            ],
            path: "Tests/KafkaKitTests",
            swiftSettings: strict
        ),
        .testTarget(
            name: "ServiceKitTests",
            dependencies: [
                "ServiceKit", "ModelsCore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Tests/ServiceKitTests",
            swiftSettings: strict
        ),
        // Counts the test process's heap allocations per thread (interposes malloc; test runner only).
        .target(
            name: "CMallocCounter",
            path: "Tests/CMallocCounter"
        ),
        .testTarget(
            name: "ModelsCoreTests",
            dependencies: ["ModelsCore", "CVaneHash", "CMallocCounter", "TestSupport"],
            path: "Tests/ModelsCoreTests",
            exclude: ["Fixtures"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ManagementAPITests",
            dependencies: [
                "ManagementAPI", "ExperimentStats", "ModelsCore", "ServiceKit", "KafkaKit", "TestSupport", "PostgresSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            path: "Tests/ManagementAPITests",
            swiftSettings: strict
        ),
        .testTarget(
            name: "ConfigFeedTests",
            dependencies: [
                "ConfigFeed", "ModelsCore", "ServiceKit", "KafkaKit", "TestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Tests/ConfigFeedTests",
            swiftSettings: strict
        ),
        .testTarget(
            name: "EventsIngestTests",
            dependencies: [
                "EventsIngest", "CZlib", "ConfigFeed", "ModelsCore", "KafkaKit", "ServiceKit", "TestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            path: "Tests/EventsIngestTests",
            swiftSettings: strict
        ),
        .testTarget(
            name: "EventsProcessorTests",
            dependencies: [
                "EventsProcessor",
                "ModelsCore",
                "PostgresSupport",
                "ServiceKit",
                "KafkaKit",
                "TestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Tests/EventsProcessorTests",
            swiftSettings: strict
        ),
        .testTarget(
            name: "RelayStreamerTests",
            dependencies: [
                "RelayStreamer", "ModelsCore", "ServiceKit", "ConfigFeed", "TestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/RelayStreamerTests",
            swiftSettings: strict
        ),
        .testTarget(
            name: "StackTests",
            dependencies: ["TestSupport", "ModelsCore"],
            path: "Tests/StackTests",
            swiftSettings: strict
        ),
        .testTarget(
            name: "ConnectivityTests",
            dependencies: [
                "KafkaKit", "ServiceKit", "PostgresSupport", "TestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            path: "Tests/ConnectivityTests",
            swiftSettings: strict
        ),
        .testTarget(
            name: "ExperimentStatsTests",
            dependencies: ["ExperimentStats", "TestSupport"],
            path: "Tests/ExperimentStatsTests",
            swiftSettings: strict
        ),
        .testTarget(
            name: "BrowserTests",
            dependencies: ["TestSupport"],
            path: "Tests/BrowserTests",
            swiftSettings: strict
        ),
        .testTarget(
            name: "VaneSDKTests",
            dependencies: [
                "VaneSDK", "ModelsCore", "KafkaKit", "TestSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/VaneSDKTests",
            swiftSettings: strict
        ),
        .testTarget(
            name: "CompatibilityTests",
            dependencies: ["TestSupport"],
            path: "Tests/CompatibilityTests",
            swiftSettings: strict
        ),
    ],
    swiftLanguageModes: [.v6]
)

if ProcessInfo.processInfo.environment["VANE_BENCHMARKS"] != nil {
    package.dependencies.append(
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]))
    package.targets.append(
        .executableTarget(
            name: "EvaluationBenchmarks",
            dependencies: ["ModelsCore", "VaneSDK", .product(name: "Benchmark", package: "benchmark")],
            path: "Benchmarks/EvaluationBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]))
    package.targets.append(
        .executableTarget(
            name: "KafkaThroughput",
            dependencies: ["KafkaKit", .product(name: "Logging", package: "swift-log")],
            path: "Benchmarks/KafkaThroughput",
            swiftSettings: strict))
    package.targets.append(
        .executableTarget(
            name: "RelayLoad",
            dependencies: [
                "ModelsCore",
                "TestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Benchmarks/RelayLoad",
            swiftSettings: strict))
}
