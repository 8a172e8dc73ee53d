// A command-line application on the public API of VaneSDK only.
//
//   vane-sdk-example --relay URL --events URL --sdk-key KEY --flag KEY [--context JSON] [--watch SECONDS [--changes N]]
//
// Prints one JSON line with the flag's detail, then (with --watch) one line per change of that flag
// seen through `flagChanges` for at most SECONDS (or until N changes were seen), tracks an
// `example-purchase` event, and shuts the client down (which sends the events). Exit status 1 when
// the client cannot start.

import Foundation
import VaneSDK

struct Arguments {
    var relay = "http://127.0.0.1:8030"
    var events = "http://127.0.0.1:8040"
    var sdkKey = ""
    var flag = ""
    var context = #"{"kind":"user","key":"example-user"}"#
    var watch = 0.0
    var changes = Int.max

    init(_ arguments: [String]) {
        var iterator = arguments.makeIterator()
        while let name = iterator.next() {
            let value = iterator.next() ?? ""
            switch name {
            case "--relay": relay = value
            case "--events": events = value
            case "--sdk-key": sdkKey = value
            case "--flag": flag = value
            case "--context": context = value
            case "--watch": watch = Double(value) ?? 0
            case "--changes": changes = Int(value) ?? Int.max
            default: break
            }
        }
    }
}

/// Writes one JSON line to standard output at once (unbuffered: the caller reads it while we run).
func emit(_ object: some Encodable) {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    FileHandle.standardOutput.write(((try? encoder.encode(object)) ?? Data()) + Data("\n".utf8))
}

struct Line: Encodable {
    var flag: String
    var detail: EvaluationDetail
    var event: String
    /// Wall-clock time, Unix milliseconds (to compare with when the flag was changed).
    var at: Double = (Date().timeIntervalSince1970 * 1000).rounded()
}

let arguments = Arguments(Array(CommandLine.arguments.dropFirst()))
let client = VaneClient(sdkKey: arguments.sdkKey, baseURL: URL(string: arguments.relay)!, eventsURL: URL(string: arguments.events)!)

do {
    try await client.start(timeout: .seconds(10))
} catch {
    print("cannot start: \(error)")
    exit(1)
}
let context = try EvaluationContext(json: arguments.context)
// Subscribed before the first line, so that a change made once it is printed is seen.
let changedKeys = client.flagChanges
emit(Line(flag: arguments.flag, detail: client.variationDetail(arguments.flag, context: context, default: .null), event: "initial"))

if arguments.watch > 0 {
    let watcher = Task {
        var seen = 0
        for await key in changedKeys where key == arguments.flag {
            emit(Line(flag: key, detail: client.variationDetail(key, context: context, default: .null), event: "changed"))
            seen += 1
            if seen >= arguments.changes { return }
        }
    }
    let timer = Task {
        try? await Task.sleep(for: .seconds(arguments.watch))
        watcher.cancel()
    }
    await watcher.value
    timer.cancel()
}
client.track("example-purchase", context: context, metricValue: 42)
await client.shutdown()
emit(["event": "shutdown"])
