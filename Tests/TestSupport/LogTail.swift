import Foundation

/// The last lines of a child's log file, for failure messages.
public enum LogTail {
    /// The last `lines` lines of `file` (empty when it cannot be read).
    public static func of(_ file: URL, lines: Int = 60) -> String {
        let text = (try? String(contentsOf: file, encoding: .utf8)) ?? ""
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }
}

/// Tells the test log that a child had to be killed: a hang is a failure to look into, but must not
/// hang the whole test run.
enum ForcedStop {
    static func report(_ name: String, pid: Int32, logFile: URL, gracePeriod: Duration) {
        let text = """
            TestSupport: \(name) (pid \(pid)) did not exit within \(gracePeriod) of being told to stop; \
            it was sent SIGQUIT (a Swift program prints every thread's backtrace) and then SIGKILL. \
            The end of \(logFile.path):
            \(LogTail.of(logFile, lines: 150))

            """
        try? FileHandle.standardError.write(contentsOf: Data(text.utf8))
    }
}
