import Foundation
import ModelsCore
import Testing
import TestSupport

@Suite("management-api: LaunchDarkly data round trip", .serialized, .timeLimit(.minutes(5)))
struct RoundTripTests {
    /// `Tests/Compatibility/api_roundtrip.py` sends a random LaunchDarkly-format corpus through the
    /// API and checks the refusals, `/data` and the evaluation answers; this test then requires the
    /// `vane.config` topic to carry exactly what `/data` returned.
    @Test("random flags and segments come out of /data and vane.config unchanged in meaning; invalid ones get 422s naming the field",
          arguments: [11, 12])
    func roundTrip(seed: Int) async throws {
        try await withHarness { api in
            let out = FileManager.default.temporaryDirectory.appendingPathComponent("vane-roundtrip-\(UUID().uuidString.prefix(8))")
            defer { try? FileManager.default.removeItem(at: out) }
            let result = try await ChildProcess.run(
                RepositoryPaths.python,
                [RepositoryPaths.root.appendingPathComponent("Tests/Compatibility/api_roundtrip.py").path,
                 "--api", api.stack.managementAPI.baseURL, "--token", api.stack.adminToken,
                 "--seed", "\(seed)", "--flags", "300", "--contexts", "120", "--out", out.path])
            #expect(result.status == 0, "\(result.standardOutput)\n\(result.standardError)")
            guard result.status == 0 else { return }

            let data = try PollingPayload(json: JSONParser.parse(Array(Data(contentsOf: out.appendingPathComponent("api-data.json")))))
            let environmentID = try String(contentsOf: out.appendingPathComponent("environment-id"), encoding: .utf8)
            #expect(data.flags.count > 50 && data.segments.count > 30, "the corpus exercised too little")
            var published = PollingPayload()
            _ = try await api.waitForPublished { records in
                published = PollingPayload()
                for record in ManagementHarness.latest(records).values where record.environmentID == environmentID && !record.isDeleted {
                    switch record.kind {
                    case .flag: published.flags[record.key] = try? FeatureFlag(json: record.data ?? .null)
                    case .segment: published.segments[record.key] = try? Segment(json: record.data ?? .null)
                    case .environment: break
                    }
                }
                return published == data
            }
            #expect(published.flags.count == data.flags.count && published.segments.count == data.segments.count)
            #expect(published == data, "vane.config differs from /data")
        }
    }
}
