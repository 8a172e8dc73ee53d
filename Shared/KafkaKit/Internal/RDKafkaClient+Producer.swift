internal import CRdKafka
import Logging

/// librdkafka's background event callback for producers: applies delivery reports and logs
/// client errors. Runs on librdkafka's background thread; must not call `rd_kafka_destroy`.
func rdKafkaBackgroundEventCallback(
    _ rk: OpaquePointer?, _ event: OpaquePointer?, _ opaque: UnsafeMutableRawPointer?
) {
    guard let event else { return }
    guard let rk, let opaque else {
        rd_kafka_event_destroy(event)
        return
    }
    let context = RDKafkaClientContext.from(opaque)

    switch rd_kafka_event_type(event) {
    case Int32(RD_KAFKA_EVENT_DR):
        let count = rd_kafka_event_message_count(event)
        var reports: [DeliveryTracker.RawReport] = []
        reports.reserveCapacity(count)
        while let message = rd_kafka_event_message_next(event) {
            reports.append(RDKafkaProducerSupport.rawReport(rk: rk, message: message))
        }
        // Destroying the event is what releases the messages from librdkafka's count of outstanding
        // messages; do it before resuming senders, so that a producer destroyed right after its last
        // send returned sees nothing outstanding.
        context.deliveryTracker?.beginDelivery()
        rd_kafka_event_destroy(event)
        context.deliveryTracker?.deliverAndEnd(reports)
    case Int32(RD_KAFKA_EVENT_ERROR):
        let err = rd_kafka_event_error(event)
        let text = rd_kafka_event_error_string(event).map { String(cString: $0) } ?? ""
        let metadata: Logger.Metadata = ["error": "\(RDKafkaErrorTable.name(of: err.rawValue))", "reason": "\(text)"]
        if rd_kafka_event_error_is_fatal(event) != 0 {
            context.logger.critical("producer fatal error", metadata: metadata)
        } else if err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN {
            context.logger.warning("producer cannot reach any broker", metadata: metadata)
        } else {
            // Transient conditions that librdkafka retries itself and already logged through the
            // log callback; affected sends fail on their own once `message.timeout.ms` passes.
            context.logger.debug("producer error", metadata: metadata)
        }
        rd_kafka_event_destroy(event)
    default:
        rd_kafka_event_destroy(event)
    }
}

enum RDKafkaProducerSupport {
    static func rawReport(rk: OpaquePointer, message: UnsafePointer<rd_kafka_message_t>) -> DeliveryTracker.RawReport {
        let m = message.pointee
        var error: KafkaError?
        switch m.err {
        case RD_KAFKA_RESP_ERR_NO_ERROR:
            error = nil
        case RD_KAFKA_RESP_ERR__PURGE_QUEUE, RD_KAFKA_RESP_ERR__PURGE_INFLIGHT:
            // KafkaKit purges only when the shutdown drain deadline passed.
            let inFlight = m.err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT
            error = KafkaError(
                code: .drainTimedOut,
                message: "not acknowledged before the producer's shutdown drain deadline"
                    + (inFlight ? " (it was in flight: the broker may have stored it)" : " (it was never sent)"),
                isRetriable: false)
        case RD_KAFKA_RESP_ERR__FATAL:
            var buffer = [CChar](repeating: 0, count: 512)
            let underlying = rd_kafka_fatal_error(rk, &buffer, buffer.count)
            error = KafkaError(
                code: .fatal,
                message: "producer stopped by fatal error \(RDKafkaErrorTable.name(of: underlying.rawValue)): "
                    + "\(String(nulTerminated: buffer))",
                isRetriable: false, isFatal: true)
        default:
            let topic = m.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? "?"
            error = KafkaError(m.err, context: "delivery to \(topic)[\(m.partition)] failed")
        }
        var timestampType = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
        let milliseconds = withUnsafePointer(to: m) { rd_kafka_message_timestamp($0, &timestampType) }
        return DeliveryTracker.RawReport(
            opaque: UInt64(UInt(bitPattern: m._private)),
            error: error,
            partition: m.partition,
            offset: m.offset,
            timestamp: KafkaTimestamp(rdKafkaType: timestampType, milliseconds: milliseconds))
    }
}

extension KafkaTimestamp {
    init?(rdKafkaType type: rd_kafka_timestamp_type_t, milliseconds: Int64) {
        switch type {
        case RD_KAFKA_TIMESTAMP_CREATE_TIME: self.init(kind: .createTime, millisecondsSince1970: milliseconds)
        case RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME: self.init(kind: .logAppendTime, millisecondsSince1970: milliseconds)
        default: return nil
        }
    }
}

extension RDKafkaClient {
    /// Enqueues one record with librdkafka (which copies key, value and headers).
    ///
    /// - Returns: `nil` when librdkafka accepted the record; its delivery report then arrives
    ///   through the background event callback, possibly before this function returns.
    func produce(_ record: KafkaRecord, topic topicHandle: OpaquePointer, opaque: UInt64) -> KafkaError? {
        var headers: OpaquePointer?
        if !record.headers.isEmpty {
            headers = rd_kafka_headers_new(record.headers.count)
            for header in record.headers {
                if let value = header.value {
                    value.withUnsafeBytes { bytes in
                        _ = rd_kafka_header_add(headers, header.key, -1, bytes.baseAddress, bytes.count)
                    }
                } else {
                    _ = rd_kafka_header_add(headers, header.key, -1, nil, 0)
                }
            }
        }

        let error: OpaquePointer? =
            Self.withOptionalBytes(record.key) { keyPointer, keyCount in
                Self.withOptionalBytes(record.value) { valuePointer, valueCount in
                    withUnsafeTemporaryAllocation(of: rd_kafka_vu_t.self, capacity: 7) { args in
                        args[0] = rd_kafka_vu_t(vtype: RD_KAFKA_VTYPE_RKT, u: .init(rkt: topicHandle))
                        args[1] = rd_kafka_vu_t(vtype: RD_KAFKA_VTYPE_PARTITION, u: .init(i32: record.partition ?? -1))
                        args[2] = rd_kafka_vu_t(vtype: RD_KAFKA_VTYPE_MSGFLAGS, u: .init(i: RD_KAFKA_MSG_F_COPY))
                        args[3] = rd_kafka_vu_t(
                            vtype: RD_KAFKA_VTYPE_OPAQUE, u: .init(ptr: UnsafeMutableRawPointer(bitPattern: UInt(opaque))))
                        var count = 4
                        if let valuePointer {
                            args[count] = rd_kafka_vu_t(
                                vtype: RD_KAFKA_VTYPE_VALUE, u: .init(mem: .init(ptr: valuePointer, size: valueCount)))
                            count += 1
                        }
                        if let keyPointer {
                            args[count] = rd_kafka_vu_t(
                                vtype: RD_KAFKA_VTYPE_KEY, u: .init(mem: .init(ptr: keyPointer, size: keyCount)))
                            count += 1
                        }
                        if let headers {
                            args[count] = rd_kafka_vu_t(vtype: RD_KAFKA_VTYPE_HEADERS, u: .init(headers: headers))
                            count += 1
                        }
                        return rd_kafka_produceva(self.handle.raw, args.baseAddress, count)
                    }
                }
            }
        guard let error else { return nil }
        // Headers pass to the message only on success.
        if let headers { rd_kafka_headers_destroy(headers) }
        return KafkaError(consuming: error, context: "could not enqueue record for \(record.topic)")
    }

    /// Calls `body` with a pointer to the bytes, or `nil` for a `nil` array. An empty array gets a
    /// valid non-nil pointer so that Kafka stores an empty (not a null) key or value.
    private static func withOptionalBytes<R>(
        _ bytes: [UInt8]?, _ body: (UnsafeMutableRawPointer?, Int) -> R
    ) -> R {
        guard let bytes else { return body(nil, 0) }
        if bytes.isEmpty {
            var empty: UInt8 = 0
            return withUnsafeMutablePointer(to: &empty) { body(UnsafeMutableRawPointer($0), 0) }
        }
        return bytes.withUnsafeBytes { body(UnsafeMutableRawPointer(mutating: $0.baseAddress), $0.count) }
    }

    /// Messages librdkafka holds: queued, in flight, or waiting for their delivery report.
    var outstandingMessages: Int {
        Int(rd_kafka_outq_len(self.handle.raw))
    }

    /// Waits (blocking) until every outstanding message has a delivery report or `timeout` passes.
    /// Works with delivery events because the background thread serves them.
    func flushBlocking(timeout: Duration) -> Bool {
        rd_kafka_flush(self.handle.raw, Int32(timeout.clampedMilliseconds)) == RD_KAFKA_RESP_ERR_NO_ERROR
    }

    /// Fails every queued and in-flight message with a purge error delivery report.
    func purgeOutstanding() {
        _ = rd_kafka_purge(self.handle.raw, Int32(RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT))
    }
}
