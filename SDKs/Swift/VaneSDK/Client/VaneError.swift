/// Why a ``VaneClient`` could not start or stopped.
public struct VaneError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong.
    public enum Code: String, Sendable, Hashable {
        /// The relay refused the SDK key (401 or 403): the client stopped and will not retry.
        case unauthorized
        /// No flag data within the start timeout (the client keeps trying in the background).
        case timeout
        /// The data file could not be read or is not valid flag data.
        case invalidDataFile
        /// The client was shut down.
        case shutDown
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}
