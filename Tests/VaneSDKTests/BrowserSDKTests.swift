import Foundation
import ModelsCore
import Testing
import TestSupport

/// `SDKs/Browser/vane.js` in headless Chromium (Selenium, `Tests/Browser/sdk/browser_sdk.py`), on a
/// page served from another origin than the relay and events-ingest.
@Suite("VaneSDK browser module in Chromium", .serialized, .timeLimit(.minutes(5)))
struct BrowserSDKTests {
    @Test("vane.js is one dependency-free ES module of at most 20 KiB")
    func moduleSize() throws {
        let url = RepositoryPaths.root.appendingPathComponent("SDKs/Browser/vane.js")
        let text = try String(contentsOf: url, encoding: .utf8)
        #expect(text.utf8.count <= 20 * 1024, "\(text.utf8.count) bytes")
        #expect(!text.contains("import "), "no imports: the module has no dependencies")
        #expect(text.contains("export function initialize("))
    }

    @Test("initializes, shows a flag, hides server-only flags, sees a kill switch in < 1 s, delivers track, secure mode, no console errors")
    func chromium() async throws {
        try await SDKStack.with { stack in
            let environment = try await stack.createProject("browser")
            let browserFlag = #"{"usingEnvironmentId":true,"usingMobileKey":true}"#
            try await stack.api("POST", "/projects/browser/flags", json: #"""
                {"key":"banner","name":"Banner","variations":[{"value":"hello from vane"},{"value":"bye"}],
                 "clientSideAvailability":\#(browserFlag)}
                """#)
            try await stack.api("POST", "/projects/browser/flags", json: #"""
                {"key":"kill-switch","name":"Kill","variations":[{"value":true},{"value":false}],"clientSideAvailability":\#(browserFlag)}
                """#)
            try await stack.api("POST", "/projects/browser/flags", json: #"""
                {"key":"server-only","name":"Server only","variations":[{"value":"secret"},{"value":"other"}]}
                """#)
            try await stack.api("POST", "/projects/browser/environments", json: #"{"key":"secure","name":"Secure","secureMode":true}"#)
            let targetings = [("banner", "production"), ("kill-switch", "production"), ("server-only", "production"), ("banner", "secure")]
            for (flag, environmentKey) in targetings {
                try await stack.api(
                    "PUT", "/projects/browser/flags/\(flag)/environments/\(environmentKey)",
                    json: #"{"on":true,"fallthrough":{"variation":0},"offVariation":1,"trackEvents":true}"#)
            }
            let project = try JSONParser.parse(try await stack.api("GET", "/projects/browser").body)
            let secure = try #require(project["environments"]?.arrayValue?.first { $0["key"] == "secure" })
            try await stack.waitForRelay(environment.sdkKey, containing: #""on":true"#, occurrences: 3)
            try await stack.waitForRelay(try #require(secure["sdkKey"]?.stringValue), containing: #""on":true"#)

            let result = try await ChildProcess.run(
                RepositoryPaths.python,
                [
                    RepositoryPaths.root.appendingPathComponent("Tests/Browser/sdk/browser_sdk.py").path,
                    "--management", stack.stack.managementAPI.baseURL, "--token", stack.stack.adminToken,
                    "--relay", stack.relay.baseURL, "--events", stack.ingest.baseURL, "--project", "browser",
                ])
            #expect(result.status == 0, "browser_sdk.py:\n\(result.standardOutput)\n\(result.standardError.suffix(3000))")
            print("browser_sdk.py: \(result.standardOutput.split(separator: "\n").last ?? "")")

            var records: [EventsRecord] = []
            try await eventually("the page's events on vane.events.raw") {
                records = try await stack.eventRecords(environmentID: environment.id)
                return records.contains { $0.events.contains { $0["key"] == "browser-goal" } }
            }
            #expect(records.allSatisfy { $0.source == .client })
            let events = records.flatMap(\.events)
            let goal = try #require(events.first { $0["key"] == "browser-goal" })
            #expect(goal["kind"] == "custom" && goal["metricValue"] == 3.5 && goal["data"] == ["sku": "b-1"])
            #expect(goal["context"]?["key"] == "browser-user")
            let kinds = Set(events.compactMap { $0["kind"]?.stringValue })
            #expect(kinds.isSuperset(of: ["identify", "feature", "summary", "custom"]), "\(kinds)")
            #expect(!events.contains { $0["key"] == "server-only" })
        }
    }
}
