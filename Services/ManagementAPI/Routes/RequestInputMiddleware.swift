import Hummingbird
import ModelsCore
import NIOCore
import ServiceKit

/// Applies ``InputText`` to every `/api/v1` request before its handler runs:
/// * a NUL character in the path or a query parameter: 400 naming the parameter;
/// * a body whose `Content-Type` is not JSON: 415 (a body without `Content-Type` is read as JSON);
/// * a NUL character in a JSON body: 422 with the JSON path of the string.
///
/// The body is read here (within the usual 1 MiB limit, 413 above) and handed on as a buffer, so
/// handlers read it as before.
struct RequestInputMiddleware: RouterMiddleware {
    typealias Context = ManagementContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if InputText.pathHoldsNUL(request.uri.path) {
            throw APIError.badRequest("the request path \(InputText.nulMessage)")
        }
        let query = request.uri.queryParameters.map { (name: String($0.key), value: String($0.value)) }
        if let name = InputText.queryParameterHoldingNUL(query) {
            throw APIError.badRequest(
                "query parameter \"\(name)\" \(InputText.nulMessage)", details: [.init(path: name, message: InputText.nulMessage)])
        }
        guard request.method == .post || request.method == .put || request.method == .patch || request.method == .delete else {
            return try await next(request, context)
        }
        let bytes = try await JSONBody.bytes(of: request, limit: ManagementContext.bodyLimit)
        if !bytes.isEmpty {
            if let contentType = request.headers[.contentType], !InputText.isJSON(contentType: contentType) {
                throw APIError(
                    .unsupportedMediaType, code: "unsupported_media_type",
                    message: "request bodies are JSON: send Content-Type: application/json (not \"\(contentType.prefix(100))\")")
            }
            // Bodies that are not JSON are left to the handler, which answers 400 with the position.
            if let value = try? JSONParser.parse(bytes), let path = InputText.pathOfNUL(in: value) {
                throw APIError.validationFailed([.init(path: path, message: InputText.nulMessage)])
            }
        }
        var request = request
        request.body = RequestBody(buffer: ByteBuffer(bytes: bytes))
        return try await next(request, context)
    }
}
