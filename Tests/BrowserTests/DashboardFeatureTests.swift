import Foundation
import Testing
import TestSupport

/// The segments, experiments, releases and evaluate-as-a-context pages in headless Chromium
/// (Tests/Browser/scenarios/features.py), against a real management-api and PostgreSQL whose analytics schema a real
/// events-processor created (the experiment scenario writes correlation state there as events-processor keeps it).
@Suite("dashboard feature pages", .serialized, .timeLimit(.minutes(10)))
struct DashboardFeatureTests {
    @Test("Selenium: evaluate, segments paste-in, experiment results, release start and rollback, reader; screenshots")
    func browser() async throws {
        let stack = try await TestStack.start()
        defer { Task { await stack.stop() } }
        let processor = try ServiceProcess("events-processor", environment: [
            "VANE_DATABASE_URL": stack.databaseURL, "VANE_KAFKA_BROKERS": stack.kafkaBrokers, "VANE_LOG_LEVEL": "info",
        ])
        try await processor.waitUntilReady()
        #expect(await processor.stop() == 0)
        let screenshots = RepositoryPaths.root.appendingPathComponent(".build/ui-screenshots")
        var arguments = [
            "Tests/Browser/run_feature_tests.py", "--base-url", stack.managementAPI.baseURL, "--admin-token", stack.adminToken,
            "--screenshots", screenshots.path,
        ]
        if let only = ProcessInfo.processInfo.environment["VANE_UI_SCENARIOS"], !only.isEmpty {
            arguments += ["--only"] + only.split(separator: ",").map(String.init)
        }
        var environment = ProcessInfo.processInfo.environment
        environment["VANE_DATABASE_URL"] = stack.databaseURL
        let result = try await ChildProcess.run(RepositoryPaths.python, arguments, in: RepositoryPaths.root, environment: environment)
        print(result.standardOutput)
        #expect(result.status == 0, "\(result.standardOutput)\n\(result.standardError)\nmanagement-api:\n\(stack.managementAPI.logTail())")
    }
}
