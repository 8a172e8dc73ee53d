import Foundation
import Logging

/// Loggers for tests: stderr, level from `KAFKAKIT_TEST_LOG_LEVEL` (default `warning`), never the
/// global logging system.
public enum TestLogger {
    /// A stderr logger with the given label.
    public static func make(_ label: String) -> Logger {
        var logger = Logger(label: label) { StreamLogHandler.standardError(label: $0) }
        let level = ProcessInfo.processInfo.environment["KAFKAKIT_TEST_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:))
        logger.logLevel = level ?? .warning
        return logger
    }
}
