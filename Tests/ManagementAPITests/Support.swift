import Foundation
import KafkaKit
import Logging
import ModelsCore
import Testing
import TestSupport

/// A running stack plus helpers to call the API and read what it published.
struct ManagementHarness {
    let stack: TestStack

    static func start() async throws -> ManagementHarness {
        ManagementHarness(stack: try await TestStack.start())
    }

    func stop() async { await stack.stop() }

    /// Calls the API as the bootstrap admin, or with `token`.
    func call(_ method: String, _ path: String, _ json: String? = nil, token: String? = nil, headers: [(String, String)] = [])
        async throws -> TestHTTP.Response
    {
        try await TestHTTP.json(method, "\(stack.managementAPI.baseURL)/api/v1\(path)", token: token ?? stack.adminToken,
            json: json, headers: headers)
    }

    /// Calls the API and requires `status`, returning the parsed body (or null).
    @discardableResult
    func expect(_ status: Int, _ method: String, _ path: String, _ json: String? = nil, token: String? = nil,
                headers: [(String, String)] = [], sourceLocation: SourceLocation = #_sourceLocation) async throws -> JSONValue
    {
        let response = try await call(method, path, json, token: token, headers: headers)
        #expect(response.status == status, "\(method) \(path) → \(response.status): \(response.text)", sourceLocation: sourceLocation)
        if response.status != 204, !response.body.isEmpty {
            #expect(response.header("content-type")?.hasPrefix("application/json") == true, sourceLocation: sourceLocation)
            return (try? JSONParser.parse(response.body)) ?? .null
        }
        return .null
    }

    /// A token of `role`.
    func token(_ role: String) async throws -> String {
        let created = try await expect(201, "POST", "/tokens", #"{"name":"\#(role)-\#(UUID().uuidString.prefix(6))","role":"\#(role)"}"#)
        return try #require(created["token"]?.stringValue)
    }

    /// Every record currently on the config topic, in topic order per partition.
    func publishedRecords() async throws -> [ConfigRecord] {
        try await readConfigTopic(brokers: stack.kafkaBrokers, topic: stack.configTopic)
    }

    /// Waits until the outbox has published everything (the topic holds a record for `predicate`).
    func waitForPublished(timeout: Duration = .seconds(30), _ predicate: ([ConfigRecord]) -> Bool) async throws -> [ConfigRecord] {
        let deadline = ContinuousClock.now + timeout
        while true {
            let records = try await publishedRecords()
            if predicate(records) { return records }
            if ContinuousClock.now > deadline {
                Issue.record(
                    "the expected records were not published within \(timeout); management-api log:\n\(stack.managementAPI.logTail())")
                return records
            }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    /// The newest record per record key.
    static func latest(_ records: [ConfigRecord]) -> [String: ConfigRecord] {
        var latest: [String: ConfigRecord] = [:]
        for record in records where (latest[record.recordKey]?.version ?? .min) < record.version { latest[record.recordKey] = record }
        return latest
    }
}

/// Runs `body` with a fresh harness, stopping it afterwards.
func withHarness(_ body: (ManagementHarness) async throws -> Void) async throws {
    let harness = try await ManagementHarness.start()
    do {
        try await body(harness)
    } catch {
        Issue.record("management-api log:\n\(harness.stack.managementAPI.logTail())")
        await harness.stop()
        throw error
    }
    await harness.stop()
}

/// Every record currently on a config topic, in topic order per partition.
func readConfigTopic(brokers: String, topic: String = "vane.config") async throws -> [ConfigRecord] {
    let reader = try KafkaTopicReader(configuration: .init(bootstrapServers: [brokers], topic: topic),
        logger: TestLogger.make("config-reader"))
    var tracker = try await reader.start()
    var records: [ConfigRecord] = []
    if !tracker.isCaughtUp {
        for try await message in reader.messages {
            if let value = message.value { records.append(try ConfigRecord(json: JSONParser.parse(value))) }
            if tracker.observe(message) { break }
        }
    }
    try await reader.close()
    return records
}
