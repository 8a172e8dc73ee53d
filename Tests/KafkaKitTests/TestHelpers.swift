import KafkaKit
import Logging
import Synchronization
import TestSupport

typealias TestLoggerFactory = TestLogger

/// Short group timeouts: a departed member is noticed in seconds, not librdkafka's default 45 s.
func testConsumerConfiguration(_ kafka: DevKafka, group: String, topics: [String]) -> KafkaConsumerConfiguration {
    var configuration = KafkaConsumerConfiguration(
        bootstrapServers: [kafka.bootstrapServers], groupID: group, topics: topics)
    configuration.sessionTimeout = .milliseconds(6000)
    configuration.heartbeatInterval = .milliseconds(500)
    return configuration
}

/// A group id no other test uses.
func freshGroupID(_ name: String = #function) -> String {
    "\(name.prefix { $0 != "(" })-\(UInt32.random(in: 0...UInt32.max))"
}

/// A topic name no other test uses.
func freshTopic(_ name: String = #function) -> String {
    "t-\(name.prefix { $0 != "(" })-\(UInt32.random(in: 0...UInt32.max))"
}

/// Reads a whole topic from the earliest offsets up to the high watermarks at start.
func readAll(_ kafka: DevKafka, topic: String, logger: Logger) async throws -> [KafkaConsumerMessage] {
    let reader = try KafkaTopicReader(
        configuration: .init(bootstrapServers: [kafka.bootstrapServers], topic: topic), logger: logger)
    var catchUp = try await reader.start()
    var messages: [KafkaConsumerMessage] = []
    if !catchUp.isCaughtUp {
        for try await message in reader.messages {
            messages.append(message)
            if catchUp.observe(message) { break }
        }
    }
    try await reader.close()
    return messages
}

extension KafkaConsumerMessage {
    var valueString: String { self.value.map { String(decoding: $0, as: UTF8.self) } ?? "<nil>" }
}

/// A lock-protected value that closures can capture (a `Mutex` itself is non-copyable).
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    init(_ value: Value) {
        self.mutex = Mutex(value)
    }

    func withLock<R: Sendable>(_ body: (inout Value) -> R) -> R {
        self.mutex.withLock { body(&$0) }
    }

    var value: Value { self.mutex.withLock { $0 } }
}
