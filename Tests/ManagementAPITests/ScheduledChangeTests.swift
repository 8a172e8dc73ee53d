import Foundation
import ModelsCore
import Testing
import TestSupport

/// Helpers shared by the release suites.
enum ReleaseTestSupport {
    /// An RFC 3339 UTC time with milliseconds.
    static func rfc3339(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }

    static func milliseconds(_ value: JSONValue?) -> Int? { value?.stringValue.flatMap(rfc3339UnixMilliseconds) }

    /// Polls `probe` until it returns a value, for at most `timeout`; records an issue (and returns nil) otherwise.
    /// (Not generic: a probe written `condition ? value : nil` would make a generic `T` itself optional.)
    static func waitFor(
        _ what: String, timeout: Duration = .seconds(20), every interval: Duration = .milliseconds(100),
        sourceLocation: SourceLocation = #_sourceLocation, _ probe: () async throws -> JSONValue?
    ) async throws -> JSONValue? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let value = try await probe() { return value }
            try await Task.sleep(for: interval)
        }
        Issue.record("timed out waiting for \(what)", sourceLocation: sourceLocation)
        return nil
    }

    /// Audit entries of a flag environment (its targeting, scheduled changes and rollouts), newest first.
    static func audit(_ api: ManagementHarness, project: String = "p", flag: String, environment: String = "production") async throws
        -> [JSONValue]
    {
        let path = "/audit?limit=500&resource=" + "proj/\(project):env/\(environment):flag/\(flag)*"
            .addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        return try await api.expect(200, "GET", path)["items"]?.arrayValue ?? []
    }
}

@Suite("management-api: scheduled changes", .serialized, .timeLimit(.minutes(3)))
struct ScheduledChangeTests {
    @Test("applied within 1 s through the normal path (version, audit naming change and author, outbox); cancelled never; validated twice")
    func scheduledChanges() async throws {
        try await withHarness { api in
            try await api.expect(201, "POST", "/projects", #"{"key":"p","name":"P"}"#)
            try await api.expect(201, "POST", "/projects/p/flags", #"{"key":"f","name":"F","variations":[{"value":true},{"value":false}]}"#)
            try await api.expect(201, "PUT", "/projects/p/environments/production/segments/beta", #"{"included":["u1"]}"#)
            let writer = try await api.token("writer")
            let reader = try await api.token("reader")
            let base = "/projects/p/flags/f/environments/production/scheduled-changes"

            // Validation at creation: a body error, and a patch the targeting refuses (the same checks as PATCH).
            try await api.expect(422, "POST", base, #"{"executeAt":"soon","patch":{"on":true}}"#, token: writer)
            let refused = try await api.expect(
                422, "POST", base, #"{"executeAt":"\#(ReleaseTestSupport.rfc3339(Date() + 60))","patch":{"fallthrough":{"variation":7}}}"#,
                token: writer)
            #expect(refused["code"] == "validation_failed")
            try await api.expect(403, "POST", base, #"{"executeAt":"\#(ReleaseTestSupport.rfc3339(Date() + 60))","patch":{"on":true}}"#,
                                 token: reader)
            try await api.expect(404, "POST", "/projects/p/flags/nope/environments/production/scheduled-changes",
                                 #"{"executeAt":"\#(ReleaseTestSupport.rfc3339(Date() + 60))","patch":{"on":true}}"#)

            // Each step that must come before a change is due gets a lead of its own, so that no step races the scheduler
            // even on a loaded machine (a full `make test` runs suites in parallel).
            // Cancelled: never applied (due long after the test ends).
            let cancelled = try await api.expect(
                201, "POST", base, #"{"executeAt":"\#(ReleaseTestSupport.rfc3339(Date() + 300))","patch":{"offVariation":0}}"#)
            let cancelledID = try #require(cancelled["id"]?.stringValue)
            try await api.expect(204, "DELETE", "\(base)/\(cancelledID)", token: writer)
            try await api.expect(409, "DELETE", "\(base)/\(cancelledID)")
            try await api.expect(404, "DELETE", "\(base)/\(UUID().uuidString)")

            // Valid when created, not when it runs: the segment it names is deleted meanwhile (the next request).
            let failing = try await api.expect(201, "POST", base, #"""
                {"executeAt":"\#(ReleaseTestSupport.rfc3339(Date() + 20))","patch":{"rules":[{"clauses":[{"attribute":"key",
                 "op":"segmentMatch","values":["beta"]}],"variation":1}]}}
                """#)
            let failingID = try #require(failing["id"]?.stringValue)
            try await api.expect(204, "DELETE", "/projects/p/environments/production/segments/beta")

            // The one whose punctuality is measured: due before the failing one, so that its version is 2.
            let due = Date() + 10
            let executeAt = ReleaseTestSupport.rfc3339(due)
            let created = try await api.expect(
                201, "POST", base, #"{"executeAt":"\#(executeAt)","patch":{"on":true},"comment":"launch"}"#, token: writer)
            #expect(created["status"] == "pending")
            #expect(created["patch"] == ["on": true])
            #expect(created["createdBy"]?.stringValue?.hasPrefix("token:writer") == true)
            #expect(ReleaseTestSupport.milliseconds(created["executeAt"]) == ReleaseTestSupport.milliseconds(.string(executeAt)))
            let id = try #require(created["id"]?.stringValue)

            let listed = try await api.expect(200, "GET", base, token: reader)
            #expect(listed["items"]?.arrayValue?.compactMap { $0["status"]?.stringValue }.sorted() == ["cancelled", "pending", "pending"])

            let applied = try await ReleaseTestSupport.waitFor("the scheduled change to be applied", timeout: .seconds(25),
                every: .milliseconds(50)) {
                let change = try await api.expect(200, "GET", "\(base)/\(id)")
                if change["status"] == "pending" { return nil }
                return change
            }
            let change = try #require(applied)
            #expect(change["status"] == "applied")
            let appliedAt = try #require(ReleaseTestSupport.milliseconds(change["outcome"]?["appliedAt"]))
            let dueMilliseconds = Int(due.timeIntervalSince1970 * 1000)
            #expect(appliedAt >= dueMilliseconds && appliedAt - dueMilliseconds < 1000,
                "applied \(appliedAt - dueMilliseconds) ms after its time")
            #expect(change["outcome"]?["late"] == false)
            #expect(change["outcome"]?["version"] == 2)

            let targeting = try await api.expect(200, "GET", "/projects/p/flags/f/environments/production")
            #expect(targeting["on"] == true)
            #expect(targeting["offVariation"] == 1)  // the cancelled change's value never came
            #expect(targeting["rules"]?.arrayValue?.isEmpty == true)  // the failed change changed nothing
            #expect(targeting["version"] == 2)

            let failed = try #require(try await ReleaseTestSupport.waitFor("the failing change to fail", timeout: .seconds(40)) {
                let change = try await api.expect(200, "GET", "\(base)/\(failingID)")
                if change["status"] == "pending" { return nil }
                return change
            })
            #expect(failed["status"] == "failed")
            #expect(failed["outcome"]?["reason"]?.stringValue?.contains("beta") == true, "\(failed)")

            let audit = try await ReleaseTestSupport.audit(api, flag: "f")
            let update = try #require(audit.first { $0["action"] == "flag.targeting.update" })
            #expect(update["actor"] == "release-scheduler")
            let comment = update["comment"]?.stringValue ?? ""
            #expect(comment.contains("scheduled change \(id)") && comment.contains("token:writer") && comment.contains("launch"),
                "\(comment)")
            #expect(!comment.contains("late"))
            #expect(audit.contains { $0["action"] == "flag.scheduled-change.fail" })
            #expect(audit.contains { $0["action"] == "flag.scheduled-change.cancel" })
            #expect(audit.filter { $0["action"] == "flag.targeting.update" }.count == 1)

            // The outbox published the change to the SDKs.
            _ = try await api.waitForPublished { records in
                records.contains { $0.key == "f" && $0.version == 2 && $0.data?["on"] == true }
            }
            // Its delay is in the scheduler's histogram.
            let metrics = try await TestHTTP.request("GET", "\(api.stack.managementAPI.baseURL)/metrics")
            #expect(metrics.text.contains("vane_release_scheduler_lag_seconds_count"))
            #expect(metrics.text.split(separator: "\n").contains("vane_release_scheduler_leader 1.0"))
        }
    }
}
