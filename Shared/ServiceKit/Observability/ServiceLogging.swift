import Logging

/// Loggers for services: logfmt-style lines on stderr at the configured level.
public enum ServiceLogging {
    /// A logger named `label` at `level`, writing to stderr. Services create one at start and pass
    /// it (or children with metadata) explicitly.
    public static func makeLogger(label: String, level: Logger.Level) -> Logger {
        var logger = Logger(label: label) { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = level
        return logger
    }
}
