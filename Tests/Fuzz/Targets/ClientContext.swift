// libFuzzer target `client-context`: the base64url context of the client-side routes (`GET /eval/{id}/{context}`,
// `/meval/{context}`, `/sdk/evalx/...`), decoded as ClientContext.decode does (Base64URL, JSONParser,
// EvaluationContext), then evaluated. The input is the path segment's text.

import ModelsCore

private let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

/// Unpadded base64url of `bytes`.
private func encode(_ bytes: [UInt8]) -> String {
    var out: [UInt8] = []
    var i = 0
    while i < bytes.count {
        let chunk = Array(bytes[i..<min(i + 3, bytes.count)])
        let n = chunk.count
        let value = (UInt32(chunk[0]) << 16) | (n > 1 ? UInt32(chunk[1]) << 8 : 0) | (n > 2 ? UInt32(chunk[2]) : 0)
        for j in 0...n { out.append(alphabet[Int((value >> UInt32(18 - 6 * j)) & 63)]) }
        i += 3
    }
    return String(decoding: out, as: UTF8.self)
}

func fuzzClientContext(_ bytes: [UInt8]) {
    let text = String(decoding: bytes, as: UTF8.self)
    guard let decoded = Base64URL.decode(text) else { return }
    // Encoding what was decoded gives text that decodes to the same bytes (the decoder, like Go's, ignores the
    // unused low bits of a last character, so the text itself may differ).
    guard Base64URL.decode(encode(decoded)) == decoded else { fuzzFailure("base64url round trip of \(text)") }
    guard let json = try? JSONParser.parse(decoded), let context = try? EvaluationContext(json: json) else { return }
    fuzzEvaluateAll(fuzzEvaluationData, context: context)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func LLVMFuzzerTestOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    fuzzClientContext(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}
