// swift-tools-version:6.2
//
// An application that uses Vane's Swift SDK the way any other package would: a dependency on the
// Vane repository by path (a release would use its URL), the `VaneSDK` product, and nothing but
// `import VaneSDK`. `make test` builds it (`Tests/VaneSDKTests/ExamplePackageTests.swift` runs it).

import PackageDescription

let package = Package(
    name: "vane-sdk-example",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "vane", path: "../../.."),
    ],
    targets: [
        .executableTarget(
            name: "VaneSDKExample",
            dependencies: [.product(name: "VaneSDK", package: "vane")],
            path: "Sources/VaneSDKExample"
        ),
    ],
    swiftLanguageModes: [.v6]
)
