import Foundation
import ModelsCore
import Testing
import TestSupport

@Suite("management-api: authentication and roles", .serialized, .timeLimit(.minutes(3)))
struct AccessTests {
    @Test("missing or unknown tokens get 401 as JSON; roles gate what tokens may do (403)")
    func roles() async throws {
        try await withHarness { api in
            // No token, a malformed header and an unknown token.
            for headers in [[(String, String)](), [("Authorization", "Basic abc")], [("Authorization", "Bearer nope")]] {
                let response = try await TestHTTP.request("GET", "\(api.stack.managementAPI.baseURL)/api/v1/projects", headers: headers)
                #expect(response.status == 401)
                #expect(try JSONParser.parse(response.body)["code"] == "unauthorized")
            }
            try await api.expect(201, "POST", "/projects", #"{"key":"p","name":"P"}"#)
            let reader = try await api.token("reader")
            let writer = try await api.token("writer")

            // Reader: every GET, no change.
            for path in ["/projects", "/projects/p", "/projects/p/environments", "/projects/p/environments/production",
                         "/projects/p/flags", "/projects/p/environments/production/segments", "/projects/p/environments/production/data",
                         "/audit"] {
                try await api.expect(200, "GET", path, token: reader)
            }
            let forbidden = try await api.expect(403, "POST", "/projects/p/flags",
                #"{"key":"f","name":"F","variations":[{"value":true},{"value":false}]}"#, token: reader)
            #expect(forbidden["code"] == "forbidden")
            try await api.expect(403, "GET", "/tokens", token: reader)

            // Writer: flags, targeting and segments, but not projects, environments, keys or tokens.
            try await api.expect(201, "POST", "/projects/p/flags", #"{"key":"f","name":"F","variations":[{"value":true},{"value":false}]}"#,
                token: writer)
            try await api.expect(200, "PATCH", "/projects/p/flags/f/environments/production", #"{"on":true}"#, token: writer)
            try await api.expect(201, "PUT", "/projects/p/environments/production/segments/s", #"{"included":["u"]}"#, token: writer)
            try await api.expect(403, "POST", "/projects", #"{"key":"q","name":"Q"}"#, token: writer)
            try await api.expect(403, "POST", "/projects/p/environments", #"{"key":"e","name":"E"}"#, token: writer)
            try await api.expect(403, "POST", "/projects/p/environments/production/keys/sdk/rotate", "{}", token: writer)
            try await api.expect(403, "POST", "/tokens", #"{"name":"x","role":"admin"}"#, token: writer)

            // Readers see environment keys masked; writers see them whole.
            let masked = try await api.expect(200, "GET", "/projects/p/environments/production", token: reader)
            #expect(masked["sdkKey"]?.stringValue?.contains("…") == true)
            let whole = try await api.expect(200, "GET", "/projects/p/environments/production", token: writer)
            #expect(whole["sdkKey"]?.stringValue?.hasPrefix("sdk-") == true && whole["sdkKey"]?.stringValue?.contains("…") == false)
        }
    }

    @Test("tokens are shown once, stored hashed, listed without secrets, and revoked by DELETE")
    func tokens() async throws {
        try await withHarness { api in
            let created = try await api.expect(201, "POST", "/tokens", #"{"name":"ci","role":"writer"}"#)
            let secret = try #require(created["token"]?.stringValue)
            let id = try #require(created["id"]?.stringValue)
            let list = try await api.expect(200, "GET", "/tokens")
            let listed = try #require(list["items"]?.arrayValue?.first { $0["id"]?.stringValue == id })
            #expect(listed["token"] == nil)
            #expect(listed["role"] == "writer")
            try await api.expect(200, "GET", "/projects", token: secret)
            try await api.expect(204, "DELETE", "/tokens/\(id)")
            try await api.expect(401, "GET", "/projects", token: secret)
            try await api.expect(422, "POST", "/tokens", #"{"name":"x","role":"owner"}"#)
        }
    }

    @Test("operational endpoints need no token")
    func operational() async throws {
        try await withHarness { api in
            let base = api.stack.managementAPI.baseURL
            #expect(try await TestHTTP.request("GET", "\(base)/healthz").status == 200)
            #expect(try await TestHTTP.request("GET", "\(base)/readyz").status == 200)
            let metrics = try await TestHTTP.request("GET", "\(base)/metrics")
            #expect(metrics.status == 200)
            #expect(metrics.text.contains("vane_http_requests_total"))
            let unknown = try await TestHTTP.request("GET", "\(base)/nope")
            #expect(unknown.status == 404)
            #expect(try JSONParser.parse(unknown.body)["code"] == "not_found")
        }
    }
}
