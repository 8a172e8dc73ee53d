import Foundation
import Testing
import TestSupport

/// The dashboard (docs/dashboard.md): its pure JavaScript logic (`node --test`), how management-api serves it
/// (CSP, gzip, ETag, cache headers, deep links), its size budget and the absence of HTML sinks, and the Selenium
/// scenarios in headless Chromium against a real management-api and PostgreSQL (Tests/Browser).
@Suite("Dashboard", .serialized, .timeLimit(.minutes(20)))
struct DashboardTests {
    static let web = RepositoryPaths.root.appendingPathComponent("Services/ManagementAPI/Dashboard/web")

    @Test("pure JavaScript logic (node --test Tests/Browser/unit)")
    func javaScriptLogic() async throws {
        let result = try await ChildProcess.run(
            URL(fileURLWithPath: "/usr/bin/env"), ["node", "--test", "Tests/Browser/unit/"], in: RepositoryPaths.root)
        #expect(result.status == 0, "\(result.standardOutput)\n\(result.standardError)")
        #expect(result.standardOutput.contains("# fail 0"), "\(result.standardOutput)")
    }

    @Test("JavaScript and CSS stay within 250 KiB, and no code turns data into HTML")
    func budgetAndSinks() throws {
        var total = 0
        var sinks: [String] = []
        let files = FileManager.default.enumerator(at: Self.web, includingPropertiesForKeys: nil)!
        for case let url as URL in files where ["js", "css"].contains(url.pathExtension) {
            let text = try String(contentsOf: url, encoding: .utf8)
            total += text.utf8.count
            guard url.pathExtension == "js" else { continue }
            for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let code = line.range(of: "//").map { String(line[..<$0.lowerBound]) } ?? String(line)
                for sink in ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"]
                where code.contains(sink) && !code.contains("'\(sink)'") && !code.contains("name === '\(sink)'") {
                    sinks.append("\(url.lastPathComponent):\(number + 1): \(sink)")
                }
            }
        }
        #expect(total <= 250 * 1024, "JavaScript and CSS are \(total) bytes")
        #expect(total > 10_000)
        #expect(sinks.isEmpty, "HTML sinks: \(sinks)")
    }

    @Test("served under /ui/: deep links, CSP, gzip, ETag and 304, immutable assets, the dashboard's API routes")
    func serving() async throws {
        let stack = try await TestStack.start()
        defer { Task { await stack.stop() } }
        let base = stack.managementAPI.baseURL

        let root = try await Self.curl(["\(base)/"])
        #expect(root.status == 302 && root.header("Location") == "/ui/")
        let bare = try await Self.curl(["\(base)/ui"])
        #expect(bare.status == 302 && bare.header("Location") == "/ui/")
        let index = try await TestHTTP.request("GET", "\(base)/ui/", headers: [("Accept-Encoding", "identity")])
        #expect(index.status == 200)
        #expect(index.header("Content-Type") == "text/html; charset=utf-8")
        #expect(index.header("Cache-Control") == "no-cache")
        let csp = try #require(index.header("Content-Security-Policy"))
        #expect(csp.contains("default-src 'self'") && csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"))
        #expect(index.header("X-Content-Type-Options") == "nosniff")
        #expect(!index.text.contains("{{ASSETS}}"))
        let deep = try await TestHTTP.request("GET", "\(base)/ui/projects/shop/flags/new-checkout?env=production")
        #expect(deep.status == 200 && deep.text == index.text, "every /ui/ path is the app")

        let etag = try #require(index.header("ETag"))
        let notModified = try await TestHTTP.request(
            "GET", "\(base)/ui/projects", headers: [("If-None-Match", etag), ("Accept-Encoding", "identity")])
        #expect(notModified.status == 304 && notModified.body.isEmpty)

        let regex = /\/ui\/assets\/([0-9a-f]{12})\/js\/app\.js/
        let match = try #require(index.text.firstMatch(of: regex), "index.html names the versioned app.js")
        let version = String(match.1)
        // curl, not AsyncHTTPClient: the latter inflates gzip bodies itself.
        let gzipped = try await Self.curl(["-H", "Accept-Encoding: gzip, deflate", "\(base)/ui/assets/\(version)/js/app.js"])
        #expect(gzipped.status == 200)
        #expect(gzipped.header("Content-Type") == "text/javascript; charset=utf-8")
        #expect(gzipped.header("Cache-Control") == "public, max-age=31536000, immutable")
        #expect(gzipped.header("Vary") == "Accept-Encoding")
        #expect(gzipped.header("Content-Encoding") == "gzip" && gzipped.body.starts(with: [0x1f, 0x8b]))
        let plain = try await Self.curl(["\(base)/ui/assets/\(version)/js/app.js"])
        #expect(plain.header("Content-Encoding") == nil && plain.body.count > gzipped.body.count)
        #expect(plain.text == (try String(contentsOf: Self.web.appendingPathComponent("js/app.js"), encoding: .utf8)))
        #expect(plain.header("ETag") != gzipped.header("ETag"), "each encoding has its own entity tag")
        let older = try await TestHTTP.request("GET", "\(base)/ui/assets/000000000000/css/app.css")
        #expect(older.status == 200 && older.header("Cache-Control") == "no-cache")
        let missing = try await TestHTTP.request("GET", "\(base)/ui/assets/\(version)/js/nope.js")
        #expect(missing.status == 404 && missing.text.contains("\"code\":\"not_found\""))
        let traversal = try await TestHTTP.request("GET", "\(base)/ui/assets/\(version)/../../Package.swift")
        #expect(traversal.status != 200 || !traversal.text.contains("swift-tools-version"))
        let head = try await Self.curl(["-I", "\(base)/ui/projects"])
        #expect(head.status == 200 && head.header("Content-Length") == String(index.body.count))

        let me = try await stack.api("GET", "/me")
        #expect(me.status == 200 && me.text.contains("\"role\":\"admin\""))
        let unauthenticated = try await TestHTTP.request("GET", "\(base)/api/v1/me")
        #expect(unauthenticated.status == 401)
        let latest = try await stack.api("GET", "/audit/latest")
        let latestTag = try #require(latest.header("ETag"))
        let unchanged = try await TestHTTP.json(
            "GET", "\(base)/api/v1/audit/latest", token: stack.adminToken, headers: [("If-None-Match", latestTag)])
        #expect(unchanged.status == 304)
        _ = try await stack.api("POST", "/projects", json: #"{"key":"live","name":"Live"}"#)
        let moved = try await TestHTTP.json(
            "GET", "\(base)/api/v1/audit/latest", token: stack.adminToken, headers: [("If-None-Match", latestTag)])
        #expect(moved.status == 200 && moved.header("ETag") != latestTag, "a mutation moves the audit head")

        _ = try await stack.api(
            "POST", "/projects/live/flags", json: #"{"key":"f","name":"F","variations":[{"value":true},{"value":false}]}"#)
        let evaluations = try await stack.api("GET", "/projects/live/environments/production/flag-evaluations")
        #expect(evaluations.status == 200)
        #expect(evaluations.text.contains(#""key":"f""#) && evaluations.text.contains(#""reason":"neverEvaluated""#), "\(evaluations.text)")
        let unknown = try await stack.api("GET", "/projects/live/environments/nope/flag-evaluations")
        #expect(unknown.status == 404)
    }

    /// A request with curl (no redirects followed, no decoding): status, headers and the body's bytes.
    static func curl(_ arguments: [String]) async throws -> CurlResponse {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("vane-curl-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let headers = folder.appendingPathComponent("headers"), body = folder.appendingPathComponent("body")
        let result = try await ChildProcess.run(
            URL(fileURLWithPath: "/usr/bin/env"), ["curl", "-sS", "--max-time", "20", "-D", headers.path, "-o", body.path] + arguments)
        guard result.status == 0 else { throw ChildProcess.LaunchError(description: "curl failed: \(result.standardError)") }
        let lines = try String(contentsOf: headers, encoding: .utf8).split(separator: "\r\n")
        let status = lines.first.flatMap { Int($0.split(separator: " ")[1]) } ?? 0
        let fields = lines.dropFirst().compactMap { line -> (String, String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        let bytes = (try? Data(contentsOf: body)).map { [UInt8]($0) } ?? []
        return CurlResponse(status: status, headers: fields, body: bytes)
    }

    @Test("Selenium scenarios in headless Chromium (Tests/Browser/scenarios); screenshots in .build/ui-screenshots")
    func browser() async throws {
        let stack = try await TestStack.start()
        defer { Task { await stack.stop() } }
        let screenshots = RepositoryPaths.root.appendingPathComponent(".build/ui-screenshots")
        var arguments = [
            "Tests/Browser/run_dashboard_tests.py", "--base-url", stack.managementAPI.baseURL, "--admin-token", stack.adminToken,
            "--screenshots", screenshots.path,
        ]
        if let only = ProcessInfo.processInfo.environment["VANE_UI_SCENARIOS"], !only.isEmpty {
            arguments += ["--only"] + only.split(separator: ",").map(String.init)
        }
        let result = try await ChildProcess.run(RepositoryPaths.python, arguments, in: RepositoryPaths.root)
        print(result.standardOutput)
        #expect(result.status == 0, "\(result.standardOutput)\n\(result.standardError)\nmanagement-api:\n\(stack.managementAPI.logTail())")
    }
}

struct CurlResponse {
    var status: Int
    var headers: [(String, String)]
    var body: [UInt8]
    var text: String { String(decoding: body, as: UTF8.self) }
    func header(_ name: String) -> String? { headers.last { $0.0.lowercased() == name.lowercased() }?.1 }
}
