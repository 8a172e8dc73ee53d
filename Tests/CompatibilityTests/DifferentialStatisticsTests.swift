import Foundation
import Testing
import TestSupport

/// `vanectl experiment-stats` against GrowthBook's gbstats 0.8.0 (in .venv) on hand-picked edge cases and
/// hundreds of random sufficient statistics: every number at 1e-6 relative, and the same fields null.
@Suite("Differential statistics against gbstats", .timeLimit(.minutes(10)))
struct DifferentialStatisticsTests {
    @Test("zero differences over randomized sufficient statistics")
    func randomizedCases() async throws {
        let environment = ProcessInfo.processInfo.environment
        let seed = environment["VANE_STATS_SEED"] ?? "1"
        let cases = environment["VANE_STATS_CASES"] ?? "500"
        let result = try await ChildProcess.run(
            RepositoryPaths.python,
            [
                "Tests/Compatibility/differential_stats.py", "--vanectl", RepositoryPaths.executable("vanectl").path,
                "--seed", seed, "--cases", cases, "--tolerance", "1e-6",
            ],
            in: RepositoryPaths.root)
        #expect(result.status == 0, "\(result.standardOutput)\n\(result.standardError)")
        #expect(result.standardOutput.contains("no differences"), "\(result.standardOutput)")
    }
}
