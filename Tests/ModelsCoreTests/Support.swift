import ModelsCore
import Testing

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Parses JSON text, failing the test on a syntax error.
func json(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> JSONValue {
    do {
        return try JSONParser.parse(text)
    } catch {
        Issue.record("invalid JSON in test: \(error)", sourceLocation: sourceLocation)
        return .null
    }
}

/// A context from JSON text, failing the test if it is invalid.
func context(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> EvaluationContext {
    do {
        return try EvaluationContext(json: json(text, sourceLocation: sourceLocation))
    } catch {
        Issue.record("invalid context in test: \(error)", sourceLocation: sourceLocation)
        return .user("invalid")
    }
}

/// Compiled data from a polling payload in JSON text.
func evaluationData(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> EvaluationData {
    do {
        return EvaluationData(try PollingPayload(json: json(text, sourceLocation: sourceLocation)))
    } catch {
        Issue.record("invalid payload in test: \(error)", sourceLocation: sourceLocation)
        return EvaluationData()
    }
}

/// Data holding the given flags (JSON objects) and segments.
func evaluationData(flags: [String], segments: [String] = [], sourceLocation: SourceLocation = #_sourceLocation) -> EvaluationData {
    var payload = PollingPayload()
    do {
        for text in flags {
            let flag = try FeatureFlag(json: json(text, sourceLocation: sourceLocation))
            payload.flags[flag.key] = flag
        }
        for text in segments {
            let segment = try Segment(json: json(text, sourceLocation: sourceLocation))
            payload.segments[segment.key] = segment
        }
    } catch {
        Issue.record("invalid model in test: \(error)", sourceLocation: sourceLocation)
    }
    return EvaluationData(payload)
}

/// The directory holding this test target's fixture files.
let fixturesDirectory: String = {
    let file = #filePath
    return String(file[..<file.lastIndex(of: "/")!]) + "/Fixtures"
}()

/// The bytes of a file, or nil.
func readFile(_ path: String) -> [UInt8]? {
    FileManager.default.contents(atPath: path).map { Array($0) }
}
