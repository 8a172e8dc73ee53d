import AsyncHTTPClient
import Foundation
import Logging
import ModelsCore
import NIOCore
import ServiceLifecycle
import Synchronization

/// A server-side feature-flag client for Vane's relay (LaunchDarkly's protocol): it keeps every
/// flag of one environment in memory, evaluates locally with Vane's evaluator (exactly
/// LaunchDarkly's semantics), and sends analytics events to events-ingest.
///
/// ```swift
/// let client = VaneClient(sdkKey: "sdk-…", baseURL: relayURL, eventsURL: eventsURL)
/// try await client.start(timeout: .seconds(10))
/// let on = client.boolVariation("new-checkout", context: context, default: false)
/// await client.shutdown()
/// ```
///
/// Evaluations read an immutable snapshot of the data through one atomic load: no lock, no actor
/// hop, no network. While the relay is unreachable the client keeps serving the last data it
/// received and reconnects in the background. It is also a ServiceLifecycle `Service`: `run()`
/// starts it and shuts it down (flushing events) on graceful shutdown.
public final class VaneClient: Service, Sendable {
    /// The SDK version, sent in `User-Agent`.
    public static let version = "0.1.0"

    private enum Status: Sendable {
        case notStarted, initializing, ready, failed(VaneError), shutDown
    }

    private let sdkKey: String
    private let configuration: VaneConfiguration
    private let logger: Logger
    let store: FlagStore
    private let http: HTTPClient
    private let endpoints: RelayEndpoints
    let events: EventPipeline?
    private let status = Mutex<(status: Status, next: Int, waiters: [Int: AsyncStream<Void>.Continuation])>((.notStarted, 0, [:]))
    private let tasks = Mutex<[Task<Void, Never>]>([])

    /// A client for the environment of `sdkKey`.
    ///
    /// - Parameters:
    ///   - sdkKey: the environment's server-side SDK key.
    ///   - baseURL: the relay (`/all` and `/sdk/latest-all` are appended; a path prefix is kept).
    ///   - eventsURL: events-ingest (`/bulk` is appended); nil sends no events (with a data file: fully offline).
    ///   - configuration: data source, event and reconnect settings (LaunchDarkly's defaults).
    ///   - logger: where the client logs connection problems.
    public init(
        sdkKey: String, baseURL: URL, eventsURL: URL?, configuration: VaneConfiguration = VaneConfiguration(),
        logger: Logger = Logger(label: "vane.sdk")
    ) {
        self.sdkKey = sdkKey
        self.configuration = configuration
        self.logger = logger
        var httpConfiguration = HTTPClient.Configuration()
        httpConfiguration.timeout = .init(
            connect: .nanoseconds(configuration.connectTimeout.nanoseconds),
            read: .nanoseconds(configuration.streamReadTimeout.nanoseconds))
        httpConfiguration.decompression = .enabled(limit: .none)
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: httpConfiguration)
        endpoints = RelayEndpoints(baseURL: baseURL, sdkKey: sdkKey, userAgent: configuration.userAgent)
        let sendsEvents = configuration.sendEvents && eventsURL != nil
        let store = FlagStore(drainsCounters: sendsEvents)
        self.store = store
        if sendsEvents, let eventsURL {
            var settings = EventProcessor.Settings()
            settings.capacity = max(configuration.eventCapacity, 1)
            settings.flushAt = max(configuration.flushAt, 1)
            settings.contextKeysCapacity = configuration.contextKeysCapacity
            settings.contextKeysFlushIntervalMillis = configuration.contextKeysFlushInterval.nanoseconds / 1_000_000
            settings.formatter = EventContextFormatter(
                allAttributesPrivate: configuration.allAttributesPrivate,
                privateAttributes: configuration.privateAttributes.map { AttributeReference(reference: $0) })
            let sender = EventSender(
                eventsURL: eventsURL, sdkKey: sdkKey, userAgent: configuration.userAgent, http: http,
                timeout: configuration.requestTimeout, logger: logger)
            events = EventPipeline(
                settings: settings, sender: sender, flushInterval: configuration.flushInterval, logger: logger,
                countedFlags: { [store] in store.entriesToDrain() })
        } else {
            events = nil
        }
    }

    /// A client with URLs given as strings (`http://relay:8030`).
    public convenience init(
        sdkKey: String, baseURL: String, eventsURL: String?, configuration: VaneConfiguration = VaneConfiguration(),
        logger: Logger = Logger(label: "vane.sdk")
    ) {
        self.init(
            sdkKey: sdkKey, baseURL: URL(string: baseURL) ?? URL(fileURLWithPath: "/"), eventsURL: eventsURL.flatMap(URL.init(string:)),
            configuration: configuration, logger: logger)
    }

    deinit {
        for task in tasks.withLock({ $0 }) { task.cancel() }
        // Not shut down by its owner: release the connections without blocking (deinit may run on
        // an event-loop thread, where a synchronous shutdown would deadlock).
        let http = http
        Task { try? await http.shutdown() }
    }

    // MARK: - Lifecycle

    /// Starts the data source and the event flusher, and waits for the first full data set.
    ///
    /// - Throws: ``VaneError`` `.unauthorized` when the relay refuses the key (the client stops),
    ///   `.timeout` when no data came within `timeout` (the client keeps trying in the background
    ///   and evaluations answer defaults with `CLIENT_NOT_READY` until data arrives),
    ///   `.invalidDataFile` for a bad data file.
    public func start(timeout: Duration = .seconds(10)) async throws(VaneError) {
        startBackground()
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await self.waitUntilSettled() }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    throw VaneError(.timeout, "no flag data from \(self.endpoints.baseURL) within \(timeout)")
                }
                defer { group.cancelAll() }
                try await group.next()
            }
        } catch let error as VaneError {
            throw error
        } catch {
            throw VaneError(.shutDown, "start was cancelled")
        }
    }

    /// True once the client has a full data set.
    public var isInitialized: Bool { store.isInitialized }

    /// Keys of flags whose value may have changed (a flag was changed, added or deleted, or a
    /// prerequisite or segment it uses changed). Each access gives a new sequence; it ends when the
    /// client shuts down.
    public var flagChanges: AsyncStream<String> { store.changes.stream() }

    /// Sends the pending analytics events now.
    public func flush() async { await events?.flush() }

    /// Stops the data source, sends the pending events and releases the connections. The client
    /// then answers every evaluation from the data it last had.
    public func shutdown() async {
        let wasRunning: Bool = status.withLock { state in
            if case .shutDown = state.status { return false }
            return true
        }
        guard wasRunning else { return }
        let running = tasks.withLock { tasks in
            defer { tasks = [] }
            return tasks
        }
        for task in running { task.cancel() }
        events?.finish()
        for task in running { await task.value }
        await events?.flush()
        setStatus(.shutDown)
        store.changes.finish()
        try? await http.shutdown()
    }

    /// ServiceLifecycle: starts the client (without waiting for data) and shuts it down, flushing
    /// events, when the service group shuts down gracefully.
    public func run() async throws {
        startBackground()
        try? await gracefulShutdown()
        await shutdown()
    }

    // MARK: - Evaluation

    /// The flag's value for `context` if it is a boolean, else `defaultValue`.
    public func boolVariation(_ key: String, context: EvaluationContext, default defaultValue: Bool) -> Bool {
        typedVariation(key, context: context, default: defaultValue, JSONValue.bool) { value in
            guard case .bool(let result) = value else { return nil }
            return result
        }
    }

    /// The flag's value for `context` if it is a string, else `defaultValue`.
    public func stringVariation(_ key: String, context: EvaluationContext, default defaultValue: String) -> String {
        typedVariation(key, context: context, default: defaultValue, JSONValue.string) { value in
            guard case .string(let result) = value else { return nil }
            return result
        }
    }

    /// The flag's value for `context` if it is a number (truncated toward zero), else `defaultValue`.
    public func intVariation(_ key: String, context: EvaluationContext, default defaultValue: Int) -> Int {
        let number = doubleVariation(key, context: context, default: Double(defaultValue))
        guard number.isFinite, abs(number) < 9.2e18 else { return defaultValue }
        return Int(number)
    }

    /// The flag's value for `context` if it is a number, else `defaultValue`.
    public func doubleVariation(_ key: String, context: EvaluationContext, default defaultValue: Double) -> Double {
        typedVariation(key, context: context, default: defaultValue, JSONValue.number) { value in
            guard case .number(let result) = value else { return nil }
            return result
        }
    }

    /// The flag's value for `context`, of any JSON type, else `defaultValue`.
    public func jsonVariation(_ key: String, context: EvaluationContext, default defaultValue: JSONValue) -> JSONValue {
        evaluate(key, context: context, default: defaultValue, checkType: false, withReason: false).value
    }

    /// The value (any JSON type), the variation index and LaunchDarkly's reason.
    public func variationDetail(_ key: String, context: EvaluationContext, default defaultValue: JSONValue) -> EvaluationDetail {
        evaluate(key, context: context, default: defaultValue, checkType: false, withReason: true)
    }

    /// ``variationDetail(_:context:default:)`` requiring a boolean (`WRONG_TYPE` otherwise).
    public func boolVariationDetail(_ key: String, context: EvaluationContext, default defaultValue: Bool) -> EvaluationDetail {
        evaluate(key, context: context, default: .bool(defaultValue), checkType: true, withReason: true)
    }

    /// ``variationDetail(_:context:default:)`` requiring a string (`WRONG_TYPE` otherwise).
    public func stringVariationDetail(_ key: String, context: EvaluationContext, default defaultValue: String) -> EvaluationDetail {
        evaluate(key, context: context, default: .string(defaultValue), checkType: true, withReason: true)
    }

    /// ``variationDetail(_:context:default:)`` requiring a number (`WRONG_TYPE` otherwise).
    public func numberVariationDetail(_ key: String, context: EvaluationContext, default defaultValue: Double) -> EvaluationDetail {
        evaluate(key, context: context, default: .number(defaultValue), checkType: true, withReason: true)
    }

    /// Every flag's value for `context` (what a server would hand to a browser it renders for),
    /// without analytics events; empty until the client is initialized.
    public func allFlags(context: EvaluationContext) -> [String: JSONValue] {
        store.withSnapshot { snapshot in
            guard snapshot.initialized else { return [:] }
            var values: [String: JSONValue] = [:]
            for (key, flag) in snapshot.data.flags { values[key] = snapshot.data.evaluate(flag, context: context).value }
            return values
        }
    }

    /// The typed variations: the flag's value if it has the type (`unwrap`), else the default. A
    /// known flag of an initialized snapshot is evaluated here without building a detail for the
    /// default (`wrap` runs only when events need it); the rest takes the general path.
    @inline(__always)
    private func typedVariation<Value>(
        _ key: String, context: EvaluationContext, default defaultValue: Value, _ wrap: (Value) -> JSONValue,
        _ unwrap: (JSONValue) -> Value?
    ) -> Value {
        let fast: Value?? = store.withSnapshot { snapshot in
            guard snapshot.initialized, let entry = snapshot.entries[key] else { return nil }
            guard let events, events.isEnabled else {
                let detail = snapshot.data.evaluate(entry.compiled, context: context)
                return .some(detail.variationIndex == nil ? nil : unwrap(detail.value))
            }
            var detail: EvaluationDetail
            if entry.hasPrerequisites {
                var prerequisites = PrerequisiteEvents(snapshot: snapshot, events: events, context: context)
                detail = snapshot.data.evaluate(entry.compiled, context: context, observer: &prerequisites)
            } else {
                detail = snapshot.data.evaluate(entry.compiled, context: context)
            }
            let value = detail.variationIndex == nil ? nil : unwrap(detail.value)
            // What the application gets is what analytics record: the default, WRONG_TYPE if the type differs.
            if value == nil { detail = detail.applyingDefault(wrap(defaultValue), checkType: true) }
            events.recordEvaluation(entry, detail: detail, context: context, defaultValue: wrap(defaultValue), withReason: false,
                                    prereqOf: nil)
            return .some(value)
        }
        if let fast { return fast ?? defaultValue }
        return unwrap(evaluate(key, context: context, default: wrap(defaultValue), checkType: true, withReason: false).value)
            ?? defaultValue
    }

    /// The evaluation every variation method goes through: one atomic load of the snapshot, the
    /// evaluation, and (with events on) the lock-free counting of ``EventPipeline/recordEvaluation``.
    func evaluate(
        _ key: String, context: EvaluationContext, default defaultValue: JSONValue, checkType: Bool, withReason: Bool
    ) -> EvaluationDetail {
        store.withSnapshot { snapshot in
            guard snapshot.initialized else {
                return EvaluationDetail(value: defaultValue, variationIndex: nil, reason: .error(.clientNotReady))
            }
            guard let entry = snapshot.entries[key] else {
                let detail = EvaluationDetail(value: defaultValue, variationIndex: nil, reason: .error(.flagNotFound))
                events?.record { processor, now in
                    processor.recordEvaluation(
                        EvaluationRecord(flagKey: key, flag: nil, context: context, detail: detail, defaultValue: defaultValue,
                                         withReason: withReason, prereqOf: nil), now: now)
                }
                return detail
            }
            let flag = entry.compiled
            guard let events, events.isEnabled else {
                return snapshot.data.evaluate(flag, context: context).applyingDefault(defaultValue, checkType: checkType)
            }
            var detail: EvaluationDetail
            if entry.hasPrerequisites {
                var prerequisites = PrerequisiteEvents(snapshot: snapshot, events: events, context: context)
                detail = snapshot.data.evaluate(flag, context: context, observer: &prerequisites)
            } else {
                detail = snapshot.data.evaluate(flag, context: context)
            }
            detail = detail.applyingDefault(defaultValue, checkType: checkType)
            events.recordEvaluation(entry, detail: detail, context: context, defaultValue: defaultValue, withReason: withReason,
                                    prereqOf: nil)
            return detail
        }
    }

    // MARK: - Events

    /// Records a custom event (`kind: custom`) for experiments and metrics.
    public func track(_ eventKey: String, context: EvaluationContext, data: JSONValue? = nil, metricValue: Double? = nil) {
        events?.record { processor, now in
            processor.recordCustom(key: eventKey, context: context, data: data, metricValue: metricValue, now: now)
        }
    }

    /// Records an identify event: the context's attributes reach events-ingest.
    public func identify(_ context: EvaluationContext) {
        events?.record { processor, now in processor.recordIdentify(context, now: now) }
    }

    // MARK: - Internals

    private func startBackground() {
        let shouldStart: Bool = status.withLock { state in
            guard case .notStarted = state.status else { return false }
            state.status = .initializing
            return true
        }
        guard shouldStart else { return }
        let report: @Sendable (DataSourceOutcome) -> Void = { [weak self] outcome in
            switch outcome {
            case .unauthorized(let message): self?.setStatus(.failed(VaneError(.unauthorized, message)))
            case .invalidData(let message): self?.setStatus(.failed(VaneError(.invalidDataFile, message)))
            }
        }
        store.setInitializedHandler { [weak self] in self?.setStatus(.ready) }
        var started: [Task<Void, Never>] = []
        switch configuration.dataSource {
        case .file(let url):
            do {
                try FileDataSource.load(url, into: store)
            } catch {
                report(.invalidData(error.message))
            }
        case .streaming:
            let source = StreamingDataSource(endpoints: endpoints, http: http, store: store, configuration: configuration, logger: logger)
            started.append(Task { await source.run(report: report) })
        case .polling(let interval):
            let source = PollingDataSource(
                endpoints: endpoints, http: http, store: store, interval: max(interval, .seconds(1)), configuration: configuration,
                logger: logger)
            started.append(Task { await source.run(report: report) })
        }
        if let events { started.append(Task { await events.run() }) }
        tasks.withLock { $0 += started }
    }

    private func setStatus(_ new: Status) {
        let waiters = status.withLock { state -> [AsyncStream<Void>.Continuation] in
            if case .shutDown = state.status { return [] }
            if case .ready = new, case .failed = state.status { return [] }
            state.status = new
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.yield() }
    }

    /// Returns once ready; throws once failed or shut down.
    private func waitUntilSettled() async throws {
        let (stream, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let id = status.withLock { state in
            defer { state.next += 1 }
            state.waiters[state.next] = continuation
            return state.next
        }
        defer { _ = status.withLock { $0.waiters.removeValue(forKey: id) } }
        continuation.yield()
        for await _ in stream {
            switch status.withLock({ $0.status }) {
            case .ready: return
            case .failed(let error): throw error
            case .shutDown: throw VaneError(.shutDown, "the client was shut down")
            case .notStarted, .initializing: continue
            }
        }
        throw CancellationError()
    }
}

/// Records each prerequisite evaluation of an evaluation for analytics as it happens (no list to
/// allocate): counted in the prerequisite's entry, with `prereqOf` for its feature events.
struct PrerequisiteEvents: EvaluationObserver {
    let snapshot: FlagSnapshot
    let events: EventPipeline
    let context: EvaluationContext

    mutating func prerequisiteEvaluated(_ prerequisite: CompiledFlag, detail: EvaluationDetail, dependent: CompiledFlag) {
        // The snapshot's entry holds the same compiled prerequisite.
        guard let entry = snapshot.entries[prerequisite.key] else { return }
        events.recordEvaluation(entry, detail: detail, context: context, defaultValue: .null, withReason: false, prereqOf: dependent.key)
    }
}
