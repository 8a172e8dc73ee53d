import HTTPTypes
import Hummingbird
import ModelsCore
import NIOCore
import ServiceKit

/// The OpenFeature Remote Evaluation Protocol, authenticated by SDK key (`Authorization: Bearer
/// <key>`, a plain `Authorization: <key>`, or `X-API-Key: <key>`):
///
/// * `POST /ofrep/v1/evaluate/flags/{key}` — one flag: 200, 400 (context or flag error) or 404;
/// * `POST /ofrep/v1/evaluate/flags` — every flag of the environment, with an `ETag` (the data
///   revision and the context) and 304 when `If-None-Match` matches.
///
/// The body is `{"context": {...}}` (see ``OFREPContext`` for how contexts map).
struct OFREPRoutes {
    let access: RelayAccess
    let gate: BuildGate
    let maxBodyBytes: Int

    /// The alternative credential header OFREP providers send.
    static let apiKey = HTTPField.Name("X-API-Key")!

    /// The routes' paths and methods (for 405 answers to other methods).
    static let paths: [(path: String, allowed: [HTTPRequest.Method])] = [
        ("ofrep/v1/evaluate/flags/:key", [.post]), ("ofrep/v1/evaluate/flags", [.post]),
    ]

    /// Registers the routes.
    func add(to router: Router<BasicRequestContext>) {
        router.post("ofrep/v1/evaluate/flags/:key") { request, context in
            let key = try context.parameters.require("key")
            let admitted = try authenticate(request)
            return try await RelayHeaders.adding(RelayHeaders.fields(environmentID: admitted.environment.id,
                revision: admitted.data.revision)) {
                let evaluationContext: EvaluationContext
                switch try await requestContext(request, flagKey: key) {
                case .invalid(let failure): return failure
                case .valid(let parsed, _): evaluationContext = parsed
                }
                let snapshot = admitted.data.snapshot()
                let outcome = OFREPEvaluation.evaluate(key: key, in: snapshot.evaluation, context: evaluationContext)
                var response = Self.json(outcome.json, status: HTTPResponse.Status(code: outcome.status))
                response.headers.append(contentsOf: RelayHeaders.fields(environmentID: admitted.environment.id,
                    revision: snapshot.revision))
                return response
            }
        }
        router.post("ofrep/v1/evaluate/flags") { request, _ in
            let admitted = try authenticate(request)
            return try await RelayHeaders.adding(RelayHeaders.fields(environmentID: admitted.environment.id,
                revision: admitted.data.revision)) {
                if let problem = Self.refetchMetadataProblem(request.uri.queryParameters.get("flagConfigLastModified")) {
                    var writer = JSONWriter(capacity: 128)
                    OFREPEvaluation.writeFailure(key: nil, code: "PARSE_ERROR", details: problem, metadata: nil, to: &writer)
                    return Self.json(writer.bytes, status: .badRequest)
                }
                let (evaluationContext, contextJSON): (EvaluationContext, JSONValue?)
                switch try await requestContext(request, flagKey: nil) {
                case .invalid(let failure): return failure
                case .valid(let parsed, let json): (evaluationContext, contextJSON) = (parsed, json)
                }
                let snapshot = admitted.data.snapshot()
                var headers = RelayHeaders.fields(environmentID: admitted.environment.id, revision: snapshot.revision)
                let etag = Self.etag(environmentID: admitted.environment.id, revision: snapshot.revision, context: contextJSON)
                headers[.eTag] = etag
                if request.ifNoneMatch(etag) {
                    return Response(status: .notModified, headers: headers)
                }
                guard let body = gate.run({ Self.evaluateAll(snapshot.evaluation, context: evaluationContext) }) else {
                    throw access.overloaded()
                }
                var response = Self.json(body, status: .ok)
                response.headers.append(contentsOf: headers)
                return response
            }
        }
    }

    private func authenticate(_ request: Request) throws(APIError) -> EnvironmentAccess {
        try access.serverSide(authorization: request.headers[.authorization] ?? request.headers[Self.apiKey],
            now: WallClock.nowMilliseconds())
    }

    /// What the request's body says about the evaluation context.
    private enum RequestContext {
        /// A usable context, and the body's `context` member it came from (nil when absent).
        case valid(EvaluationContext, json: JSONValue?)
        /// The OFREP failure to answer with: 400 with the error code (for `flagKey` when given).
        case invalid(Response)
    }

    /// Reads the `{"context": {...}}` body. Bodies that are not JSON objects (`PARSE_ERROR`) and
    /// contexts OFREP rejects (no targeting key, a bad kind) are answered with OFREP failure objects,
    /// as OpenFeature providers read `errorCode`; only a body over the limit is a plain 413.
    private func requestContext(_ request: Request, flagKey: String?) async throws -> RequestContext {
        let bytes = try await JSONBody.bytes(of: request, limit: maxBodyBytes)
        do throws(OFREPContextError) {
            let json = try Self.contextMember(bytes)
            return .valid(try OFREPContext.evaluationContext(json), json: json)
        } catch {
            var writer = JSONWriter(capacity: 128)
            OFREPEvaluation.writeFailure(key: flagKey, code: error.code, details: error.details, metadata: nil, to: &writer)
            return .invalid(Self.json(writer.bytes, status: .badRequest))
        }
    }

    /// The body's `context` member (nil when the body or the member is absent).
    static func contextMember(_ bytes: [UInt8]) throws(OFREPContextError) -> JSONValue? {
        guard !bytes.isEmpty else { return nil }
        let body: JSONValue
        do {
            body = try JSONParser.parse(bytes)
        } catch {
            throw .parse("the request body is not valid JSON: \(error)")
        }
        guard case .object(let properties) = body else {
            throw .parse("the request body must be a JSON object {\"context\": {...}}, found \(body.typeName)")
        }
        return properties["context"]
    }

    /// Why a bulk request's `flagConfigLastModified` (change-notification metadata, ADR-0008) is
    /// malformed, or nil: it is either Unix seconds (a non-negative integer) or an RFC 3339
    /// date-time. The relay answers from its current data either way, so it is only validated.
    static func refetchMetadataProblem(_ value: String?) -> String? {
        guard let value else { return nil }
        if !value.isEmpty, value.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) { return nil }
        if rfc3339UnixMilliseconds(value) != nil { return nil }
        return "flagConfigLastModified must be Unix seconds or an RFC 3339 date-time"
    }

    /// `{"flags": [...]}`: every flag, in key order, each a success or a failure object.
    static func evaluateAll(_ evaluation: EvaluationData, context: EvaluationContext) -> [UInt8] {
        var writer = JSONWriter(capacity: 128 * max(1, evaluation.flags.count))
        writer.beginObject()
        writer.key("flags")
        writer.beginArray()
        for key in evaluation.flags.keys.sorted(by: utf8Less) {
            OFREPEvaluation.write(evaluation.flags[key]!, in: evaluation, context: context, to: &writer)
        }
        writer.endArray()
        writer.endObject()
        return writer.bytes
    }

    /// The bulk ETag: changes with the environment's data and with the context.
    static func etag(environmentID: String, revision: Int, context: JSONValue?) -> String {
        var input = Array(environmentID.utf8)
        input.append(0)
        input.append(contentsOf: JSONWriter.bytes(context ?? .null))
        return "\"r\(revision)-\(SHA256.hex(Array(SHA256.hash(input).prefix(8))))\""
    }

    private static func json(_ bytes: [UInt8], status: HTTPResponse.Status) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}
