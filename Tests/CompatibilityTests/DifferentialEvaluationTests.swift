import Foundation
import Testing
import TestSupport

/// `vanectl eval` against LaunchDarkly's own evaluator (the Python server SDK, patched where it
/// differs from the Go reference), on randomly generated flags, segments and contexts.
@Suite("Differential evaluation against the LaunchDarkly SDK", .timeLimit(.minutes(10)))
struct DifferentialEvaluationTests {
    @Test("zero mismatches over a randomized corpus")
    func randomizedCorpus() async throws {
        let environment = ProcessInfo.processInfo.environment
        let seed = environment["VANE_DIFF_SEED"] ?? "1"
        let rounds = environment["VANE_DIFF_ROUNDS"] ?? "12"
        let result = try await ChildProcess.run(
            RepositoryPaths.python,
            [
                "Tests/Compatibility/differential_eval.py", "--vanectl", RepositoryPaths.executable("vanectl").path,
                "--seed", seed, "--rounds", rounds, "--flags", "150", "--contexts", "120",
            ],
            in: RepositoryPaths.root)
        #expect(result.status == 0, "\(result.standardOutput)\n\(result.standardError)")
        #expect(result.standardOutput.contains("no differences"))
    }

    @Test("the reference evaluator itself reproduces the SDK test harness expectations")
    func referenceMatchesHarness() async throws {
        let result = try await ChildProcess.run(
            RepositoryPaths.python, ["Tests/Compatibility/check_fixtures.py"], in: RepositoryPaths.root)
        #expect(result.status == 0, "\(result.standardOutput)\n\(result.standardError)")
    }
}
