import Foundation
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
            problems.append(Problem(variable: name,
                message: "must be an integer in \(range.lowerBound)...\(range.upperBound), got \"\(text)\""))
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

    /// A secret: the value of `name`, or the contents of the file named by `name_FILE` (how
    /// Kubernetes and Docker mount secrets), without trailing line breaks. Setting both is a problem,
    /// as is a file that cannot be read or is empty. nil when neither is set.
    public mutating func secret(_ name: String) -> String? {
        let fileVariable = name + "_FILE"
        let direct = optionalString(name)
        guard let path = optionalString(fileVariable) else { return direct }
        if direct != nil {
            problems.append(Problem(variable: fileVariable, message: "set \(name) or \(fileVariable), not both"))
            return direct
        }
        guard let data = FileManager.default.contents(atPath: path), var text = String(data: data, encoding: .utf8) else {
            problems.append(Problem(variable: fileVariable, message: "cannot read \"\(path)\""))
            return nil
        }
        while let last = text.last, last.isNewline { text.removeLast() }
        if text.isEmpty {
            problems.append(Problem(variable: fileVariable, message: "\"\(path)\" is empty"))
            return nil
        }
        return text
    }

    /// The path in `name` if it names an existing file (or, with `directoryAllowed`, a folder);
    /// otherwise a problem. nil when unset.
    public mutating func existingPath(_ name: String, directoryAllowed: Bool = false) -> String? {
        guard let path = optionalString(name) else { return nil }
        var isDirectory: ObjCBool = false
        if !FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            problems.append(Problem(variable: name, message: "\"\(path)\" does not exist"))
        } else if isDirectory.boolValue && !directoryAllowed {
            problems.append(Problem(variable: name, message: "\"\(path)\" is a folder, not a file"))
        } else if !FileManager.default.isReadableFile(atPath: path) {
            problems.append(Problem(variable: name, message: "\"\(path)\" is not readable"))
        }
        return path
    }

    /// The variables whose names start with `prefix`, by the rest of their name (empty values included).
    public func values(withPrefix prefix: String) -> [String: String] {
        var found: [String: String] = [:]
        for (name, value) in variables where name.hasPrefix(prefix) { found[String(name.dropFirst(prefix.count))] = value }
        return found
    }

    /// Every variable, for readers that follow another program's conventions (libpq's `PGSSL…`).
    public var allVariables: [String: String] { variables }

    /// Whether `name` is set to a non-empty value.
    public func isSet(_ name: String) -> Bool { optionalString(name) != nil }

    /// How many problems have been recorded so far.
    public var problemCount: Int { problems.count }

    /// Whether any problem has been recorded for a variable whose name starts with `prefix`.
    public func hasProblems(withPrefix prefix: String) -> Bool {
        problems.contains { $0.variable.hasPrefix(prefix) }
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
    /// How long a request may take to arrive, from its first byte to its last (headers and body);
    /// a client that trickles gets 408 (see ``HTTPConnectionRules``).
    public var requestTimeout: Duration

    public init(host: String, port: Int, requestTimeout: Duration = HTTPSettings.defaultRequestTimeout) {
        self.host = host
        self.port = port
        self.requestTimeout = requestTimeout
    }

    public static let defaultRequestTimeout = Duration.seconds(30)

    /// `VANE_HTTP_HOST` (default `0.0.0.0`), `VANE_HTTP_PORT` (default `defaultPort`) and
    /// `VANE_HTTP_REQUEST_TIMEOUT_SECONDS` (default 30, at least 0.1).
    public init(from environment: inout ServiceEnvironment, defaultPort: Int) {
        host = environment.string("VANE_HTTP_HOST", default: "0.0.0.0")
        port = environment.integer("VANE_HTTP_PORT", default: defaultPort, range: 0...65535)
        requestTimeout = max(.milliseconds(100), environment.seconds("VANE_HTTP_REQUEST_TIMEOUT_SECONDS",
            default: Self.defaultRequestTimeout))
    }

    public var description: String { "\(host):\(port)" }
}
