import Foundation
import ModelsCore
import Testing
import TestSupport

@Suite("management-api: audit, outbox and concurrency", .serialized, .timeLimit(.minutes(4)))
struct ConsistencyTests {
    @Test("every mutation leaves an audit entry; newest first, filtered and paginated")
    func audit() async throws {
        try await withHarness { api in
            try await api.expect(201, "POST", "/projects", #"{"key":"p","name":"P"}"#)
            try await api.expect(200, "PATCH", "/projects/p", #"{"name":"P2"}"#)
            try await api.expect(201, "POST", "/projects/p/environments", #"{"key":"e","name":"E"}"#)
            try await api.expect(200, "PATCH", "/projects/p/environments/e", #"{"name":"E2"}"#)
            try await api.expect(200, "POST", "/projects/p/environments/e/keys/mobile/rotate", "{}")
            try await api.expect(201, "POST", "/projects/p/flags", #"{"key":"f","name":"F","variations":[{"value":1},{"value":2}]}"#)
            try await api.expect(200, "PATCH", "/projects/p/flags/f", #"{"name":"F2"}"#)
            try await api.expect(200, "PUT", "/projects/p/flags/f/environments/e", #"{"on":true,"fallthrough":{"variation":0}}"#)
            try await api.expect(201, "PUT", "/projects/p/environments/e/segments/s", "{}")
            try await api.expect(204, "DELETE", "/projects/p/environments/e/segments/s")
            try await api.expect(204, "DELETE", "/projects/p/flags/f")
            let token = try await api.expect(201, "POST", "/tokens", #"{"name":"t","role":"reader"}"#)
            try await api.expect(204, "DELETE", "/tokens/\(token["id"]!.stringValue!)")
            try await api.expect(204, "DELETE", "/projects/p/environments/e")
            try await api.expect(204, "DELETE", "/projects/p")

            let all = try await api.expect(200, "GET", "/audit?limit=500")
            let actions = try #require(all["items"]?.arrayValue).compactMap { $0["action"]?.stringValue }
            #expect(actions == [
                "project.delete", "environment.delete", "token.delete", "token.create", "flag.delete", "segment.delete",
                "segment.create", "flag.targeting.update", "flag.update", "flag.create", "environment.key.rotate",
                "environment.update", "environment.create", "project.update", "environment.create", "environment.create",
                "project.create", "token.create",
            ])
            #expect(try #require(all["items"]?.arrayValue).allSatisfy { $0["actor"]?.stringValue?.isEmpty == false && $0["at"] != nil })

            var seen: [String] = []
            var cursor: String?
            repeat {
                let page = try await api.expect(200, "GET", "/audit?limit=4" + (cursor.map { "&cursor=\($0)" } ?? ""))
                seen += page["items"]?.arrayValue?.compactMap { $0["action"]?.stringValue } ?? []
                cursor = page["nextCursor"]?.stringValue
            } while cursor != nil
            #expect(seen == actions)
            let flagOnly = try await api.expect(200, "GET", "/audit?resource=proj/p:flag/*")
            #expect(flagOnly["items"]?.arrayValue?.count == 3)
            #expect(try await api.expect(200, "GET", "/audit?since=2999-01-01T00:00:00Z")["items"] == [])
            try await api.expect(422, "GET", "/audit?since=yesterday")
        }
    }

    @Test("with the broker down, changes commit; once it returns all are published, in per-item version order")
    func outboxWhileBrokerDown() async throws {
        try await withHarness { api in
            try await api.expect(201, "POST", "/projects", #"{"key":"p","name":"P"}"#)
            try await api.expect(201, "POST", "/projects/p/flags", #"{"key":"f","name":"F","variations":[{"value":1},{"value":2}]}"#)
            _ = try await api.waitForPublished { records in records.contains { $0.kind == .flag } }

            try await api.stack.kafka.brokerDown(.all)
            for i in 0..<10 {
                try await api.expect(200, "PATCH", "/projects/p/flags/f/environments/production", #"{"on":\#(i % 2 == 0)}"#)
            }
            try await api.expect(201, "PUT", "/projects/p/environments/production/segments/s", #"{"included":["x"]}"#)
            try await Task.sleep(for: .seconds(2))
            try await api.stack.kafka.brokerUp(.all)

            let records = try await api.waitForPublished(timeout: .seconds(60)) { records in
                records.contains { $0.kind == .flag && $0.key == "f" && $0.version == 11 && $0.environmentID.isEmpty == false }
                    && records.contains { $0.kind == .segment && $0.key == "s" }
            }
            let production = try await api.expect(200, "GET", "/projects/p/environments/production")["id"]?.stringValue
            let versions = records.filter { $0.kind == .flag && $0.key == "f" && $0.environmentID == production }.map(\.version)
            #expect(Array(Set(versions)).sorted() == Array(1...11), "every version was published")
            #expect(versions == versions.sorted(), "in version order: \(versions)")
        }
    }

    @Test("/data and the config topic agree")
    func dataMatchesTopic() async throws {
        try await withHarness { api in
            try await api.expect(201, "POST", "/projects", #"{"key":"p","name":"P"}"#)
            try await api.expect(201, "PUT", "/projects/p/environments/production/segments/s",
                #"{"included":["u"],"rules":[{"clauses":[{"attribute":"a","op":"in","values":[1]}]}]}"#)
            for key in ["a", "b", "c"] {
                try await api.expect(201, "POST", "/projects/p/flags",
                    #"{"key":"\#(key)","name":"\#(key)","variations":[{"value":"x"},{"value":"y"}]}"#)
            }
            try await api.expect(200, "PATCH", "/projects/p/flags/b/environments/production",
                                 #"{"on":true,"rules":[{"clauses":[{"attribute":"","op":"segmentMatch","values":["s"]}],"variation":1}],"#
                                     + #""prerequisites":[{"key":"a","variation":0}]}"#)
            try await api.expect(204, "DELETE", "/projects/p/flags/c")
            let environmentID = try #require(try await api.expect(200, "GET", "/projects/p/environments/production")["id"]?.stringValue)
            let data = try PollingPayload(json: try await api.expect(200, "GET", "/projects/p/environments/production/data"))
            let records = try await api.waitForPublished { records in
                records.contains { $0.kind == .flag && $0.key == "c" && $0.isDeleted && $0.environmentID == environmentID }
            }
            let latest = ManagementHarness.latest(records).values.filter { $0.environmentID == environmentID }
            var published = PollingPayload()
            for record in latest where !record.isDeleted {
                switch record.kind {
                case .flag: published.flags[record.key] = try FeatureFlag(json: #require(record.data))
                case .segment: published.segments[record.key] = try Segment(json: #require(record.data))
                case .environment: break
                }
            }
            #expect(published == data)
            #expect(data.flags.keys.sorted() == ["a", "b"])
        }
    }

    @Test("concurrent PATCHes on one flag all apply (no lost update)")
    func concurrentPatches() async throws {
        try await withHarness { api in
            try await api.expect(201, "POST", "/projects", #"{"key":"p","name":"P"}"#)
            try await api.expect(201, "POST", "/projects/p/flags", #"{"key":"f","name":"F","variations":[{"value":1},{"value":2}]}"#)
            let path = "/projects/p/flags/f/environments/production"
            let patches = [#"{"on":true}"#, #"{"trackEvents":true}"#, #"{"trackEventsFallthrough":true}"#, #"{"offVariation":0}"#,
                           #"{"targets":[{"values":["a"],"variation":1}]}"#, #"{"fallthrough":{"variation":1}}"#]
            try await withThrowingTaskGroup(of: Int.self) { group in
                for patch in patches {
                    group.addTask { try await api.call("PATCH", path, patch).status }
                }
                for try await status in group { #expect(status == 200) }
            }
            let final = try await api.expect(200, "GET", path)
            #expect(final["version"]?.integerValue == 1 + patches.count)
            #expect(final["on"] == true && final["trackEvents"] == true && final["trackEventsFallthrough"] == true)
            #expect(final["offVariation"] == 0 && final["fallthrough"]?["variation"] == 1)
            #expect(final["targets"]?[0]?["values"] == ["a"])
        }
    }
}
