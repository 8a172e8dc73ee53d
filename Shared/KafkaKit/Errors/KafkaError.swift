/// The one error type KafkaKit throws.
///
/// Every failure, whether librdkafka reported it, the broker answered with it, or KafkaKit itself
/// detected it, is a `KafkaError` with a ``Code``. Compare codes, not messages:
///
/// ```swift
/// do {
///     try await producer.send(topic: "flags", value: payload)
/// } catch where error.code == .messageTimedOut {
///     // no broker acknowledged within `message.timeout.ms`
/// } catch where error.isRetriable {
///     // try again later
/// }
/// ```
///
/// `Code` is an open struct rather than an enum so that new librdkafka or broker codes can appear
/// without breaking callers' `switch` statements.
public struct KafkaError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong, as a machine-comparable code.
    public var code: Code
    /// A human-readable explanation, usually librdkafka's own error string plus context.
    public var message: String
    /// Whether the same operation may succeed if it is tried again (after a back-off).
    ///
    /// Set from librdkafka's own classification where it provides one (`rd_kafka_error_is_retriable`),
    /// otherwise from ``Code/isRetriable``.
    public var isRetriable: Bool
    /// Whether the client that reported this error is no longer usable and must be recreated.
    ///
    /// For the idempotent producer this means the exactly-once guarantee could not be kept
    /// (for example, the broker lost acknowledged messages), so librdkafka stopped the producer.
    public var isFatal: Bool

    /// Creates an error.
    ///
    /// - Parameters:
    ///   - code: The error code.
    ///   - message: A human-readable explanation. Defaults to the code's description.
    ///   - isRetriable: Overrides the code's default retriability.
    ///   - isFatal: Overrides the code's default fatality.
    public init(code: Code, message: String? = nil, isRetriable: Bool? = nil, isFatal: Bool? = nil) {
        self.code = code
        self.message = message ?? code.description
        self.isRetriable = isRetriable ?? code.isRetriable
        self.isFatal = isFatal ?? code.isFatal
    }

    /// A short human-readable form.

    public var description: String {
        var flags: [String] = []
        if self.isFatal { flags.append("fatal") }
        if self.isRetriable { flags.append("retriable") }
        let suffix = flags.isEmpty ? "" : " (\(flags.joined(separator: ", ")))"
        return "KafkaError(\(self.code.name)): \(self.message)\(suffix)"
    }
}

extension KafkaError {
    /// A KafkaKit or librdkafka error code.
    ///
    /// For errors that come from librdkafka or the broker, ``rawValue`` is librdkafka's
    /// `rd_kafka_resp_err_t` value: negative for errors librdkafka raised locally (names start with
    /// an underscore, e.g. `_MSG_TIMED_OUT`), positive for Kafka protocol errors returned by the
    /// broker (e.g. `NOT_LEADER_FOR_PARTITION`). Codes that only KafkaKit raises use the reserved
    /// range at and below `-10_000`, far away from librdkafka's.
    public struct Code: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        /// The numeric value (see the type's documentation for the ranges).
        public let rawValue: Int32

        /// Creates a code from its numeric value.
        public init(rawValue: Int32) {
            self.rawValue = rawValue
        }

        /// The symbolic name: librdkafka's `rd_kafka_err2name` for librdkafka codes
        /// (e.g. `"_MSG_TIMED_OUT"`, `"NOT_LEADER_FOR_PARTITION"`), KafkaKit's own for its codes.
        public var name: String {
            if let own = Self.kafkaKitNames[self] { return own }
            return RDKafkaErrorTable.name(of: self.rawValue)
        }

        /// Looks a code up by its symbolic name, as printed by ``name``.
        ///
        /// Accepts librdkafka names with or without their leading underscore for local errors
        /// (`"_TRANSPORT"` or `"TRANSPORT"`) and is case-insensitive. Returns `nil` for unknown names.
        public init?(name: String) {
            let wanted = name.uppercased()
            if let own = Self.kafkaKitNames.first(where: { $0.value == wanted })?.key {
                self = own
                return
            }
            guard let raw = RDKafkaErrorTable.code(named: wanted) else { return nil }
            self.init(rawValue: raw)
        }

        /// Whether KafkaKit raised this code itself, rather than librdkafka or the broker.
        public var isKafkaKitCode: Bool { self.rawValue <= -10_000 }

        /// A short human-readable form.

        public var description: String {
            if self.isKafkaKitCode { return self.name }
            return "\(self.name): \(RDKafkaErrorTable.description(of: self.rawValue))"
        }
    }
}
