internal import CRdKafka

extension RDKafkaClient {
    /// Sends a `CreateTopics` request and waits for its result. Blocking.
    ///
    /// - Returns: `nil` on success, otherwise the topic's error (which may be
    ///   `TOPIC_ALREADY_EXISTS`; the caller decides what that means).
    func createTopicBlocking(
        name: String, partitions: Int32, replicationFactor: Int32, configs: [String: String], timeout: Duration
    ) -> KafkaError? {
        var errorBuffer = [CChar](repeating: 0, count: 512)
        guard let newTopic = rd_kafka_NewTopic_new(name, partitions, replicationFactor, &errorBuffer, errorBuffer.count) else {
            return KafkaError(code: .invalidArgument, message: "topic \(name): \(String(nulTerminated: errorBuffer))")
        }
        defer { rd_kafka_NewTopic_destroy(newTopic) }
        for (key, value) in configs.sorted(by: { $0.key < $1.key }) {
            let err = rd_kafka_NewTopic_set_config(newTopic, key, value)
            if err != RD_KAFKA_RESP_ERR_NO_ERROR { return KafkaError(err, context: "topic config \(key)=\(value)") }
        }

        let options = rd_kafka_AdminOptions_new(self.handle.raw, RD_KAFKA_ADMIN_OP_CREATETOPICS)
        defer { rd_kafka_AdminOptions_destroy(options) }
        let milliseconds = timeout.clampedMilliseconds
        _ = rd_kafka_AdminOptions_set_request_timeout(options, milliseconds, &errorBuffer, errorBuffer.count)
        // Let the controller wait for the topic to be created on all brokers before answering.
        _ = rd_kafka_AdminOptions_set_operation_timeout(options, milliseconds, &errorBuffer, errorBuffer.count)

        let queue = rd_kafka_queue_new(self.handle.raw)
        defer { rd_kafka_queue_destroy(queue) }
        var topics: [OpaquePointer?] = [newTopic]
        rd_kafka_CreateTopics(self.handle.raw, &topics, 1, options, queue)

        // librdkafka enforces the request timeout itself; the margin only guards against a lost event.
        guard let event = rd_kafka_queue_poll(queue, milliseconds &+ 5_000) else {
            return KafkaError(code: .timedOut, message: "CreateTopics for \(name) got no result")
        }
        defer { rd_kafka_event_destroy(event) }
        let eventError = rd_kafka_event_error(event)
        if eventError != RD_KAFKA_RESP_ERR_NO_ERROR {
            let text = rd_kafka_event_error_string(event).map { String(cString: $0) } ?? ""
            return KafkaError(code: KafkaError.Code(rawValue: eventError.rawValue), message: "CreateTopics for \(name): \(text)")
        }
        guard let result = rd_kafka_event_CreateTopics_result(event) else {
            return KafkaError(code: .unknown, message: "CreateTopics for \(name): unexpected event")
        }
        var count = 0
        guard let results = rd_kafka_CreateTopics_result_topics(result, &count), count > 0, let topicResult = results[0] else {
            return KafkaError(code: .unknown, message: "CreateTopics for \(name): empty result")
        }
        let err = rd_kafka_topic_result_error(topicResult)
        guard err != RD_KAFKA_RESP_ERR_NO_ERROR else { return nil }
        let text = rd_kafka_topic_result_error_string(topicResult).map { String(cString: $0) } ?? ""
        return KafkaError(code: KafkaError.Code(rawValue: err.rawValue), message: "CreateTopics for \(name): \(text)")
    }
}
