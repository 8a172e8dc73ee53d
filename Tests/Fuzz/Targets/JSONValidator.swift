// libFuzzer target `json-validator`: ModelsCore's JSONParser against events-ingest's EventBatchValidator, which
// must accept exactly the bodies the parser accepts that are (an object or) an array of objects and that still
// parse once nested in the `vane.events.raw` record.

import ModelsCore

/// The bytes without a leading byte order mark and surrounding JSON whitespace (what the validator's range covers).
private func trimmed(_ bytes: [UInt8]) -> ArraySlice<UInt8> {
    var slice = bytes[...]
    if slice.count >= 3, slice[0] == 0xEF, slice[1] == 0xBB, slice[2] == 0xBF { slice = slice.dropFirst(3) }
    let space: Set<UInt8> = [0x20, 0x0A, 0x0D, 0x09]
    while let first = slice.first, space.contains(first) { slice = slice.dropFirst() }
    while let last = slice.last, space.contains(last) { slice = slice.dropLast() }
    return slice
}

private func isObject(_ value: JSONValue) -> Bool {
    if case .object = value { return true }
    return false
}

func fuzzJSONValidator(_ bytes: [UInt8]) {
    let parsed = try? JSONParser.parse(bytes)
    for shape in [EventBatchValidator.Shape.batch, .objectOrBatch] {
        let batch = try? EventBatchValidator.validate(bytes, shape: shape)
        // What the parser says the validator must answer.
        var expected: (events: Int, single: Bool)?
        switch parsed {
        case .array(let elements)? where elements.allSatisfy(isObject):
            expected = (elements.count, false)
        case .object? where shape == .objectOrBatch:
            expected = (1, true)
        default:
            expected = nil
        }
        if let shaped = expected {
            // The record nests the events one level deeper: `{"events": [...]}`.
            let inner = Array(trimmed(bytes))
            let wrapped = Array("{\"events\":".utf8) + (shaped.single ? [UInt8(ascii: "[")] + inner + [UInt8(ascii: "]")] : inner)
                + [UInt8(ascii: "}")]
            if (try? JSONParser.parse(wrapped)) == nil { expected = nil }
        }
        switch (batch, expected) {
        case (nil, nil):
            continue
        case (let batch?, nil):
            fuzzFailure("the validator accepted (\(shape), \(batch.eventCount) events) what the parser refuses or nests too deep")
        case (nil, let shaped?):
            fuzzFailure("the validator refused \(shaped.events) events (\(shape)) that the parser accepts")
        case (let batch?, let shaped?):
            guard batch.eventCount == shaped.events, batch.isSingleObject == shaped.single else {
                fuzzFailure("the validator counted \(batch.eventCount) events, the parser \(shaped.events)")
            }
            guard bytes[batch.range].elementsEqual(trimmed(bytes)) else { fuzzFailure("the validator's range is not the value") }
        }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func LLVMFuzzerTestOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    fuzzJSONValidator(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}
