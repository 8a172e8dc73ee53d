import Logging
import ModelsCore
import NIOCore
import Prometheus
import ServiceKit
import ServiceLifecycle
import Synchronization

/// Fans changes out to every open stream and drives the one shared heartbeat.
///
/// Streams live in one ``StreamHub`` per event loop. A change is encoded once (``StreamEvent``) and
/// handed to each loop as one task, which writes the same bytes to each of its streams; the
/// heartbeat is one timer here, not one per stream. The broadcaster also counts streams (per
/// environment and kind, for `/metrics` and the connection cap).
final class StreamBroadcaster: ConfigChangeObserver, Service {
    private struct LoopHub: Sendable {
        let loop: any EventLoop
        let hub: NIOLoopBoundBox<StreamHub>
    }

    private struct Counts {
        var total = 0
        var environments: [String: EnvironmentStreams] = [:]
    }

    /// The streams of one environment: the count and one gauge per kind.
    private struct EnvironmentStreams {
        var count = 0
        var gauges: [Gauge]
        var removed = false
    }

    let maxStreams: Int
    let metrics: StreamMetrics
    private let heartbeatInterval: Duration
    private let hubs: [ObjectIdentifier: LoopHub]
    private let loopHubs: [LoopHub]
    private let counts = Mutex(Counts())
    private let serviceMetrics: ServiceMetrics
    private let logger: Logger

    init(group: any EventLoopGroup, settings: RelaySettings, gate: BuildGate, serviceMetrics: ServiceMetrics, logger: Logger) {
        maxStreams = settings.maxStreams
        heartbeatInterval = settings.heartbeatInterval
        self.serviceMetrics = serviceMetrics
        self.logger = logger
        metrics = StreamMetrics(
            eventsSent: serviceMetrics.counter("relay_stream_events_sent",
                help: "SSE events (put, patch, delete, ping) written to streams."),
            eventsDropped: serviceMetrics.counter(
                "relay_stream_events_dropped", help: "Events not written because the client was behind (replaced by a resync)."),
            resyncs: serviceMetrics.counter("relay_stream_resyncs", help: "Fresh put/ping events sent to streams that had dropped events."),
            streamsStalled: serviceMetrics.counter(
                "relay_streams_stalled", help: "Streams closed because their client stopped reading for too long."),
            rejected: serviceMetrics.counter("relay_streams_rejected", help: "Stream requests refused for capacity or load (503)."),
            opened: serviceMetrics.counter("relay_streams_opened", help: "Streams opened."),
            fanOut: serviceMetrics.durationHistogram(
                "relay_fanout_duration", help: "Time one event loop took to write one change to all its streams of the environment.",
                buckets: [.microseconds(100), .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
                          .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1)]))
        var hubs: [ObjectIdentifier: LoopHub] = [:]
        var loopHubs: [LoopHub] = []
        for loop in group.makeIterator() {
            let hub = StreamHub(gate: gate, metrics: metrics, stallTimeout: settings.streamStallTimeout)
            let entry = LoopHub(loop: loop, hub: NIOLoopBoundBox.makeBoxSendingValue(hub, eventLoop: loop))
            hubs[ObjectIdentifier(loop)] = entry
            loopHubs.append(entry)
        }
        self.hubs = hubs
        self.loopHubs = loopHubs
    }

    /// The hub of `loop`; call on that loop.
    func hub(on loop: any EventLoop) -> StreamHub? {
        hubs[ObjectIdentifier(loop)]?.hub.value
    }

    /// Counts a stream that is about to open; false (and nothing counted) when the relay already
    /// holds ``maxStreams``. Called before the stream reads its snapshot, so that a change applied
    /// concurrently is either in that snapshot or delivered to the stream as an event.
    func reserve(environmentID: String, kind: StreamKind) -> Bool {
        counts.withLock { counts in
            guard counts.total < maxStreams else { return false }
            counts.total += 1
            if counts.environments[environmentID] == nil {
                counts.environments[environmentID] = EnvironmentStreams(gauges: StreamKind.allCases.map { kind in
                    serviceMetrics.gauge(
                        "relay_streams", help: "Open SSE streams by environment and SDK kind.",
                        labels: [("environment", environmentID), ("kind", kind.label)])
                })
            }
            counts.environments[environmentID]!.count += 1
            counts.environments[environmentID]!.gauges[Int(kind.rawValue)].increment()
            return true
        }
    }

    /// Uncounts a stream that closed (or failed to open after ``reserve(environmentID:kind:)``).
    func release(environmentID: String, kind: StreamKind) {
        counts.withLock { counts in
            guard var streams = counts.environments[environmentID] else { return }
            counts.total -= 1
            streams.count -= 1
            streams.gauges[Int(kind.rawValue)].decrement()
            if streams.count == 0, streams.removed {
                for gauge in streams.gauges { serviceMetrics.registry.unregisterGauge(gauge) }
                counts.environments[environmentID] = nil
            } else {
                counts.environments[environmentID] = streams
            }
        }
    }

    /// Open streams, all environments.
    var streamCount: Int { counts.withLock { $0.total } }

    // MARK: ConfigChangeObserver

    func hasStreams(environmentID: String) -> Bool {
        counts.withLock { ($0.environments[environmentID]?.count ?? 0) > 0 }
    }

    func changed(_ change: ConfigChange) {
        let event = StreamEvent(change)
        for entry in loopHubs {
            entry.loop.execute { entry.hub.value.deliver(event) }
        }
    }

    func environmentUpdated(_ environment: EnvironmentRecord) {
        let now = WallClock.nowMilliseconds()
        for entry in loopHubs {
            entry.loop.execute { entry.hub.value.environmentUpdated(environment, wallClock: now) }
        }
    }

    func environmentRemoved(id: String) {
        counts.withLock { counts in
            guard var streams = counts.environments[id] else { return }
            if streams.count == 0 {
                for gauge in streams.gauges { serviceMetrics.registry.unregisterGauge(gauge) }
                counts.environments[id] = nil
            } else {
                streams.removed = true
                counts.environments[id] = streams
            }
        }
        for entry in loopHubs {
            entry.loop.execute { entry.hub.value.environmentRemoved(id: id) }
        }
    }

    // MARK: Service

    /// The shared heartbeat, until graceful shutdown (streams themselves end when the HTTP server
    /// quiesces their connections).
    func run() async throws {
        while !Task.isShuttingDownGracefully {
            do {
                try await cancelWhenGracefulShutdown { [heartbeatInterval] in try await Task.sleep(for: heartbeatInterval) }
            } catch {
                break
            }
            let now = WallClock.nowMilliseconds()
            for entry in loopHubs {
                entry.loop.execute { entry.hub.value.heartbeat(now: .now(), wallClock: now) }
            }
        }
    }
}
