import ModelsCore
import NIOHTTP1
import ServiceKit

/// A request for one of the streaming endpoints, recognized from its head before Hummingbird sees
/// it (see ``ConnectionHandler``):
///
/// | request | stream |
/// |---|---|
/// | `GET /all` | server-side, SDK key |
/// | `GET /eval/{clientSideId}/{base64url context}`, `REPORT /eval/{clientSideId}`, `GET /ping/{clientSideId}` | browser, ping-only |
/// | `GET /meval/{base64url context}`, `REPORT /meval`, `GET /mping` | mobile key, ping-only |
struct StreamRequest {
    /// Which stream, and how it authenticates.
    enum Route: Equatable {
        case server
        case clientSide(environmentID: String)
        case mobile
    }

    /// Where the request's context is.
    enum ContextSource: Equatable {
        /// None (`/all`, `/ping`, `/mping`).
        case none
        /// Base64url JSON in the path.
        case path(String)
        /// JSON in the body (`REPORT`).
        case body
    }

    let route: Route
    let context: ContextSource
    let version: HTTPVersion
    /// Whether the client asked for the connection to close after the response (HTTP/1.0, or
    /// `Connection: close`): a refusal then closes it.
    let closesConnection: Bool
    let authorization: String?
    let origin: String?
    /// The secure-mode hash (`h` query parameter).
    let secureModeHash: String?

    var kind: StreamKind {
        switch route {
        case .server: .server
        case .clientSide: .clientSide
        case .mobile: .mobile
        }
    }

    /// The stream request `head` asks for, or nil for any other request.
    init?(_ head: HTTPRequestHead) {
        let isGet = head.method == .GET
        let isReport = head.method == .RAW(value: "REPORT")
        guard isGet || isReport else { return nil }
        let (path, query) = Self.split(head.uri)
        let segments = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        guard path.first == "/", !segments.isEmpty else { return nil }
        switch (segments.first!, segments.count, isGet) {
        case ("all", 1, true):
            route = .server
            context = .none
        case ("eval", 3, true):
            route = .clientSide(environmentID: String(segments[segments.startIndex + 1]))
            context = .path(String(segments[segments.startIndex + 2]))
        case ("eval", 2, false):
            route = .clientSide(environmentID: String(segments[segments.startIndex + 1]))
            context = .body
        case ("ping", 2, true):
            route = .clientSide(environmentID: String(segments[segments.startIndex + 1]))
            context = .none
        case ("meval", 2, true):
            route = .mobile
            context = .path(String(segments[segments.startIndex + 1]))
        case ("meval", 1, false):
            route = .mobile
            context = .body
        case ("mping", 1, true):
            route = .mobile
            context = .none
        default:
            return nil
        }
        if case .clientSide(let id) = route, id.isEmpty { return nil }
        if case .path(let text) = context, text.isEmpty { return nil }
        version = head.version
        closesConnection = HTTPConnectionRules.closesConnection(version: head.version, isKeepAlive: head.isKeepAlive)
        authorization = head.headers.first(name: "authorization")
        origin = head.headers.first(name: "origin")
        secureModeHash = Self.queryParameter("h", in: query)
    }

    /// Validates the context, if the request has one: 400 when it is malformed.
    func decodeContext(body: [UInt8]) throws(APIError) -> EvaluationContext? {
        switch context {
        case .none: nil
        case .path(let text): try ClientContext.decode(base64URL: text)
        case .body: try ClientContext.decode(json: body)
        }
    }

    private static func split(_ uri: String) -> (path: Substring, query: Substring) {
        guard let mark = uri.firstIndex(of: "?") else { return (uri[...], "") }
        return (uri[..<mark], uri[uri.index(after: mark)...])
    }

    private static func queryParameter(_ name: String, in query: Substring) -> String? {
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            if parts.first == Substring(name), parts.count == 2, !parts[1].isEmpty { return String(parts[1]) }
        }
        return nil
    }
}
