import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import ServiceKit

/// Serves the dashboard under `/ui/` on management-api's own origin (no token needed for the files; every
/// API call the dashboard makes carries the token):
/// * `/ui/assets/<version>/<path>`: the CSS, ES modules and images, `Cache-Control: immutable` for a year
///   when `<version>` is the current one (a new release has a new version, so browsers fetch it at once);
/// * every other `/ui/...` path: `index.html` (the single-page app routes in the browser, so deep links
///   survive a reload), `Cache-Control: no-cache` (revalidated with its ETag on every load);
/// * `/ui` and `/` redirect to `/ui/`.
///
/// Every answer is gzip-compressed when the client accepts it, carries a strong ETag (304 on a match) and
/// the Content-Security-Policy below: scripts, styles, images and API calls only from this origin, and no
/// inline script or style element at all.
struct DashboardRoutes: Sendable {
    let files: DashboardFiles

    static let contentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        + "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

    func add<Context: RequestContext>(to router: Router<Context>) {
        for method in [HTTPRequest.Method.get, .head] {
            router.on("/", method: method) { _, _ in Self.redirect(to: "/ui/") }
            // One route for `/ui` and `/ui/` (the router does not tell them apart).
            router.on("/ui", method: method) { [files] request, _ in
                request.uri.path.hasSuffix("/") ? Self.page(files, request) : Self.redirect(to: "/ui/")
            }
            router.on("/ui/assets/:version/**", method: method) { [files] request, context in
                try Self.asset(files, request, version: context.parameters.require("version"))
            }
            router.on("/ui/**", method: method) { [files] request, _ in Self.page(files, request) }
        }
    }

    static func redirect(to location: String) -> Response {
        Response(status: .found, headers: [.location: location, .cacheControl: "no-cache"])
    }

    static func page(_ files: DashboardFiles, _ request: Request) -> Response {
        guard let index = files.index else { return notInstalled() }
        return send(index, request, cacheControl: "no-cache")
    }

    static func asset(_ files: DashboardFiles, _ request: Request, version: String) throws -> Response {
        guard files.index != nil else { return notInstalled() }
        let prefix = "/ui/assets/\(version)/"
        let path = request.uri.path
        guard path.hasPrefix(prefix), let file = files.files[String(path.dropFirst(prefix.count))] else {
            throw APIError.notFound("no such dashboard file")
        }
        // An older or newer version (a page loaded before a deployment, or another replica during a rolling one)
        // still gets the current file, but not cached for long.
        let cacheControl = version == files.version ? "public, max-age=31536000, immutable" : "no-cache"
        return send(file, request, cacheControl: cacheControl)
    }

    static func notInstalled() -> Response {
        let error = APIError(
            .notFound, code: "not_found",
            message: "the dashboard's files are not installed: vane_ManagementAPI.resources/web next to the management-api binary, "
                + "or VANE_DASHBOARD_DIR (see docs/dashboard.md)")
        return JSONBody.response(error.jsonBytes, status: .notFound)
    }

    static func send(_ file: DashboardFiles.File, _ request: Request, cacheControl: String) -> Response {
        let gzip = file.gzip.flatMap { acceptsGzip(request.headers[.acceptEncoding]) ? $0 : nil }
        let etag = gzip == nil ? file.etag : String(file.etag.dropLast()) + "-gz\""
        var headers: HTTPFields = [
            .contentType: file.contentType, .eTag: etag, .cacheControl: cacheControl, .vary: "Accept-Encoding",
            .contentSecurityPolicy: contentSecurityPolicy, .xContentTypeOptions: "nosniff",
            .referrerPolicy: "no-referrer", .xFrameOptions: "DENY",
        ]
        if let match = request.headers[.ifNoneMatch], matches(match, etag) {
            return Response(status: .notModified, headers: headers)
        }
        let body = gzip ?? file.identity
        if gzip != nil { headers[.contentEncoding] = "gzip" }
        headers[.contentLength] = String(body.count)
        if request.method == .head { return Response(status: .ok, headers: headers) }
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }

    /// Whether `Accept-Encoding` allows gzip (`gzip`, `x-gzip` or `*`, with a q-value above 0).
    static func acceptsGzip(_ header: String?) -> Bool {
        guard let header else { return false }
        for item in header.split(separator: ",") {
            let parts = item.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            guard let coding = parts.first, coding == "gzip" || coding == "x-gzip" || coding == "*" else { continue }
            let q = parts.dropFirst().first { $0.hasPrefix("q=") }.flatMap { Double($0.dropFirst(2)) } ?? 1
            return q > 0
        }
        return false
    }

    /// `If-None-Match` (a list of entity tags, weak ones compared weakly, or `*`) against `etag`.
    static func matches(_ header: String, _ etag: String) -> Bool {
        for item in header.split(separator: ",") {
            var tag = item.trimmingCharacters(in: .whitespaces)
            if tag == "*" { return true }
            if tag.hasPrefix("W/") { tag.removeFirst(2) }
            if tag == etag { return true }
        }
        return false
    }
}

extension HTTPField.Name {
    fileprivate static let referrerPolicy = Self("Referrer-Policy")!
    fileprivate static let xFrameOptions = Self("X-Frame-Options")!
}
