import Foundation
import ModelsCore
import Testing
import TestSupport

/// `SDKs/Swift/Example`: a separate package that depends on Vane by path and uses only
/// `import VaneSDK`. `make test` builds it before the tests (`make sdk-example`); this runs it.
@Suite("VaneSDK from a separate package", .serialized, .timeLimit(.minutes(5)))
struct ExamplePackageTests {
    static var executable: URL {
        if let path = ProcessInfo.processInfo.environment["VANE_SDK_EXAMPLE"] { return URL(fileURLWithPath: path) }
        return RepositoryPaths.root.appendingPathComponent(".build/sdk-example/debug/VaneSDKExample")
    }

    @Test("the example application evaluates, sees a kill switch through flagChanges in < 500 ms, and delivers its tracked event")
    func example() async throws {
        try await SDKStack.with { stack in
            let environment = try await stack.createProject("example")
            try await stack.api("POST", "/projects/example/flags",
                json: #"{"key":"example-flag","name":"E","variations":[{"value":true},{"value":false}]}"#)
            try await stack.api(
                "PUT", "/projects/example/flags/example-flag/environments/production",
                json: #"{"on":true,"fallthrough":{"variation":0},"offVariation":1}"#)
            try await stack.waitForRelay(environment.sdkKey, containing: #""on":true"#)

            let output = FileManager.default.temporaryDirectory
                .appendingPathComponent("vane-sdk-example-\(UUID().uuidString.prefix(8)).out")
            defer { try? FileManager.default.removeItem(at: output) }
            var variables = ProcessInfo.processInfo.environment
            variables["VANE_BENCHMARKS"] = nil
            // It watches until the first change (the kill switch below), for at most 30 s: a slow start on a loaded machine
            // cannot make it stop watching before the change comes.
            let process = try Subprocess(
                Self.executable.path,
                ["--relay", stack.relay.baseURL, "--events", stack.ingest.baseURL, "--sdk-key", environment.sdkKey,
                 "--flag", "example-flag", "--watch", "30", "--changes", "1"],
                environment: variables, standardOutput: .file(output.path), standardError: .file(output.path, append: true))
            let read = { (try? String(contentsOf: output, encoding: .utf8)) ?? "" }
            try await eventually("the example prints its first evaluation") { read().contains(#""event":"initial""#) }
            let patchedAt = Date().timeIntervalSince1970 * 1000
            try await stack.api("PATCH", "/projects/example/flags/example-flag/environments/production", json: #"{"on":false}"#)
            #expect(await process.wait() == 0, "\(read())")

            let lines = try read().split(separator: "\n").map { try JSONParser.parse(String($0)) }
            let initial = try #require(lines.first { $0["event"] == "initial" })
            #expect(initial["detail"] == ["value": true, "variationIndex": 0, "reason": ["kind": "FALLTHROUGH"]])
            let changed = try #require(lines.first { $0["event"] == "changed" }, "\(read())")
            #expect(changed["detail"]?["value"] == false && changed["detail"]?["reason"] == ["kind": "OFF"])
            let latency = (changed["at"]?.numberValue ?? .infinity) - patchedAt
            print("example package: kill switch seen \(latency) ms after the PATCH was sent")
            #expect(latency < 500)

            try await eventually("the example's tracked event on vane.events.raw") {
                try await stack.eventRecords(environmentID: environment.id).contains { record in
                    record.events.contains { $0["kind"] == "custom" && $0["key"] == "example-purchase" && $0["metricValue"] == 42 }
                }
            }
        }
    }
}
