import ArgumentParser
import ModelsCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `vanectl eval`: evaluates every flag of a polling payload for each context of a file, printing
/// one JSON line per (context, flag) with the value, variation index and reason LaunchDarkly's SDKs
/// would give.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Evaluate flags for contexts, offline.",
        discussion: """
            Prints JSON Lines: for each context in file order and, within it, each flag in ascending \
            key order (or only --flag):
              {"context":<index>,"flag":"<key>","value":<value>,"variationIndex":<int|null>,"reason":{...}}
            An invalid context gives ERROR/USER_NOT_SPECIFIED. An unreadable or invalid file exits \
            with status 2 and one line on stderr naming the file and the position of the problem.
            """)

    @Option(name: .long, help: ArgumentHelp("The polling payload {\"flags\":{...},\"segments\":{...}}.", valueName: "file"))
    var data: String

    @Option(name: .long, help: ArgumentHelp("A JSON array of contexts.", valueName: "file"))
    var contexts: String

    @Option(name: .long, help: ArgumentHelp("Evaluate only this flag.", valueName: "key"))
    var flag: String?

    func run() throws {
        let payload: PollingPayload
        do {
            payload = try PollingPayload(json: try DataFile.readJSON(data))
        } catch let error as ModelDecodingError {
            throw DataFile.fail(data, "\(error)")
        }
        let contextValues: [JSONValue]
        guard case .array(let values) = try DataFile.readJSON(contexts) else {
            throw DataFile.fail(contexts, "line 1, column 1: expected a JSON array of contexts")
        }
        contextValues = values

        let evaluationData = EvaluationData(payload)
        let flagKeys = flag.map { [$0] } ?? evaluationData.flags.keys.sorted(by: utf8Less)
        var output = OutputBuffer()
        for (index, contextValue) in contextValues.enumerated() {
            let context = try? EvaluationContext(json: contextValue)
            for key in flagKeys {
                let detail: EvaluationDetail
                if let context {
                    detail = evaluationData.evaluate(flagKey: key, context: context)
                } else {
                    detail = .error(.userNotSpecified)
                }
                output.writeLine(context: index, flag: key, detail: detail)
            }
        }
        output.flush()
    }
}

/// Reads input files, turning every failure into one stderr line and exit status 2.
enum DataFile {
    static func readJSON(_ path: String) throws -> JSONValue {
        let bytes = try read(path)
        do {
            return try JSONParser.parse(bytes)
        } catch {
            throw fail(path, "\(error)")
        }
    }

    static func read(_ path: String) throws -> [UInt8] {
        guard let file = fopen(path, "rb") else {
            throw fail(path, "cannot read: \(String(cString: strerror(errno)))")
        }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
            if n > 0 { bytes.append(contentsOf: chunk[0..<n]) }
            if n < chunk.count {
                if ferror(file) != 0 { throw fail(path, "cannot read: \(String(cString: strerror(errno)))") }
                break
            }
        }
        return bytes
    }

    /// Prints `vanectl: <path>: <message>` to stderr and returns the exit to throw.
    static func fail(_ path: String, _ message: String) -> ExitCode {
        Console.writeStderr("vanectl: \(path): \(message)")
        return ExitCode(2)
    }
}

/// Buffers output lines and writes them to stdout in large chunks.
struct OutputBuffer {
    private var writer = JSONWriter(capacity: 1 << 16)
    private var pending: [UInt8] = []

    mutating func writeLine(context: Int, flag: String, detail: EvaluationDetail) {
        writer = JSONWriter(capacity: 256)
        writer.beginObject()
        writer.key("context"); writer.writeInt(context)
        writer.key("flag"); writer.writeString(flag)
        writer.key("value"); writer.writeValue(detail.value)
        writer.key("variationIndex")
        if let index = detail.variationIndex { writer.writeInt(index) } else { writer.writeNull() }
        writer.key("reason"); detail.reason.write(to: &writer)
        writer.endObject()
        pending.append(contentsOf: writer.bytes)
        pending.append(UInt8(ascii: "\n"))
        if pending.count >= 1 << 16 { flush() }
    }

    mutating func flush() {
        Console.writeStdout(pending)
        pending.removeAll(keepingCapacity: true)
    }
}
