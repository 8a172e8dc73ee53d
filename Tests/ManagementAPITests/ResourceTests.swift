import Foundation
import ModelsCore
import ServiceKit
import Testing
import TestSupport

@Suite("management-api: projects, environments, flags, targeting, segments", .serialized, .timeLimit(.minutes(3)))
struct ResourceTests {
    @Test("projects and environments: defaults, keys, updates, rotation and deletion")
    func projectsAndEnvironments() async throws {
        try await withHarness { api in
            let project = try await api.expect(201, "POST", "/projects", #"{"key":"shop","name":"Shop"}"#)
            let environments = try #require(project["environments"]?.arrayValue)
            #expect(environments.compactMap { $0["key"]?.stringValue }.sorted() == ["production", "test"])
            for environment in environments {
                #expect(environment["sdkKey"]?.stringValue?.hasPrefix("sdk-") == true)
                #expect(environment["mobileKey"]?.stringValue?.hasPrefix("mob-") == true)
                let clientSideID = try #require(environment["clientSideId"]?.stringValue)
                #expect(clientSideID.count == 24 && clientSideID.allSatisfy(\.isHexDigit))
                #expect(environment["secureMode"] == false)
            }
            try await api.expect(409, "POST", "/projects", #"{"key":"shop","name":"Again"}"#)
            let custom = try await api.expect(201, "POST", "/projects",
                #"{"key":"c","name":"C","environments":[{"key":"dev","name":"Dev"}]}"#)
            #expect(custom["environments"]?.arrayValue?.count == 1)
            try await api.expect(200, "PATCH", "/projects/shop", #"{"name":"Shop 2"}"#)
            #expect(try await api.expect(200, "GET", "/projects/shop")["name"] == "Shop 2")
            #expect(try await api.expect(200, "GET", "/projects")["items"]?.arrayValue?.count == 2)

            let staging = try await api.expect(201, "POST", "/projects/shop/environments",
                #"{"key":"staging","name":"Staging","secureMode":true}"#)
            #expect(staging["secureMode"] == true)
            try await api.expect(200, "PATCH", "/projects/shop/environments/staging", #"{"name":"Stage","secureMode":false}"#)
            #expect(try await api.expect(200, "GET", "/projects/shop/environments/staging")["name"] == "Stage")
            try await api.expect(422, "PATCH", "/projects/shop/environments/staging", #"{"sdkKey":"sdk-mine"}"#)

            let oldKey = try #require(staging["sdkKey"]?.stringValue)
            let rotated = try await api.expect(200, "POST", "/projects/shop/environments/staging/keys/sdk/rotate",
                #"{"expireOldAfterSeconds":3600}"#)
            #expect(rotated["sdkKey"]?.stringValue != oldKey)
            #expect(rotated["retiredKeys"]?.arrayValue?.first?["key"]?.stringValue == oldKey)
            try await api.expect(404, "POST", "/projects/shop/environments/staging/keys/admin/rotate", "{}")

            // The environment record carries hashes of both keys, never the keys.
            let records = try await api.waitForPublished { records in
                records.contains { $0.kind == .environment && $0.key == "staging" && $0.version >= 3 }
            }
            let record = try #require(ManagementHarness.latest(records).values.first { $0.kind == .environment && $0.key == "staging" })
            let text = String(decoding: record.jsonBytes, as: UTF8.self)
            let newKey = try #require(rotated["sdkKey"]?.stringValue)
            #expect(!text.contains(oldKey) && !text.contains(newKey))
            let environment = try EnvironmentRecord(json: try #require(record.data))
            #expect(Set(environment.sdkKeys.map(\.sha256)) == [Credentials.hash(oldKey), Credentials.hash(rotated["sdkKey"]!.stringValue!)])

            try await api.expect(204, "DELETE", "/projects/shop/environments/staging")
            try await api.expect(404, "GET", "/projects/shop/environments/staging")
            try await api.expect(204, "DELETE", "/projects/c")
            try await api.expect(404, "GET", "/projects/c")
        }
    }

    @Test("a new flag exists in every environment, off, serving its off variation; filters, patches and deletion")
    func flags() async throws {
        try await withHarness { api in
            try await api.expect(201, "POST", "/projects", #"{"key":"p","name":"P"}"#)
            let flag = try await api.expect(201, "POST", "/projects/p/flags", #"""
                {"key":"checkout","name":"New checkout","description":"d","tags":["web","beta"],"temporary":true,
                 "variations":[{"value":"a","name":"A"},{"value":"b"},{"value":"c"}],"defaults":{"onVariation":1,"offVariation":2},
                 "clientSideAvailability":{"usingEnvironmentId":true,"usingMobileKey":false},"salt":"migrated-salt"}
                """#)
            #expect(flag["salt"] == "migrated-salt")
            for environment in ["production", "test"] {
                let targeting = try #require(flag["environments"]?[environment])
                #expect(targeting["on"] == false)
                #expect(targeting["offVariation"] == 2)
                #expect(targeting["fallthrough"]?["variation"] == 1)
                #expect(targeting["version"] == 1)
            }
            try await api.expect(201, "POST", "/projects/p/flags",
                #"{"key":"plain","name":"Plain","variations":[{"value":true},{"value":false}]}"#)
            #expect(try await api.expect(200, "GET", "/projects/p/flags?tag=beta")["items"]?.arrayValue?.count == 1)
            #expect(try await api.expect(200, "GET", "/projects/p/flags?q=CHECK")["items"]?.arrayValue?.count == 1)
            #expect(try await api.expect(200, "GET", "/projects/p/flags")["items"]?.arrayValue?.count == 2)

            let data = try await api.expect(200, "GET", "/projects/p/environments/production/data")
            let sdkFlag = try #require(data["flags"]?["checkout"])
            #expect(sdkFlag["variations"] == ["a", "b", "c"])
            #expect(sdkFlag["clientSide"] == true)
            #expect(data["segments"] == [:])

            let patched = try await api.expect(200, "PATCH", "/projects/p/flags/checkout",
                #"{"name":"Renamed","variations":[{"value":"a"},{"value":"b"},{"value":"c"},{"value":"d"}]}"#)
            #expect(patched["name"] == "Renamed")
            #expect(patched["environments"]?["production"]?["version"] == 2, "new variations are published: version +1")
            try await api.expect(422, "PATCH", "/projects/p/flags/checkout", #"{"variations":[{"value":"a"}]}"#)
            try await api.expect(422, "PATCH", "/projects/p/flags/checkout", #"{"key":"other"}"#)
            try await api.expect(204, "DELETE", "/projects/p/flags/plain")
            try await api.expect(404, "GET", "/projects/p/flags/plain")
            try await api.expect(409, "POST", "/projects/p/flags", #"{"key":"checkout","name":"x","variations":[{"value":1}]}"#)
        }
    }

    @Test("targeting in PostgreSQL: PUT replaces, PATCH merges, versions count, If-Match guards, comments reach the audit log")
    func targeting() async throws {
        try await withHarness { api in
            try await api.expect(201, "POST", "/projects", #"{"key":"p","name":"P"}"#)
            try await api.expect(201, "POST", "/projects/p/flags", #"{"key":"f","name":"F","variations":[{"value":true},{"value":false}]}"#)
            let path = "/projects/p/flags/f/environments/production"
            let put = try await api.expect(200, "PUT", path, #"""
                {"on":true,"targets":[{"values":["alice"],"variation":0}],
                 "rules":[{"clauses":[{"contextKind":"user","attribute":"/address/city","op":"in","values":["Oslo"]}],
                           "rollout":{"variations":[{"variation":0,"weight":60000},{"variation":1,"weight":40000}]}}],
                 "fallthrough":{"variation":1},"offVariation":1}
                """#)
            #expect(put["version"] == 2)
            #expect(put["rules"]?[0]?["id"]?.stringValue?.isEmpty == false)
            let response = try await api.call("GET", path)
            #expect(response.header("etag") == "\"2\"")

            let patched = try await api.expect(200, "PATCH", path + "?comment=incident%20123", #"{"on":false}"#,
                headers: [("If-Match", "\"2\"")])
            #expect(patched["on"] == false)
            #expect(patched["targets"]?[0]?["values"] == ["alice"], "a merge patch keeps the other fields")
            #expect(patched["version"] == 3)
            let stale = try await api.expect(412, "PATCH", path, #"{"on":true}"#, headers: [("If-Match", "\"2\"")])
            #expect(stale["code"] == "precondition_failed")
            // The merge semantics (a one-of fallthrough, nested objects, null) are FlagsControllerTests'; here the audit trail.
            let audit = try await api.expect(200, "GET", "/audit?resource=proj/p:env/production:flag/f")
            let entries = try #require(audit["items"]?.arrayValue)
            #expect(entries.count == 2)
            #expect(entries.contains { $0["comment"] == "incident 123" && $0["after"]?["on"] == false && $0["before"]?["on"] == true })
        }
    }

    @Test("segments: create, replace, list, If-Match guards, reference from a flag, refuse deleting while referenced")
    func segments() async throws {
        try await withHarness { api in
            try await api.expect(201, "POST", "/projects", #"{"key":"p","name":"P"}"#)
            let base = "/projects/p/environments/production/segments"
            let created = try await api.expect(201, "PUT", "\(base)/beta", #"""
                {"name":"Beta","included":["u1"],"includedContexts":[{"contextKind":"org","values":["acme"]}],
                 "rules":[{"clauses":[{"attribute":"email","op":"endsWith","values":["@x.com"]}],"weight":50000,"bucketBy":"email"}]}
                """#)
            #expect(created["version"] == 1)
            #expect(created["salt"]?.stringValue?.isEmpty == false)
            let replaced = try await api.expect(200, "PUT", "\(base)/beta?comment=widen", #"{"included":["u1","u2"]}"#)
            #expect(replaced["version"] == 2)
            #expect(replaced["salt"] == created["salt"], "the salt is kept")
            // The audit entry is written in the same transaction, with the API's shapes before and after.
            let audit = try await api.expect(200, "GET", "/audit?resource=proj/p:env/production:segment/beta")
            let update = try #require(audit["items"]?[0])
            #expect(update["action"] == "segment.update" && update["comment"] == "widen")
            #expect(update["before"] == created && update["after"] == replaced)
            #expect(try await api.expect(200, "GET", base)["items"]?.arrayValue?.count == 1)
            // If-Match in the transaction: a stale version is refused with nothing written, not even an audit entry.
            let stale = try await api.expect(412, "PUT", "\(base)/beta", #"{"included":["u9"]}"#, headers: [("If-Match", "\"1\"")])
            #expect(stale["message"]?.stringValue?.contains("version 2, not 1") == true)
            try await api.expect(412, "DELETE", "\(base)/beta", headers: [("If-Match", "\"1\"")])
            try await api.expect(412, "PUT", "\(base)/gamma", "{}", headers: [("If-Match", "\"1\"")])
            try await api.expect(404, "GET", "\(base)/gamma")
            try await api.expect(412, "PUT", "\(base)/beta", "{}", headers: [("If-None-Match", "*")])
            #expect(try await api.expect(200, "GET", "\(base)/beta") == replaced)
            let entries = try await api.expect(200, "GET", "/audit?resource=proj/p:env/production:segment/*")
            #expect(entries["items"]?.arrayValue?.count == 2, "create and update only")

            try await api.expect(201, "POST", "/projects/p/flags", #"{"key":"f","name":"F","variations":[{"value":true},{"value":false}]}"#)
            try await api.expect(200, "PATCH", "/projects/p/flags/f/environments/production",
                                 #"{"rules":[{"clauses":[{"attribute":"","op":"segmentMatch","values":["beta"]}],"variation":0}]}"#)
            let conflict = try await api.expect(409, "DELETE", "\(base)/beta")
            #expect(conflict["message"]?.stringValue?.contains("f") == true)
            try await api.expect(200, "PATCH", "/projects/p/flags/f/environments/production", #"{"rules":[]}"#)
            try await api.expect(204, "DELETE", "\(base)/beta", headers: [("If-Match", "\"2\"")])
            try await api.expect(404, "GET", "\(base)/beta")
            // Re-created after deletion, the segment continues the version sequence past its tombstone.
            #expect(try await api.expect(201, "PUT", "\(base)/beta", "{}")["version"] == 4)
        }
    }
}
