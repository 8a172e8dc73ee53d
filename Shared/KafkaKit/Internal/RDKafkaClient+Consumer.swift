internal import CRdKafka

/// What one trip to the polling thread brought back.
struct PollOutcome: Sendable {
    var messages: [KafkaConsumerMessage] = []
    var fatalError: KafkaError?
}

extension RDKafkaClient {
    /// Polls up to `maximum` messages: waits up to `timeout` for the first, then takes whatever is
    /// already fetched without waiting. Blocking; call only on the consumer's polling queue.
    ///
    /// Rebalance callbacks run inside this call.
    func pollBlocking(maximum: Int, timeoutMilliseconds: Int32) -> PollOutcome {
        var outcome = PollOutcome()
        outcome.messages.reserveCapacity(min(maximum, 64))
        // Topic handles are stable for the client's lifetime; caching the last one's name saves a
        // String allocation per message.
        var lastTopicHandle: OpaquePointer?
        var lastTopicName = ""
        var timeout = timeoutMilliseconds
        while outcome.messages.count < maximum {
            guard let message = rd_kafka_consumer_poll(self.handle.raw, timeout) else { break }
            timeout = 0
            defer { rd_kafka_message_destroy(message) }
            let m = message.pointee
            if m.err != RD_KAFKA_RESP_ERR_NO_ERROR {
                if m.err == RD_KAFKA_RESP_ERR__PARTITION_EOF { continue }
                if let fatal = self.fatalError() {
                    outcome.fatalError = fatal
                    break
                }
                // Consumer errors (broker connections, unknown topics) are informational: librdkafka
                // keeps retrying on its own.
                let reason = rd_kafka_message_errstr(message).map { String(cString: $0) } ?? ""
                self.logger.warning(
                    "consumer error", metadata: ["error": "\(RDKafkaErrorTable.name(of: m.err.rawValue))", "reason": "\(reason)"])
                continue
            }
            if m.rkt != lastTopicHandle {
                lastTopicHandle = m.rkt
                lastTopicName = String(cString: rd_kafka_topic_name(m.rkt))
            }
            outcome.messages.append(Self.convert(message, topic: lastTopicName))
        }
        return outcome
    }

    private static func convert(_ message: UnsafeMutablePointer<rd_kafka_message_t>, topic: String) -> KafkaConsumerMessage {
        let m = message.pointee
        let value = m.payload.map { [UInt8](UnsafeRawBufferPointer(start: $0, count: m.len)) }
        let key = m.key.map { [UInt8](UnsafeRawBufferPointer(start: $0, count: m.key_len)) }

        var headers: [KafkaHeader] = []
        var headerList: OpaquePointer?
        if rd_kafka_message_headers(message, &headerList) == RD_KAFKA_RESP_ERR_NO_ERROR, let headerList {
            var index = 0
            var name: UnsafePointer<CChar>?
            var valuePointer: UnsafeRawPointer?
            var size = 0
            while rd_kafka_header_get_all(headerList, index, &name, &valuePointer, &size) == RD_KAFKA_RESP_ERR_NO_ERROR {
                headers.append(
                    KafkaHeader(
                        key: name.map { String(cString: $0) } ?? "",
                        value: valuePointer.map { [UInt8](UnsafeRawBufferPointer(start: $0, count: size)) }))
                index += 1
            }
        }

        var timestampType = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
        let milliseconds = rd_kafka_message_timestamp(message, &timestampType)
        return KafkaConsumerMessage(
            topic: topic, partition: m.partition, offset: m.offset, key: key, value: value, headers: headers,
            timestamp: KafkaTimestamp(rdKafkaType: timestampType, milliseconds: milliseconds))
    }

    /// Wakes a blocked `pollBlocking` so it returns at once.
    func wakeConsumer() {
        guard let queue = rd_kafka_queue_get_consumer(self.handle.raw) else { return }
        rd_kafka_queue_yield(queue)
        rd_kafka_queue_destroy(queue)
    }

    /// Assigns partitions with start offsets (`KafkaOffset` raw values). Call on the polling queue.
    func assign(_ entries: [(KafkaTopicPartition, Int64)], incremental: Bool) throws(KafkaError) {
        try RDKafkaTopicPartitionList.withList(entries) { list throws(KafkaError) in
            if incremental {
                if let error = rd_kafka_incremental_assign(self.handle.raw, list) {
                    throw KafkaError(consuming: error, context: "incremental assign")
                }
            } else {
                let err = rd_kafka_assign(self.handle.raw, list)
                guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(err, context: "assign") }
            }
        }
    }

    /// The current assignment.
    func assignment() throws(KafkaError) -> [KafkaTopicPartition] {
        var list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
        let err = rd_kafka_assignment(self.handle.raw, &list)
        defer { if let list { rd_kafka_topic_partition_list_destroy(list) } }
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(err, context: "assignment") }
        return RDKafkaTopicPartitionList.partitions(of: list)
    }

    /// Stores offsets (next offset to read) for the next commit. Non-blocking.
    func storeOffsets(_ entries: [(KafkaTopicPartition, Int64)]) throws(KafkaError) {
        try RDKafkaTopicPartitionList.withList(entries) { list throws(KafkaError) in
            let err = rd_kafka_offsets_store(self.handle.raw, list)
            if let partitionError = RDKafkaTopicPartitionList.firstError(of: list, context: "store offset for") {
                throw partitionError
            }
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(err, context: "store offsets") }
        }
    }

    /// Commits the given offsets, or all stored offsets for `nil`, and waits for the broker.
    /// Blocking.
    func commitBlocking(_ entries: [(KafkaTopicPartition, Int64)]?) throws(KafkaError) {
        guard let entries else {
            let err = rd_kafka_commit(self.handle.raw, nil, 0)
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR__NO_OFFSET else {
                throw KafkaError(err, context: "commit")
            }
            return
        }
        try RDKafkaTopicPartitionList.withList(entries) { list throws(KafkaError) in
            let err = rd_kafka_commit(self.handle.raw, list, 0)
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(err, context: "commit") }
            if let partitionError = RDKafkaTopicPartitionList.firstError(of: list, context: "commit") {
                throw partitionError
            }
        }
    }

    /// The group's committed offsets for the partitions (`-1001` where none). Blocking.
    func committedBlocking(_ partitions: [KafkaTopicPartition], timeout: Duration) throws(KafkaError) -> [KafkaTopicPartition: Int64] {
        try RDKafkaTopicPartitionList.withList(partitions.map { ($0, Int64(-1001)) }) { list throws(KafkaError) in
            let err = rd_kafka_committed(self.handle.raw, list, timeout.clampedMilliseconds)
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(err, context: "committed offsets") }
            var result: [KafkaTopicPartition: Int64] = [:]
            for entry in RDKafkaTopicPartitionList.entries(of: list) { result[entry.topicPartition] = entry.offset }
            return result
        }
    }

    /// Moves the fetch position of assigned partitions. Blocking.
    func seekBlocking(_ entries: [(KafkaTopicPartition, Int64)], timeout: Duration) throws(KafkaError) {
        try RDKafkaTopicPartitionList.withList(entries) { list throws(KafkaError) in
            if let error = rd_kafka_seek_partitions(self.handle.raw, list, timeout.clampedMilliseconds) {
                throw KafkaError(consuming: error, context: "seek")
            }
            if let partitionError = RDKafkaTopicPartitionList.firstError(of: list, context: "seek") {
                throw partitionError
            }
        }
    }

    /// The next offsets the consumer will return per partition (`-1001` before the first message).
    func positions(_ partitions: [KafkaTopicPartition]) throws(KafkaError) -> [KafkaTopicPartition: Int64] {
        try RDKafkaTopicPartitionList.withList(partitions.map { ($0, Int64(-1001)) }) { list throws(KafkaError) in
            let err = rd_kafka_position(self.handle.raw, list)
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(err, context: "position") }
            var result: [KafkaTopicPartition: Int64] = [:]
            for entry in RDKafkaTopicPartitionList.entries(of: list) { result[entry.topicPartition] = entry.offset }
            return result
        }
    }

    /// Leaves the group (running the final revocation, which commits stored offsets). Blocking.
    func closeConsumerBlocking() -> KafkaError? {
        let err = rd_kafka_consumer_close(self.handle.raw)
        return err == RD_KAFKA_RESP_ERR_NO_ERROR ? nil : KafkaError(err, context: "consumer close")
    }

    /// The name of the current rebalance protocol: `true` for cooperative (incremental).
    var usesIncrementalRebalancing: Bool {
        rd_kafka_rebalance_protocol(self.handle.raw).map { String(cString: $0) } == "COOPERATIVE"
    }

    /// Subscribes to topics (group members).
    func subscribe(_ topics: [String]) throws(KafkaError) {
        try RDKafkaTopicPartitionList.withList(topics.map { (KafkaTopicPartition(topic: $0, partition: -1), Int64(-1001)) }) {
            list throws(KafkaError) in
            let err = rd_kafka_subscribe(self.handle.raw, list)
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(err, context: "subscribe") }
        }
    }
}
