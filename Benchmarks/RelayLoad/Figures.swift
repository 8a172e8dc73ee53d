import Foundation

/// Appends headline figures to `make bench`'s figures file (`Benchmarks/figures.py` renders the
/// summary), one JSON object per line: the figure, the baseline measured in the same run, and the
/// target (`<=N` or `>=N`) if there is one.
enum Figures {
    static func add(
        area: String, figure: String, value: Double, unit: String, baselineName: String? = nil, baseline: Double? = nil,
        target: String? = nil
    ) {
        let path = ProcessInfo.processInfo.environment["VANE_BENCH_FIGURES"] ?? ".build/benchmark-results/figures.jsonl"
        var record: [String: Any] = [
            "area": area, "figure": figure, "value": value, "unit": unit, "at": Date().timeIntervalSince1970,
        ]
        if let baselineName { record["baselineName"] = baselineName }
        if let baseline { record["baseline"] = baseline }
        if let target { record["target"] = target }
        guard var line = try? JSONSerialization.data(withJSONObject: record, options: [.sortedKeys]) else { return }
        line.append(UInt8(ascii: "\n"))
        let url = URL(fileURLWithPath: path)
        try? FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
        guard let handle = try? FileHandle(forWritingTo: url) else { return }
        defer { try? handle.close() }
        _ = try? handle.seekToEnd()
        try? handle.write(contentsOf: line)
    }
}
