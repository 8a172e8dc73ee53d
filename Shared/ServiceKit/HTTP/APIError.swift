import Hummingbird
import HTTPTypes
import ModelsCore
import NIOCore
import NIOHTTP1

/// An error answered as `{"code": "...", "message": "...", "details": [...]}` with its status.
///
/// Every service answers every failure this way, including unknown routes and malformed bodies, so
/// clients can always parse an error.
public struct APIError: Error, HTTPResponseError, Sendable, CustomStringConvertible {
    /// One specific problem, e.g. an invalid field and its JSON path.
    public struct Detail: Sendable, Hashable {
        public var path: String?
        public var message: String
        public init(path: String? = nil, message: String) {
            self.path = path
            self.message = message
        }
    }

    public var status: HTTPResponse.Status
    /// A stable machine-readable code, e.g. `validation_failed`.
    public var code: String
    public var message: String
    public var details: [Detail]
    public var headers: HTTPFields

    public init(_ status: HTTPResponse.Status, code: String, message: String, details: [Detail] = [], headers: HTTPFields = [:]) {
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers
    }

    public var description: String { "\(status.code) \(code): \(message)" }

    public static func badRequest(_ message: String, details: [Detail] = []) -> APIError {
        APIError(.badRequest, code: "bad_request", message: message, details: details)
    }
    public static func unauthorized(_ message: String = "a valid API token is required") -> APIError {
        APIError(.unauthorized, code: "unauthorized", message: message, headers: [.wwwAuthenticate: "Bearer"])
    }
    public static func forbidden(_ message: String) -> APIError {
        APIError(.forbidden, code: "forbidden", message: message)
    }
    public static func notFound(_ message: String) -> APIError {
        APIError(.notFound, code: "not_found", message: message)
    }
    public static func conflict(_ message: String) -> APIError {
        APIError(.conflict, code: "conflict", message: message)
    }
    public static func preconditionFailed(_ message: String) -> APIError {
        APIError(.preconditionFailed, code: "precondition_failed", message: message)
    }
    public static func validationFailed(_ details: [Detail]) -> APIError {
        APIError(.unprocessableContent, code: "validation_failed",
                 message: details.count == 1 ? "the request is invalid" : "the request has \(details.count) problems", details: details)
    }
    public static func payloadTooLarge(limit: Int) -> APIError {
        APIError(.contentTooLarge, code: "payload_too_large", message: "the request body exceeds \(limit) bytes")
    }
    public static func serviceUnavailable(_ message: String, retryAfterSeconds: Int) -> APIError {
        APIError(.serviceUnavailable, code: "unavailable", message: message, headers: [.retryAfter: "\(retryAfterSeconds)"])
    }

    /// The JSON body.
    public var jsonBytes: [UInt8] {
        var w = JSONWriter(capacity: 128)
        w.beginObject()
        w.key("code"); w.writeString(code)
        w.key("message"); w.writeString(message)
        w.key("details"); w.beginArray()
        for detail in details {
            w.beginObject()
            if let path = detail.path { w.key("path"); w.writeString(path) }
            w.key("message"); w.writeString(detail.message)
            w.endObject()
        }
        w.endArray()
        w.endObject()
        return w.bytes
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers = self.headers
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: jsonBytes)))
    }
}

extension APIError {
    /// The error as raw HTTP/1 response parts, for handlers below Hummingbird (the connection guard,
    /// the relay's stream refusals): head (`Content-Type`, `Content-Length`, the error's own headers,
    /// `extraHeaders`, and `Connection: close` when `close`), JSON body, end.
    public func http1ResponseParts(
        version: HTTPVersion, extraHeaders: [(String, String)] = [], close: Bool
    ) -> [HTTPServerResponsePart] {
        let body = jsonBytes
        var fields = HTTPHeaders()
        fields.add(name: "Content-Type", value: "application/json")
        fields.add(name: "Content-Length", value: String(body.count))
        for field in headers { fields.add(name: field.name.rawName, value: field.value) }
        for (name, value) in extraHeaders { fields.add(name: name, value: value) }
        if close { fields.add(name: "Connection", value: "close") }
        let head = HTTPResponseHead(version: version, status: HTTPResponseStatus(statusCode: status.code), headers: fields)
        return [.head(head), .body(.byteBuffer(ByteBuffer(bytes: body))), .end(nil)]
    }
}
