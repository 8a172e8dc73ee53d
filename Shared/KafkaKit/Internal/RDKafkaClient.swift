internal import CRdKafka
import Dispatch
import Logging
import Synchronization

/// Owns one `rd_kafka_t` and its callback context; the only place KafkaKit creates and destroys
/// librdkafka clients.
///
/// `@unchecked Sendable`: the `rd_kafka_t` handle is thread-safe per librdkafka's documentation,
/// the context is `Sendable`, and the handle is destroyed in `deinit`, when no other reference can
/// exist, or by ``destroy()``, after which the owner no longer uses the client.
final class RDKafkaClient: @unchecked Sendable {
    enum Kind {
        case producer
        case consumer
    }

    let handle: SendablePointer
    let context: RDKafkaClientContext
    let logger: Logger
    /// The background queue the producer's event callback serves; destroyed before the client.
    private let backgroundQueue: SendablePointer?
    /// Producer topic handles by name, created on first use and kept for the client's lifetime.
    private let topicHandles = Mutex<[String: SendablePointer]>([:])
    /// A consumer-group member whose destruction librdkafka may abort on (see `deinit`).
    private let destroyNeedsAssignment: Bool
    /// Set once ``destroy()`` has begun, so `deinit` does not destroy the handle again.
    private let destroyStarted = Atomic<Bool>(false)

    /// Creates a client.
    ///
    /// - Parameters:
    ///   - deliveryEvents: Producer only. Delivery reports and errors go to librdkafka's background
    ///     thread, which calls ``DeliveryTracker`` directly (see `KafkaProducer` for why).
    ///   - rebalanceCallback: Consumer groups only. Installs `rdKafkaRebalanceCallback`.
    init(
        kind: Kind, properties: [String: String], context: RDKafkaClientContext,
        deliveryEvents: Bool = false, rebalanceCallback: Bool = false
    ) throws(KafkaError) {
        let conf = try RDKafkaConfig.make(properties)
        rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(context).toOpaque())
        rd_kafka_conf_set_log_cb(conf, rdKafkaLogCallback)
        if deliveryEvents {
            rd_kafka_conf_set_events(conf, Int32(RD_KAFKA_EVENT_DR | RD_KAFKA_EVENT_ERROR))
            rd_kafka_conf_set_background_event_cb(conf, rdKafkaBackgroundEventCallback)
        }
        if rebalanceCallback {
            rd_kafka_conf_set_rebalance_cb(conf, rdKafkaRebalanceCallback)
        }

        var errorBuffer = [CChar](repeating: 0, count: 512)
        let type = kind == .producer ? RD_KAFKA_PRODUCER : RD_KAFKA_CONSUMER
        guard let rk = rd_kafka_new(type, conf, &errorBuffer, errorBuffer.count) else {
            // rd_kafka_new takes ownership of the conf only on success.
            rd_kafka_conf_destroy(conf)
            throw KafkaError(
                code: .clientCreationFailed,
                message: "rd_kafka_new failed: \(String(nulTerminated: errorBuffer))")
        }
        self.handle = SendablePointer(rk)
        self.context = context
        self.logger = context.logger
        self.destroyNeedsAssignment =
            kind == .consumer && rebalanceCallback && rd_kafka_version() < Self.cooperativeStickyDestroyFixed
            && (properties["partition.assignment.strategy"] ?? "").contains("cooperative-sticky")

        if deliveryEvents {
            // Delivery reports land on the main queue; forwarding it to the background queue makes
            // librdkafka's background thread serve them through the event callback.
            let main = rd_kafka_queue_get_main(rk)!
            let background = rd_kafka_queue_get_background(rk)!
            rd_kafka_queue_forward(main, background)
            rd_kafka_queue_destroy(main)
            self.backgroundQueue = SendablePointer(background)
        } else {
            self.backgroundQueue = nil
        }
        if kind == .consumer {
            // Route the main queue (logs are callbacks; errors, rebalances) into the consumer queue
            // so a single consumer poll serves everything.
            rd_kafka_poll_set_consumer(rk)
        }
    }

    /// librdkafka 2.3.0 (`0x020300ff`) fixed confluentinc/librdkafka#4312; Debian 12 ships 2.0.2.
    private static let cooperativeStickyDestroyFixed: Int32 = 0x0203_00ff

    deinit {
        guard !self.destroyStarted.load(ordering: .acquiring), !self.leftAllocatedIfDestroyWouldAbort() else { return }
        // rd_kafka_destroy blocks (it joins librdkafka's threads, and for a consumer that was not
        // closed it leaves the group), so it runs off the cooperative pool.
        BlockingCall.queue.async(execute: self.destroyBlock())
    }

    /// Destroys the handle now and returns once librdkafka's threads have stopped.
    ///
    /// A process must not exit while librdkafka's threads run: `exit` runs OpenSSL's cleanup
    /// handler, and a broker thread still inside a TLS handshake then crashes the process (SIGSEGV,
    /// seen with `vanectl kafka-check` against a broker whose certificate it refused). `deinit` only
    /// schedules the destruction, so a command that exits right after its last Kafka call calls this
    /// first. Idempotent; the client must not be used afterwards.
    func destroy() async {
        guard !self.destroyStarted.exchange(true, ordering: .acquiringAndReleasing), !self.leftAllocatedIfDestroyWouldAbort() else {
            return
        }
        await BlockingCall.run(self.destroyBlock())
    }

    /// Whether ``destroy()`` has been called.
    var isDestroyed: Bool { self.destroyStarted.load(ordering: .acquiring) }

    /// librdkafka before 2.3.0 asserts (abort()) in rd_kafka_destroy when a cooperative-sticky
    /// group member has joined a group but never received an assignment (the assignor's state
    /// is still NULL): a consumer closed during its first rebalance took the whole process
    /// down. Such a client is left allocated instead (normally closed already: it left the group);
    /// what remains is a few threads, silenced, until the process exits. The assignor allocates that
    /// state before an assignment reaches `rebalance_cb`, so a client that saw one is destroyed
    /// normally. Reproduced by ConsumerTests' "closed during its first rebalance" test.
    ///
    /// Returns whether the client was left allocated.
    private func leftAllocatedIfDestroyWouldAbort() -> Bool {
        guard self.destroyNeedsAssignment && !self.context.receivedAssignment.load(ordering: .acquiring) else { return false }
        self.logger.notice(
            "consumer left allocated: it never received an assignment, and destroying it would abort (librdkafka < 2.3.0, issue 4312)")
        self.context.silenced.store(true, ordering: .relaxed)
        _ = Unmanaged.passRetained(self.context)
        return true
    }

    /// The blocking destruction. It captures what it needs, not `self`, so it can run from `deinit`;
    /// it keeps the context alive until the handle is gone, because callbacks still reference it.
    private func destroyBlock() -> @Sendable () -> Void {
        let handle = self.handle
        let background = self.backgroundQueue
        let context = self.context
        let topics = self.topicHandles.withLock { Array($0.values) }
        return {
            for topic in topics { rd_kafka_topic_destroy(topic.raw) }
            if let background { rd_kafka_queue_destroy(background.raw) }
            rd_kafka_destroy(handle.raw)
            withExtendedLifetime(context) {}
        }
    }

    /// The topic handle for `name`, created on first use.
    ///
    /// Producing by handle rather than by name matters for new topics: `rd_kafka_topic_new` asks for
    /// the topic's metadata at once, while a message produced by topic name to a topic librdkafka
    /// has not seen waits for the next periodic metadata scan (up to one second, measured).
    func topicHandle(_ name: String) -> OpaquePointer {
        self.topicHandles.withLock { handles in
            if let existing = handles[name] { return existing.raw }
            let created = rd_kafka_topic_new(self.handle.raw, name, nil)!
            handles[name] = SendablePointer(created)
            return created
        }
    }

    var name: String {
        String(cString: rd_kafka_name(self.handle.raw))
    }

    /// The fatal error that stopped this client, if any.
    func fatalError() -> KafkaError? {
        var buffer = [CChar](repeating: 0, count: 512)
        let err = rd_kafka_fatal_error(self.handle.raw, &buffer, buffer.count)
        guard err != RD_KAFKA_RESP_ERR_NO_ERROR else { return nil }
        let reason = String(nulTerminated: buffer)
        return KafkaError(code: Code(rawValue: err.rawValue), message: "fatal error: \(reason)", isFatal: true)
    }

    typealias Code = KafkaError.Code
}

/// Builds `rd_kafka_conf_t` objects from property dictionaries.
enum RDKafkaConfig {
    /// Returns a new conf; the caller owns it (pass it to `rd_kafka_new` or destroy it).
    static func make(_ properties: [String: String]) throws(KafkaError) -> OpaquePointer {
        let conf = rd_kafka_conf_new()!
        var errorBuffer = [CChar](repeating: 0, count: 512)
        // Sorted so that failures are reported deterministically.
        for (key, value) in properties.sorted(by: { $0.key < $1.key }) {
            let result = rd_kafka_conf_set(conf, key, value, &errorBuffer, errorBuffer.count)
            guard result == RD_KAFKA_CONF_OK else {
                rd_kafka_conf_destroy(conf)
                let reason = String(nulTerminated: errorBuffer)
                let shown = KafkaSecurity.isSensitive(key) ? "[redacted]" : value
                throw KafkaError(code: .invalidConfiguration, message: "\(key)=\(shown): \(reason)")
            }
        }
        return conf
    }

    /// librdkafka's `builtin.features`, read once.
    static let builtinFeatures: Set<String> = {
        let conf = rd_kafka_conf_new()!
        defer { rd_kafka_conf_destroy(conf) }
        var buffer = [CChar](repeating: 0, count: 1024)
        var size = buffer.count
        guard rd_kafka_conf_get(conf, "builtin.features", &buffer, &size) == RD_KAFKA_CONF_OK else { return [] }
        return Set(String(nulTerminated: buffer).split(separator: ",").map(String.init))
    }()

    /// Whether this librdkafka can fetch OAUTHBEARER tokens from an OIDC endpoint itself
    /// (`sasl.oauthbearer.method=oidc` needs a build with libcurl; Debian 12's 2.0.2 has none).
    static let supportsOIDC: Bool = {
        let conf = rd_kafka_conf_new()!
        defer { rd_kafka_conf_destroy(conf) }
        var errorBuffer = [CChar](repeating: 0, count: 512)
        return rd_kafka_conf_set(conf, "sasl.oauthbearer.method", "oidc", &errorBuffer, errorBuffer.count) == RD_KAFKA_CONF_OK
    }()

    /// librdkafka's version, e.g. `2.0.2`.
    static var versionString: String { String(cString: rd_kafka_version_str()) }

    /// Creates a client from `properties` without brokers and destroys it at once: librdkafka then
    /// checks what `rd_kafka_conf_set` cannot (the SASL mechanism and its settings, the CA, the
    /// client certificate and key and the key's passphrase) without opening a connection.
    static func validateByCreatingClient(_ properties: [String: String]) throws(KafkaError) {
        var checked = properties
        checked["bootstrap.servers"] = nil
        let conf = try make(checked)
        // Without brokers librdkafka warns that it cannot connect; nothing else is logged here.
        rd_kafka_conf_set_log_cb(conf) { _, _, _, _ in }
        var errorBuffer = [CChar](repeating: 0, count: 512)
        guard let rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, &errorBuffer, errorBuffer.count) else {
            rd_kafka_conf_destroy(conf)
            throw KafkaError(code: .invalidConfiguration, message: String(nulTerminated: errorBuffer))
        }
        rd_kafka_destroy(rk)
    }
}
