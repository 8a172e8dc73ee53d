import Foundation
import ModelsCore
import Testing
import TestSupport

/// A management-api replica besides the harness's own, on the same database and broker.
private func replica(_ api: ManagementHarness) async throws -> ServiceProcess {
    let process = try ServiceProcess("management-api", environment: [
        "VANE_DATABASE_URL": api.stack.databaseURL, "VANE_KAFKA_BROKERS": api.stack.kafkaBrokers, "VANE_ADMIN_TOKEN": api.stack.adminToken,
        "VANE_CONFIG_TOPIC": api.stack.configTopic, "VANE_LOG_LEVEL": "info", "VANE_KAFKA_MESSAGE_TIMEOUT_SECONDS": "5",
    ])
    try await process.waitUntilReady()
    return process
}

/// Calls a replica's API as the bootstrap admin and requires `status`.
@discardableResult
private func call(
    _ process: ServiceProcess, token: String, _ status: Int, _ method: String, _ path: String, _ json: String? = nil,
    sourceLocation: SourceLocation = #_sourceLocation
) async throws -> JSONValue {
    let response = try await TestHTTP.json(method, "\(process.baseURL)/api/v1\(path)", token: token, json: json)
    #expect(response.status == status, "\(method) \(path) → \(response.status): \(response.text)", sourceLocation: sourceLocation)
    return response.body.isEmpty ? .null : ((try? JSONParser.parse(response.body)) ?? .null)
}

@Suite("management-api: progressive rollouts", .serialized, .timeLimit(.minutes(4)))
struct ReleaseRolloutTests {
    static let flagBody = #"{"key":"f","name":"F","variations":[{"value":"old"},{"value":"new"},{"value":"other"}]}"#
    static let base = "/projects/p/flags/f/environments/production"

    @Test("a ramp served on time to completion; 409 for a second one; pause, resume, manual rollback; a manual edit cancels")
    func lifecycle() async throws {
        try await withHarness { api in
            try await api.expect(201, "POST", "/projects", #"{"key":"p","name":"P"}"#)
            try await api.expect(201, "POST", "/projects/p/flags", Self.flagBody)
            try await api.expect(200, "PATCH", Self.base, #"{"on":true}"#)
            let writer = try await api.token("writer")
            try await api.expect(404, "GET", "\(Self.base)/rollouts/current")
            try await api.expect(404, "POST", "\(Self.base)/rollouts/current/pause")
            try await api.expect(422, "POST", "\(Self.base)/rollouts", #"{"variation":5,"steps":[{"percent":100,"holdSeconds":0}]}"#)
            try await api.expect(422, "POST", "\(Self.base)/rollouts", #"{"variation":0,"steps":[{"percent":100,"holdSeconds":0}]}"#)
            try await api.expect(422, "POST", "\(Self.base)/rollouts", #"{"variation":1,"steps":[{"percent":50,"holdSeconds":0}]}"#)

            // The ramp: 10 → 50 → 100 % with 2 s holds.
            let started = try await api.expect(201, "POST", "\(Self.base)/rollouts", #"""
                {"variation":1,"steps":[{"percent":10,"holdSeconds":2},{"percent":50,"holdSeconds":2},{"percent":100,"holdSeconds":0}]}
                """#, token: writer)
            let id = try #require(started["id"]?.stringValue)
            #expect(started["status"] == "running")
            #expect(started["step"] == 1)
            #expect(started["percent"] == 10)
            #expect(started["controlVariation"] == 0)
            let start = try #require(ReleaseTestSupport.milliseconds(started["startedAt"]))
            #expect(ReleaseTestSupport.milliseconds(started["nextStepAt"]).map { $0 - start } == 2000)
            var targeting = try await api.expect(200, "GET", Self.base)
            #expect(targeting["fallthrough"]?["rollout"]?["variations"] == [["variation": 0, "weight": 90_000], ["variation": 1,
                "weight": 10_000]])
            let seed = targeting["fallthrough"]?["rollout"]?["seed"]
            #expect(seed?.integerValue != nil)
            try await api.expect(409, "POST", "\(Self.base)/rollouts", #"{"variation":2,"steps":[{"percent":100,"holdSeconds":0}]}"#)

            // Steps happen at their time (within 1 s), with the same seed and order.
            var stepTimes: [Int: Int] = [:]
            let completed = try await ReleaseTestSupport.waitFor("the rollout to complete", timeout: .seconds(20),
                every: .milliseconds(50)) {
                let current = try await api.expect(200, "GET", "\(Self.base)/rollouts/current")
                if let step = current["step"]?.integerValue, stepTimes[step] == nil {
                    stepTimes[step] = ReleaseTestSupport.milliseconds(current["stepStartedAt"])
                    if step == 2 {
                        let middle = try await api.expect(200, "GET", Self.base)
                        #expect(middle["fallthrough"]?["rollout"]?["seed"] == seed)
                        #expect(middle["fallthrough"]?["rollout"]?["variations"]
                            == [["variation": 0, "weight": 50_000], ["variation": 1, "weight": 50_000]])
                    }
                }
                guard current["status"] == "completed" else { return nil }
                return current
            }
            let done = try #require(completed)
            #expect(done["percent"] == 100)
            #expect(done["step"] == 3)
            #expect(done["nextStepAt"] == nil)
            for (step, expected) in [(2, 2000), (3, 4000)] {
                // Applied (the database's clock at the step's commit) within 1 s of its time.
                let applied = (stepTimes[step] ?? 0) - start
                #expect(applied >= expected - 5 && applied < expected + 1000, "step \(step) applied \(applied) ms after the start")
            }
            targeting = try await api.expect(200, "GET", Self.base)
            #expect(targeting["fallthrough"] == ["variation": 1])
            #expect(targeting["version"] == 5)  // on, then three steps
            let audit = try await ReleaseTestSupport.audit(api, flag: "f")
            #expect(audit.filter { $0["action"] == "flag.targeting.update"
                && $0["comment"]?.stringValue?.contains("rollout \(id)") == true }
                .count == 3)
            #expect(audit.contains { $0["action"] == "release.rollout.complete" && $0["actor"] == "release-scheduler" })
            #expect(audit.contains { $0["action"] == "release.rollout.start"
                && $0["actor"]?.stringValue?.hasPrefix("token:writer") == true })

            // Pause and resume keep the hold that was left; a manual rollback restores the control at 100 %.
            // A 12 s hold: long enough that the pause and the rollback below come before it ends on a loaded machine.
            let second = try await api.expect(201, "POST", "\(Self.base)/rollouts", #"""
                {"variation":2,"steps":[{"percent":20,"holdSeconds":12},{"percent":100,"holdSeconds":0}]}
                """#)
            #expect(second["controlVariation"] == 1)
            let firstDue = try #require(ReleaseTestSupport.milliseconds(second["nextStepAt"]))
            let paused = try await api.expect(200, "POST", "\(Self.base)/rollouts/current/pause")
            #expect(paused["status"] == "paused")
            #expect(paused["nextStepAt"] == nil)
            #expect((paused["remainingHoldSeconds"]?.numberValue ?? 0) > 2)
            try await api.expect(409, "POST", "\(Self.base)/rollouts/current/pause")
            try await Task.sleep(for: .seconds(3))
            #expect(try await api.expect(200, "GET", "\(Self.base)/rollouts/current")["step"] == 1)
            let resumed = try await api.expect(200, "POST", "\(Self.base)/rollouts/current/resume")
            #expect(resumed["status"] == "running")
            // The 3 s paused do not count towards the hold: the step moved at least that much later.
            let resumedDue = try #require(ReleaseTestSupport.milliseconds(resumed["nextStepAt"]))
            #expect(resumedDue - firstDue >= 3000 - 5, "the next step moved \(resumedDue - firstDue) ms")
            try await api.expect(409, "POST", "\(Self.base)/rollouts/current/resume")
            let rolledBack = try await api.expect(200, "POST", "\(Self.base)/rollouts/current/rollback", token: writer)
            #expect(rolledBack["status"] == "rolled_back")
            #expect(rolledBack["percent"] == 0)
            #expect(rolledBack["decision"]?["automatic"] == false)
            #expect(try await api.expect(200, "GET", Self.base)["fallthrough"] == ["variation": 1])
            try await api.expect(409, "POST", "\(Self.base)/rollouts/current/rollback")
            // Once its step would have been due, nothing has moved.
            let wait = resumedDue + 1000 - Int(Date().timeIntervalSince1970 * 1000)
            if wait > 0 { try await Task.sleep(for: .milliseconds(wait)) }
            #expect(try await api.expect(200, "GET", Self.base)["fallthrough"] == ["variation": 1])
            #expect(try await api.expect(200, "GET", "\(Self.base)/rollouts/current")["status"] == "rolled_back")

            // A manual change of the fallthrough cancels the rollout, and the audit entry says so.
            let third = try await api.expect(201, "POST", "\(Self.base)/rollouts", #"""
                {"variation":0,"steps":[{"percent":30,"holdSeconds":30},{"percent":100,"holdSeconds":0}]}
                """#)
            let thirdID = try #require(third["id"]?.stringValue)
            try await api.expect(200, "PATCH", Self.base, #"{"fallthrough":{"variation":2}}"#, token: writer)
            let cancelled = try await api.expect(200, "GET", "\(Self.base)/rollouts/current")
            #expect(cancelled["status"] == "cancelled")
            #expect(cancelled["endReason"]?.stringValue?.contains("token:writer") == true)
            let edit = try #require(try await ReleaseTestSupport.audit(api, flag: "f").first { $0["action"] == "flag.targeting.update" })
            #expect(edit["comment"]?.stringValue?.contains("cancels rollout \(thirdID)") == true, "\(edit)")

            // Turning the flag off cancels too; other edits (rules, targets) do not.
            try await api.expect(201, "POST", "\(Self.base)/rollouts",
                #"{"variation":0,"steps":[{"percent":5,"holdSeconds":60},{"percent":100,"holdSeconds":0}]}"#)
            try await api.expect(200, "PATCH", Self.base, #"{"targets":[{"values":["vip"],"variation":0}]}"#)
            #expect(try await api.expect(200, "GET", "\(Self.base)/rollouts/current")["status"] == "running")
            try await api.expect(200, "PATCH", Self.base, #"{"on":false}"#)
            #expect(try await api.expect(200, "GET", "\(Self.base)/rollouts/current")["status"] == "cancelled")

            // A fallthrough that already is a percentage rollout is refused.
            try await api.expect(200, "PATCH", Self.base, #"""
                {"on":true,"fallthrough":{"rollout":{"variations":[{"variation":0,"weight":50000},{"variation":1,"weight":50000}]}}}
                """#)
            let refused = try await api.expect(409, "POST", "\(Self.base)/rollouts",
                #"{"variation":2,"steps":[{"percent":100,"holdSeconds":0}]}"#)
            #expect(refused["message"]?.stringValue?.contains("percentage rollout") == true)

            // History, newest first; other environments have none.
            let history = try await api.expect(200, "GET", "\(Self.base)/rollouts")
            #expect(history["items"]?.arrayValue?.compactMap { $0["status"]?.stringValue } == ["cancelled", "cancelled", "rolled_back",
                "completed"])
            try await api.expect(404, "GET", "/projects/p/flags/f/environments/test/rollouts/current")
            #expect(try await api.expect(200, "GET", "/projects/p/flags/f/environments/test/rollouts")["items"] == [])
        }
    }

    @Test("two replicas never double-apply; a restart mid-rollout resumes it, and what came due meanwhile is applied late")
    func replicasAndRestart() async throws {
        try await withHarness { api in
            let token = api.stack.adminToken
            try await api.expect(201, "POST", "/projects", #"{"key":"p","name":"P"}"#)
            let other = try await replica(api)
            defer { _ = other.stopBlocking() }

            // Thirty scheduled changes (three per flag, due at the same instant) and a four-step rollout, created through both
            // replicas. Meanwhile the lease is expired every 150 ms, so leadership keeps moving and both replicas often run
            // the scheduler at once (a leader learns it lost the lease only at its next renewal): each change and step must
            // still be applied exactly once.
            let due = ReleaseTestSupport.rfc3339(Date() + 4)
            let patches = [#"{"on":true}"#, #"{"offVariation":0}"#, #"{"fallthrough":{"variation":1}}"#]
            for index in 0..<10 {
                try await api.expect(201, "POST", "/projects/p/flags",
                    #"{"key":"f\#(index)","name":"F","variations":[{"value":1},{"value":2}]}"#)
                for (number, patch) in patches.enumerated() {
                    try await call((index + number) % 2 == 0 ? api.stack.managementAPI : other, token: token, 201, "POST",
                                   "/projects/p/flags/f\(index)/environments/production/scheduled-changes",
                                   #"{"executeAt":"\#(due)","patch":\#(patch)}"#)
                }
            }
            try await api.expect(201, "POST", "/projects/p/flags", #"{"key":"r","name":"R","variations":[{"value":1},{"value":2}]}"#)
            let databaseURL = api.stack.databaseURL
            let flipper = Task {
                while !Task.isCancelled {
                    _ = try? await ChildProcess.run(PostgresServer.binary("psql"), [
                        databaseURL, "-qc", "UPDATE scheduler_leases SET expires_at = clock_timestamp() - interval '1 millisecond'",
                    ])
                    try? await Task.sleep(for: .milliseconds(150))
                }
            }
            let ramp = try await call(other, token: token, 201, "POST", "/projects/p/flags/r/environments/production/rollouts", #"""
                {"variation":1,"steps":[{"percent":10,"holdSeconds":1},{"percent":30,"holdSeconds":1},{"percent":60,"holdSeconds":1},
                 {"percent":100,"holdSeconds":0}]}
                """#)
            let rampID = try #require(ramp["id"]?.stringValue)
            _ = try await ReleaseTestSupport.waitFor("the changes and the rollout to finish", timeout: .seconds(30)) {
                let current = try await api.expect(200, "GET", "/projects/p/flags/r/environments/production/rollouts/current")
                var pending = 0
                for index in 0..<10 {
                    let items = try await api.expect(200, "GET", "/projects/p/flags/f\(index)/environments/production/scheduled-changes")
                    pending += items["items"]?.arrayValue?.filter { $0["status"] == "pending" }.count ?? 0
                }
                guard current["status"] == "completed" && pending == 0 else { return nil }
                return true
            }
            flipper.cancel()
            await flipper.value
            for index in 0..<10 {
                let targeting = try await api.expect(200, "GET", "/projects/p/flags/f\(index)/environments/production")
                #expect(targeting["version"] == 4)
                #expect(targeting["on"] == true && targeting["offVariation"] == 0 && targeting["fallthrough"] == ["variation": 1])
                let updates = try await ReleaseTestSupport.audit(api, flag: "f\(index)").filter { $0["action"] == "flag.targeting.update" }
                #expect(updates.count == 3)
                let items = try await api.expect(200, "GET", "/projects/p/flags/f\(index)/environments/production/scheduled-changes")
                #expect(Set(items["items"]?.arrayValue?.compactMap { $0["outcome"]?["version"]?.integerValue } ?? []) == [2, 3, 4])
            }
            #expect(try await api.expect(200, "GET", "/projects/p/flags/r/environments/production")["version"] == 5)
            let rampAudit = try await ReleaseTestSupport.audit(api, flag: "r")
            #expect(rampAudit.filter { $0["action"] == "flag.targeting.update"
                && $0["comment"]?.stringValue?.contains(rampID) == true }.count == 4)
            #expect(rampAudit.filter { $0["action"] == "release.rollout.complete" }.count == 1)
            // Once the lease stays put, exactly one replica leads (a stale leader notices at its next renewal, within 1 s):
            // one leader seen throughout 2 s (two renewals) is the settled state; two leaders or none, until the timeout, fail.
            var oneLeaderSince: ContinuousClock.Instant?
            _ = try await ReleaseTestSupport.waitFor("exactly one leader throughout 2 s", timeout: .seconds(20)) {
                var leaders = 0
                for process in [api.stack.managementAPI, other] {
                    let metrics = try await TestHTTP.request("GET", "\(process.baseURL)/metrics")
                    if metrics.text.split(separator: "\n").contains("vane_release_scheduler_leader 1.0") { leaders += 1 }
                }
                guard leaders == 1 else {
                    oneLeaderSince = nil
                    return nil
                }
                let since = oneLeaderSince ?? ContinuousClock.now
                oneLeaderSince = since
                return ContinuousClock.now - since >= .seconds(2) ? true : nil
            }

            // Every replica stops while a rollout holds its first step and a change is about to come due (both due in 10 s:
            // stopping may take seconds on a loaded machine, and both must come due while every replica is down).
            try await api.expect(201, "POST", "/projects/p/flags", #"{"key":"s","name":"S","variations":[{"value":1},{"value":2}]}"#)
            try await api.expect(201, "POST", "/projects/p/flags", #"{"key":"late","name":"L","variations":[{"value":1},{"value":2}]}"#)
            let rollout = try await api.expect(201, "POST", "/projects/p/flags/s/environments/production/rollouts", #"""
                {"variation":1,"steps":[{"percent":10,"holdSeconds":10},{"percent":50,"holdSeconds":4},{"percent":100,"holdSeconds":0}]}
                """#)
            let rolloutID = try #require(rollout["id"]?.stringValue)
            let stepDueMillis = try #require(ReleaseTestSupport.milliseconds(rollout["nextStepAt"]))
            let stepDue = Date(timeIntervalSince1970: Double(stepDueMillis) / 1000)
            let changeDue = Date() + 10
            let change = try await api.expect(201, "POST", "/projects/p/flags/late/environments/production/scheduled-changes",
                                              #"{"executeAt":"\#(ReleaseTestSupport.rfc3339(changeDue))","patch":{"on":true}}"#)
            let changeID = try #require(change["id"]?.stringValue)
            let (first, second) = (api.stack.managementAPI, other)
            async let firstStopped = first.stop()
            async let secondStopped = second.stop()
            _ = await (firstStopped, secondStopped)
            let stoppedAt = Date()
            try #require(stoppedAt < min(stepDue, changeDue),
                         "the replicas stopped at \(stoppedAt), after the step (\(stepDue)) or the change (\(changeDue)) came due")
            // Restart once both are overdue by 3 s (the late change's lateSeconds must be over 2, checked below).
            try await Task.sleep(for: .seconds(max(stepDue, changeDue).timeIntervalSinceNow + 3))
            let restarted = try await replica(api)
            defer { _ = restarted.stopBlocking() }
            let applied = try await ReleaseTestSupport.waitFor("the late change", timeout: .seconds(20)) {
                let item = try await call(restarted, token: token, 200, "GET",
                                          "/projects/p/flags/late/environments/production/scheduled-changes/\(changeID)")
                guard item["status"] == "applied" else { return nil }
                return item
            }
            #expect(applied?["outcome"]?["late"] == true)
            #expect((applied?["outcome"]?["lateSeconds"]?.numberValue ?? 0) > 2)
            let lateAudit = try await call(restarted, token: token, 200, "GET", "/audit?resource=proj/p:env/production:flag/late")
            #expect(lateAudit["items"]?[0]?["comment"]?.stringValue?.contains("applied late") == true, "\(lateAudit)")

            let finished = try await ReleaseTestSupport.waitFor("the interrupted rollout to complete", timeout: .seconds(20)) {
                let current = try await call(restarted, token: token, 200, "GET",
                    "/projects/p/flags/s/environments/production/rollouts/current")
                guard current["status"] == "completed" else { return nil }
                return current
            }
            #expect(finished?["id"]?.stringValue == rolloutID)
            let sAudit = try await call(restarted, token: token, 200, "GET", "/audit?limit=100&resource=proj/p:env/production:flag/s")
            let steps = sAudit["items"]?.arrayValue?.compactMap { $0["comment"]?.stringValue }.filter { $0.contains("step ") } ?? []
            #expect(steps.count == 3, "\(steps)")
            #expect(steps.contains { $0.contains("step 2/3") && $0.contains("applied late") }, "\(steps)")
            #expect(try await call(restarted, token: token, 200, "GET", "/projects/p/flags/s/environments/production")["fallthrough"]
                == ["variation": 1])
        }
    }
}
