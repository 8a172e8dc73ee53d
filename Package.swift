// swift-tools-version:6.2
//
// Vane: one package, one dependency build. Shared modules live under Shared/, each service is an
// executable product under Services/, operator tools under Tools/. Benchmarks are added only when
// VANE_BENCHMARKS is set, so `swift build` / `swift test` never compile the benchmark dependencies.

import Foundation
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

var package = Package(
    name: "vane",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "ModelsCore", targets: ["ModelsCore"]),
        .executable(name: "vanectl", targets: ["vanectl"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
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
            swiftSettings: strict
        ),
        .executableTarget(
            name: "vanectl",
            dependencies: [
                "ModelsCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Tools/vanectl",
            swiftSettings: strict
        ),
        .target(
            name: "TestSupport",
            path: "Tests/TestSupport",
            swiftSettings: strict
        ),
        .testTarget(
            name: "ModelsCoreTests",
            dependencies: ["ModelsCore", "CVaneHash", "TestSupport"],
            path: "Tests/ModelsCoreTests",
            exclude: ["Fixtures"],
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
            dependencies: ["ModelsCore", .product(name: "Benchmark", package: "benchmark")],
            path: "Benchmarks/EvaluationBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]))
}
