import Hummingbird
import ModelsCore
import NIOCore

/// Reads and parses JSON request bodies with an explicit size limit.
public enum JSONBody {
    /// The raw body, or 413 when it exceeds `limit` bytes.
    public static func bytes(of request: Request, limit: Int) async throws -> [UInt8] {
        if let length = request.headers[.contentLength].flatMap(Int.init), length > limit {
            throw APIError.payloadTooLarge(limit: limit)
        }
        do {
            let buffer = try await request.body.collect(upTo: limit)
            return Array(buffer.readableBytesView)
        } catch is NIOTooManyBytesError {
            throw APIError.payloadTooLarge(limit: limit)
        }
    }

    /// The body parsed as JSON; 400 with the position of a syntax error, 413 when too large.
    public static func parse(_ request: Request, limit: Int) async throws -> JSONValue {
        let bytes = try await bytes(of: request, limit: limit)
        guard !bytes.isEmpty else { throw APIError.badRequest("the request body is empty; a JSON document is expected") }
        do {
            return try JSONParser.parse(bytes)
        } catch {
            throw APIError.badRequest("the request body is not valid JSON: \(error)")
        }
    }

    /// A JSON response with status `status`.
    public static func response(_ bytes: [UInt8], status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var headers = headers
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// A JSON response of `value`.
    public static func response(_ value: JSONValue, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        response(JSONWriter.bytes(value), status: status, headers: headers)
    }
}
