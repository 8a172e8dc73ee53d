import Foundation
import Synchronization
import KafkaKit
import ModelsCore
import Testing
import TestSupport

/// PostgreSQL, dev-kafka, management-api, relay-streamer and events-ingest: what an application
/// using the SDK talks to, all real processes.
final class SDKStack: Sendable {
    let stack: TestStack
    let ingest: ServiceProcess
    /// The relay; replaced by ``restartRelay()``.
    private let relayBox: LockedValue<ServiceProcess>

    var relay: ServiceProcess { relayBox.value }

    private init(stack: TestStack, relay: ServiceProcess, ingest: ServiceProcess) {
        self.stack = stack
        relayBox = LockedValue(relay)
        self.ingest = ingest
    }

    static func start() async throws -> SDKStack {
        let stack = try await TestStack.start()
        do {
            let relay = try startRelay(stack)
            let ingest = try ServiceProcess("events-ingest", environment: [
                "VANE_KAFKA_BROKERS": stack.kafkaBrokers, "VANE_CONFIG_TOPIC": stack.configTopic, "VANE_LOG_LEVEL": "info",
                "VANE_KAFKA_MESSAGE_TIMEOUT_SECONDS": "5",
            ])
            try await relay.waitUntilReady()
            try await ingest.waitUntilReady()
            return SDKStack(stack: stack, relay: relay, ingest: ingest)
        } catch {
            await stack.stop()
            throw error
        }
    }

    private static func startRelay(_ stack: TestStack, port: Int? = nil) throws -> ServiceProcess {
        try ServiceProcess("relay-streamer", environment: [
            "VANE_KAFKA_BROKERS": stack.kafkaBrokers, "VANE_CONFIG_TOPIC": stack.configTopic, "VANE_LOG_LEVEL": "info",
            "VANE_RELAY_HEARTBEAT_SECONDS": "5",
        ], port: port)
    }

    /// Stops the relay (SIGTERM).
    func stopRelay() async { await relay.stop() }

    /// Starts a new relay on the same port and waits until it is ready.
    func restartRelay() async throws {
        let relay = try Self.startRelay(stack, port: self.relay.port)
        relayBox.set(relay)
        try await relay.waitUntilReady()
    }

    func stop() async {
        await relay.stop()
        await ingest.stop()
        await stack.stop()
    }

    /// Runs `body` with a fresh stack, stopped afterwards whatever happens.
    static func with(_ body: (SDKStack) async throws -> Void) async throws {
        let stack = try await SDKStack.start()
        do {
            try await body(stack)
        } catch {
            print("relay log:\n\(stack.relay.logTail(lines: 30))\ningest log:\n\(stack.ingest.logTail(lines: 30))")
            await stack.stop()
            throw error
        }
        await stack.stop()
    }

    // MARK: management-api

    struct Environment: Sendable {
        var id: String
        var sdkKey: String
        var clientSideID: String
    }

    /// Creates a project; returns its production environment.
    func createProject(_ key: String) async throws -> Environment {
        let response = try await stack.api("POST", "/projects", json: #"{"key":"\#(key)","name":"\#(key)"}"#)
        guard response.status == 201 || response.status == 200 else {
            throw SDKTestFailure("POST /projects: \(response.status) \(response.text)")
        }
        let production = try #require(try JSONParser.parse(response.body)["environments"]?.arrayValue?.first { $0["key"] == "production" })
        return Environment(
            id: try #require(production["id"]?.stringValue), sdkKey: try #require(production["sdkKey"]?.stringValue),
            clientSideID: try #require(production["clientSideId"]?.stringValue))
    }

    /// A management API call that must succeed.
    @discardableResult
    func api(_ method: String, _ path: String, json: String? = nil) async throws -> TestHTTP.Response {
        let response = try await stack.api(method, path, json: json)
        guard (200..<300).contains(response.status) else { throw SDKTestFailure("\(method) \(path): \(response.status) \(response.text)") }
        return response
    }

    /// Waits until the relay serves data for `sdkKey` containing `text` (at least `occurrences` times).
    func waitForRelay(_ sdkKey: String, containing text: String, occurrences: Int = 1, timeout: Duration = .seconds(30)) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let response = try? await TestHTTP.request("GET", "\(relay.baseURL)/sdk/latest-all", headers: [("Authorization", sdkKey)])
            if let response, response.status == 200, response.text.components(separatedBy: text).count > occurrences { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw SDKTestFailure("the relay did not serve \(text) within \(timeout)")
    }

    /// Every record of `vane.events.raw` for `environmentID`, read up to the end at the time of the call.
    func eventRecords(environmentID: String) async throws -> [EventsRecord] {
        let reader = try KafkaTopicReader(
            configuration: .init(bootstrapServers: [stack.kafkaBrokers], topic: "vane.events.raw"), logger: TestLogger.make("reader"))
        var catchUp = try await reader.start()
        var messages: [KafkaConsumerMessage] = []
        if !catchUp.isCaughtUp {
            for try await message in reader.messages {
                messages.append(message)
                if catchUp.observe(message) { break }
            }
        }
        try await reader.close()
        return try messages.compactMap { message in
            let record = try EventsRecord(json: try JSONParser.parse(message.value ?? []))
            return record.environmentID == environmentID ? record : nil
        }
    }
}

struct SDKTestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A value shared between tasks.
final class LockedValue<Value: Sendable>: Sendable {
    private let stored: Mutex<Value>
    init(_ value: Value) { stored = Mutex(value) }
    var value: Value { stored.withLock { $0 } }
    func set(_ value: Value) { stored.withLock { $0 = value } }
}

/// Waits for `condition`, polling every 20 ms.
func eventually(_ what: String, timeout: Duration = .seconds(30), _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while !(try await condition()) {
        guard ContinuousClock.now < deadline else { throw SDKTestFailure("\(what): not within \(timeout)") }
        try await Task.sleep(for: .milliseconds(20))
    }
}
