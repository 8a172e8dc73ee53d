import Foundation
import ModelsCore
import Testing
import TestSupport

/// What management-api accepts as text: NUL characters (which PostgreSQL cannot store) are refused
/// in paths, queries and bodies before any handler runs; bodies must be JSON.
@Suite("management-api: NUL characters and media types", .serialized, .timeLimit(.minutes(3)))
struct InputTextTests {
    @Test("a NUL character in a query or path gets 400 naming it; nothing reaches PostgreSQL")
    func nulInQueries() async throws {
        try await withHarness { api in
            try await api.expect(201, "POST", "/projects", #"{"key":"p","name":"P"}"#)
            for path in [
                "/projects/p/flags?tag=%00", "/projects/p/flags?q=%00", "/projects/p/flags?q=a%00b", "/audit?resource=%00",
                "/audit?since=%00", "/projects/%00", "/projects/p/flags/%00",
            ] {
                let response = try await api.call("GET", path)
                #expect(response.status == 400, "GET \(path) → \(response.status): \(response.text)")
                #expect(response.text.contains("NUL character"), "\(path)")
            }
            let parameter = try await api.call("GET", "/projects/p/flags?tag=%00")
            #expect(try JSONParser.parse(parameter.body)["details"]?[0]?["path"] == "tag")
            let deleteComment = try await api.call("DELETE", "/projects/p/environments/production/segments/s?comment=%00")
            #expect(deleteComment.status == 400, "\(deleteComment.text)")
        }
    }

    @Test("a NUL character in any body string or member name gets 422 with its JSON path")
    func nulInBodies() async throws {
        try await withHarness { api in
            try await api.expect(201, "POST", "/projects", #"{"key":"p","name":"P"}"#)
            let cases: [(String, String, String, String)] = [
                ("POST", "/projects", #"{"key":"q","name":"a\u0000b"}"#, "name"),
                ("PATCH", "/projects/p", #"{"name":"\u0000"}"#, "name"),
                ("POST", "/tokens", #"{"name":"t\u0000","role":"reader"}"#, "name"),
                ("POST", "/projects/p/flags", #"{"key":"f","name":"F","variations":[{"value":"x\u0000"},{"value":"y"}]}"#,
                 "variations[0].value"),
                ("POST", "/projects/p/flags", #"{"key":"f","name":"F","variations":[{"value":{"a\u0000":1}},{"value":{}}]}"#,
                 "variations[0].value.a\\u0000"),
                ("PUT", "/projects/p/environments/production/segments/s", #"{"name":"S","included":["ok","bad\u0000"]}"#, "included[1]"),
            ]
            for (method, path, body, field) in cases {
                let response = try await api.call(method, path, body)
                #expect(response.status == 422, "\(method) \(path) → \(response.status): \(response.text)")
                let detail = try JSONParser.parse(response.body)["details"]?[0]
                #expect(detail?["path"]?.stringValue == field, "\(method) \(path): \(response.text)")
            }
            // Nothing was stored.
            let projects = try await api.expect(200, "GET", "/projects")
            #expect(projects["items"]?.arrayValue?.count == 1)
            let flags = try await api.expect(200, "GET", "/projects/p/flags")
            #expect(flags["items"]?.arrayValue?.isEmpty == true)
        }
    }

    @Test("bodies must be JSON: text/plain and form bodies get 415; JSON with parameters and +json types are read")
    func mediaTypes() async throws {
        try await withHarness { api in
            let url = "\(api.stack.managementAPI.baseURL)/api/v1/projects"
            let auth = ("Authorization", "Bearer \(api.stack.adminToken)")
            for type in ["text/plain", "application/x-www-form-urlencoded", "application/xml"] {
                let response = try await TestHTTP.request(
                    "POST", url, headers: [auth, ("Content-Type", type)], body: Array(#"{"key":"x","name":"X"}"#.utf8))
                #expect(response.status == 415, "\(type) → \(response.status)")
                #expect(response.text.contains(#""code":"unsupported_media_type""#))
            }
            let charset = try await TestHTTP.request(
                "POST", url, headers: [auth, ("Content-Type", "application/json; charset=utf-8")],
                body: Array(#"{"key":"a","name":"A"}"#.utf8))
            #expect(charset.status == 201, "\(charset.text)")
            let bare = try await TestHTTP.request("POST", url, headers: [auth], body: Array(#"{"key":"b","name":"B"}"#.utf8))
            #expect(bare.status == 201, "a body without Content-Type is read as JSON: \(bare.text)")
            let merge = try await TestHTTP.request(
                "PATCH", url + "/a", headers: [auth, ("Content-Type", "application/merge-patch+json")], body: Array(#"{"name":"A2"}"#.utf8))
            #expect(merge.status == 200, "\(merge.text)")
        }
    }
}
