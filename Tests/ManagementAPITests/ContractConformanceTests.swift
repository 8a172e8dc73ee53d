import Foundation
import ModelsCore
import Testing
import TestSupport

/// schemathesis against a running management-api (real PostgreSQL, dev-kafka), driven by the document the service
/// serves at `/api/v1/openapi.json` (`Tests/Compatibility/api_contract.py`): no 5xx, and every status code, content
/// type, header and body conforms to docs/openapi.yaml.
@Suite("contract: schemathesis against management-api", .serialized, .timeLimit(.minutes(15)))
struct ContractConformanceTests {
    @Test("schemathesis with the served OpenAPI document finds no 5xx and no non-conforming response")
    func schemathesis() async throws {
        try await withHarness { harness in
            let environment = ProcessInfo.processInfo.environment
            let seed = environment["VANE_CONTRACT_SEED"] ?? "20261205"
            let examples = environment["VANE_CONTRACT_EXAMPLES"] ?? "10"
            let result = try await ChildProcess.run(
                RepositoryPaths.python,
                [
                    RepositoryPaths.root.appendingPathComponent("Tests/Compatibility/api_contract.py").path,
                    "--management", harness.stack.managementAPI.baseURL, "--token", harness.stack.adminToken,
                    "--seed", seed, "--examples", examples,
                ])
            let summary = result.standardOutput.split(separator: "\n").last.map(String.init) ?? ""
            guard result.status == 0 else {
                Issue.record("""
                    api_contract.py failed:
                    \(result.standardOutput.suffix(20000))
                    \(result.standardError.suffix(3000))
                    management-api log:
                    \(harness.stack.managementAPI.logTail())
                    """)
                return
            }
            print("api_contract.py: \(summary)")
            let parsed = try JSONParser.parse(summary)
            #expect((parsed["operations"]?.numberValue ?? 0) >= 39, "every operation was exercised")
        }
    }
}
