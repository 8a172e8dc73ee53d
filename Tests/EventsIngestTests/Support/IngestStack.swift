import AsyncHTTPClient
import Foundation
import KafkaKit
import Logging
import ModelsCore
import NIOCore
import ServiceKit
import Synchronization
import Testing
import TestSupport

/// dev-kafka and a running events-ingest, shared by the tests of one suite through the
/// ``Trait/ingestStack(_:)`` trait. Environments are published to `vane.config` the way
/// management-api's outbox publisher does (same ModelsCore records, key and partition), so the
/// suites need no PostgreSQL.
final class IngestStack: Sendable {
    /// The stack of the suite being run.
    @TaskLocal static var current: IngestStack?

    let kafka: DevKafka
    let ingest: ServiceProcess
    let configTopic = "vane.config"
    let configPartitions = 3
    let eventsTopic = "vane.events.raw"
    private let producer: KafkaProducer

    private init(kafka: DevKafka, producer: KafkaProducer, ingest: ServiceProcess) {
        self.kafka = kafka
        self.producer = producer
        self.ingest = ingest
    }

    /// Starts a broker and an events-ingest with `ingestEnvironment` added to its settings.
    static func start(ingestEnvironment: [String: String] = [:]) async throws -> IngestStack {
        let kafka = try await DevKafka.start(brokers: 1, topics: ["vane.config:3", "vane.events.raw:3"])
        do {
            // Its complaint when the broker stops at the end of the suite is expected.
            var logger = TestLogger.make("config-producer")
            logger.logLevel = .error
            let producer = try KafkaProducer(configuration: .init(bootstrapServers: [kafka.bootstrapServers]), logger: logger)
            let ingest = try startIngest(brokers: kafka.bootstrapServers, environment: ingestEnvironment)
            try await ingest.waitUntilReady()
            return IngestStack(kafka: kafka, producer: producer, ingest: ingest)
        } catch {
            _ = await kafka.stop()
            throw error
        }
    }

    /// Another events-ingest process on this broker (for settings or lifecycles of its own).
    func startIngest(environment: [String: String] = [:]) async throws -> ServiceProcess {
        let process = try Self.startIngest(brokers: kafka.bootstrapServers, environment: environment)
        try await process.waitUntilReady()
        return process
    }

    private static func startIngest(brokers: String, environment: [String: String]) throws -> ServiceProcess {
        var variables = [
            "VANE_KAFKA_BROKERS": brokers, "VANE_CONFIG_TOPIC": "vane.config", "VANE_LOG_LEVEL": "info",
            "VANE_KAFKA_MESSAGE_TIMEOUT_SECONDS": "5",
        ]
        for (key, value) in environment { variables[key] = value }
        return try ServiceProcess("events-ingest", environment: variables)
    }

    func stop() async {
        await ingest.stop()
        _ = await kafka.stop()
    }

    // MARK: Environments

    /// The credentials of one environment.
    struct Environment: Sendable {
        var id: String
        var sdkKey: String
        var mobileKey: String
        var clientSideID: String
    }

    /// Publishes a new environment (as management-api does when a project is created) and returns
    /// it once `ingest` knows its keys.
    func createEnvironment(knownTo ingest: ServiceProcess? = nil) async throws -> Environment {
        let environment = Environment(
            id: UUID().uuidString.lowercased(), sdkKey: "sdk-\(UUID().uuidString.lowercased())",
            mobileKey: "mob-\(UUID().uuidString.lowercased())",
            clientSideID: String(UUID().uuidString.lowercased().filter { $0 != "-" }.prefix(24)))
        try await publish(environment, version: 1)
        try await waitUntilKnown(environment, to: ingest ?? self.ingest)
        return environment
    }

    /// Publishes `environment`'s record; `retiredSDKKey` stays valid until `expiresAt` (key rotation).
    func publish(_ environment: Environment, version: Int, retiredSDKKey: (key: String, expiresAt: Int)? = nil) async throws {
        var sdkKeys = [EnvironmentRecord.Credential(
            sha256: Credentials.hash(environment.sdkKey), secureModeKey: HMACKeyState(key: environment.sdkKey))]
        if let retired = retiredSDKKey {
            sdkKeys.append(.init(sha256: Credentials.hash(retired.key), expiresAt: retired.expiresAt,
                secureModeKey: HMACKeyState(key: retired.key)))
        }
        let data = EnvironmentRecord(
            id: environment.id, key: "production", projectKey: "p", name: "Production", sdkKeys: sdkKeys,
            mobileKeys: [.init(sha256: Credentials.hash(environment.mobileKey))], clientSideID: environment.clientSideID,
            secureMode: false)
        let record = ConfigRecord(kind: .environment, environmentID: environment.id, key: "production",
            version: version, data: data.jsonValue)
        try await producer.send(KafkaRecord(
            topic: configTopic, partition: ConfigRecord.partition(environmentID: environment.id, partitionCount: configPartitions),
            key: Array(record.recordKey.utf8), value: record.jsonBytes))
    }

    /// Waits until events-ingest authenticates the environment's SDK key: a malformed body is then
    /// refused with 400 (not 401), so no record is written while polling.
    func waitUntilKnown(_ environment: Environment, to ingest: ServiceProcess, key: String? = nil) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            let response = try await post("/bulk", to: ingest, key: key ?? environment.sdkKey, body: Array("x".utf8))
            if response.status == 400 { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestFailure("events-ingest did not learn environment \(environment.id)")
    }

    // MARK: HTTP

    /// POSTs `body` to `path` of `ingest` (default: the stack's), with an SDK/mobile key as
    /// `Authorization` when given.
    func post(
        _ path: String, to ingest: ServiceProcess? = nil, key: String? = nil, body: [UInt8], headers: [(String, String)] = [],
        chunked: Bool = false, timeout: Duration = .seconds(30)
    ) async throws -> HTTPResult {
        let target = ingest ?? self.ingest
        var all = headers
        if let key { all.append(("Authorization", key)) }
        if !all.contains(where: { $0.0.lowercased() == "content-type" }) { all.append(("Content-Type", "application/json")) }
        guard chunked else {
            return HTTPResult(try await TestHTTP.request("POST", target.baseURL + path, headers: all, body: body, timeout: timeout))
        }
        // No Content-Length: the body arrives in chunks of unknown total size.
        var request = HTTPClientRequest(url: target.baseURL + path)
        request.method = .POST
        for (name, value) in all { request.headers.add(name: name, value: value) }
        let chunks = stride(from: 0, to: body.count, by: 64 << 10).map { ByteBuffer(bytes: body[$0..<min($0 + (64 << 10), body.count)]) }
        request.body = .stream(chunks.async, length: .unknown)
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(timeout.components.seconds))
        let collected = try await response.body.collect(upTo: 1 << 20)
        return HTTPResult(
            status: Int(response.status.code), headers: response.headers.map { ($0.name, $0.value) },
            body: Array(collected.readableBytesView))
    }

    // MARK: Topic

    /// A record of the events topic, raw and decoded.
    struct StoredRecord: Sendable {
        var key: String
        var value: [UInt8]
        var record: EventsRecord
    }

    /// Every record of the events topic (optionally of one environment), read from the start up to
    /// the end at the time of the call.
    func records(environmentID: String? = nil) async throws -> [StoredRecord] {
        let reader = try KafkaTopicReader(
            configuration: .init(bootstrapServers: [kafka.bootstrapServers], topic: eventsTopic), logger: TestLogger.make("reader"))
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
            let value = message.value ?? []
            let record = try EventsRecord(json: try JSONParser.parse(value))
            guard environmentID == nil || record.environmentID == environmentID else { return nil }
            return StoredRecord(key: String(decoding: message.key ?? [], as: UTF8.self), value: value, record: record)
        }
    }
}

/// Runs a suite with its own ``IngestStack`` (started before its first test, stopped after its last).
struct IngestStackTrait: SuiteTrait, TestScoping {
    var ingestEnvironment: [String: String]
    var isRecursive: Bool { false }

    func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        let stack = try await IngestStack.start(ingestEnvironment: ingestEnvironment)
        do {
            try await IngestStack.$current.withValue(stack) { try await function() }
        } catch {
            await stack.stop()
            throw error
        }
        await stack.stop()
    }
}

extension Trait where Self == IngestStackTrait {
    /// Gives the suite an ``IngestStack`` whose events-ingest has `environment` in its settings.
    static func ingestStack(_ environment: [String: String] = [:]) -> Self { IngestStackTrait(ingestEnvironment: environment) }
}

/// The suite's stack; fails the test when the suite lacks the trait.
func currentStack() throws -> IngestStack {
    guard let stack = IngestStack.current else { throw TestFailure("the suite needs the .ingestStack() trait") }
    return stack
}

/// A response as the tests inspect it.
struct HTTPResult: Sendable {
    var status: Int
    var headers: [(String, String)]
    var body: [UInt8]

    init(status: Int, headers: [(String, String)], body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    init(_ response: TestHTTP.Response) {
        self.init(status: response.status, headers: response.headers, body: response.body)
    }

    var text: String { String(decoding: body, as: UTF8.self) }
    func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
}

/// Runs blocking work (waiting for a child process) on a Dispatch thread, not the cooperative pool.
func offCooperativePool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try work() }) }
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension Array where Element: Sendable {
    /// The elements as an async sequence (for streamed request bodies).
    var async: AsyncStream<Element> {
        AsyncStream { continuation in
            for element in self { continuation.yield(element) }
            continuation.finish()
        }
    }
}

/// A batch of `count` small custom events, as an SDK would send it.
func sampleBatch(count: Int = 3, tag: String = "t") -> [UInt8] {
    let events = (0..<count).map { i in
        #"{"kind":"custom","creationDate":1700000000000,"key":"\#(tag)-\#(i)","#
            + #""context":{"kind":"user","key":"u\#(i)"},"metricValue":\#(i).5}"#
    }
    return Array(("[" + events.joined(separator: ",") + "]").utf8)
}

/// A lock-protected value that concurrent test tasks can share.
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    init(_ value: Value) { mutex = Mutex(value) }

    func withLock<R: Sendable>(_ body: (inout Value) -> R) -> R { mutex.withLock { body(&$0) } }

    var value: Value { mutex.withLock { $0 } }
}
