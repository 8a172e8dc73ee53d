import Logging

/// Reads a service's settings from environment variables, collecting every problem so that a
/// misconfigured service reports all of them at once instead of one per restart.
public struct ServiceEnvironment: Sendable {
    /// A missing or malformed setting.
    public struct Problem: Error, Sendable, CustomStringConvertible {
        public var variable: String
        public var message: String
        public var description: String { "\(variable): \(message)" }
    }

    /// The problems of a whole configuration.
    public struct Problems: Error, Sendable, CustomStringConvertible {
        public var problems: [Problem]
        public var description: String {
            "invalid configuration:\n" + problems.map { "  \($0)" }.joined(separator: "\n")
        }
    }

    private let variables: [String: String]
    private var problems: [Problem] = []

    /// Reads from `variables` (the process environment by default).
    public init(_ variables: [String: String]) {
        self.variables = variables
    }

    /// A string, or `defaultValue` when unset or empty.
    public func string(_ name: String, default defaultValue: String) -> String {
        guard let value = variables[name], !value.isEmpty else { return defaultValue }
        return value
    }

    /// A string, or nil when unset or empty.
    public func optionalString(_ name: String) -> String? {
        guard let value = variables[name], !value.isEmpty else { return nil }
        return value
    }

    /// A required string.
    public mutating func requiredString(_ name: String, hint: String) -> String {
        guard let value = optionalString(name) else {
            problems.append(Problem(variable: name, message: "is required (\(hint))"))
            return ""
        }
        return value
    }

    /// `VANE_KAFKA_BROKERS`: the bootstrap servers, `host:port[,host:port…]` (required; spaces
    /// around the commas are ignored).
    public mutating func kafkaBrokers() -> [String] {
        requiredString("VANE_KAFKA_BROKERS", hint: "host:port[,host:port...]")
            .split(separator: ",").map { $0.filter { $0 != " " } }.filter { !$0.isEmpty }
    }

    /// An integer within `range`, or `defaultValue` when unset.
    public mutating func integer(_ name: String, default defaultValue: Int, range: ClosedRange<Int> = Int.min...Int.max) -> Int {
        guard let text = optionalString(name) else { return defaultValue }
        guard let value = Int(text), range.contains(value) else {
            problems.append(Problem(variable: name, message: "must be an integer in \(range.lowerBound)...\(range.upperBound), got \"\(text)\""))
            return defaultValue
        }
        return value
    }

    /// A duration in seconds (fractions allowed), or `defaultValue` when unset.
    public mutating func seconds(_ name: String, default defaultValue: Duration) -> Duration {
        guard let text = optionalString(name) else { return defaultValue }
        guard let value = Double(text), value >= 0, value.isFinite else {
            problems.append(Problem(variable: name, message: "must be a non-negative number of seconds, got \"\(text)\""))
            return defaultValue
        }
        return .milliseconds(Int64(value * 1000))
    }

    /// A boolean (`true`/`false`/`1`/`0`/`yes`/`no`), or `defaultValue` when unset.
    public mutating func boolean(_ name: String, default defaultValue: Bool) -> Bool {
        guard let text = optionalString(name)?.lowercased() else { return defaultValue }
        switch text {
        case "true", "1", "yes", "on": return true
        case "false", "0", "no", "off": return false
        default:
            problems.append(Problem(variable: name, message: "must be true or false, got \"\(text)\""))
            return defaultValue
        }
    }

    /// A log level (`trace` ... `critical`), or `defaultValue` when unset.
    public mutating func logLevel(_ name: String = "VANE_LOG_LEVEL", default defaultValue: Logger.Level = .info) -> Logger.Level {
        guard let text = optionalString(name)?.lowercased() else { return defaultValue }
        guard let level = Logger.Level(rawValue: text) else {
            problems.append(Problem(variable: name, message: "must be one of trace, debug, info, notice, warning, error, critical"))
            return defaultValue
        }
        return level
    }

    /// Records a problem found while interpreting settings.
    public mutating func report(_ variable: String, _ message: String) {
        problems.append(Problem(variable: variable, message: message))
    }

    /// Throws every problem recorded so far.
    public func validate() throws(Problems) {
        if !problems.isEmpty { throw Problems(problems: problems) }
    }
}

/// Where a service listens.
public struct HTTPSettings: Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// `VANE_HTTP_HOST` (default `0.0.0.0`) and `VANE_HTTP_PORT` (default `defaultPort`).
    public init(from environment: inout ServiceEnvironment, defaultPort: Int) {
        host = environment.string("VANE_HTTP_HOST", default: "0.0.0.0")
        port = environment.integer("VANE_HTTP_PORT", default: defaultPort, range: 0...65535)
    }

    public var description: String { "\(host):\(port)" }
}
