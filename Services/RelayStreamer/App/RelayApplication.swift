import ConfigFeed
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOPosix
import ServiceKit
import ServiceLifecycle

/// Assembles relay-streamer: the replica of `vane.config` (store + feed), the stream fan-out, and
/// the HTTP server whose connections can turn into streams.
struct RelayApplication {
    let settings: RelaySettings
    let logger: Logger

    /// The HTTP application; the feed, the broadcaster and the lag monitor run as its services (the
    /// server stops first, ending every stream, then they stop).
    func makeApplication() -> some ApplicationProtocol {
        let core = RelayCore(settings: settings, logger: logger)
        let feed = ConfigFeed(
            kafka: settings.kafka, topic: settings.configTopic, sink: core.store, metrics: core.metrics, logger: logger)
        return core.makeApplication(
            isReady: { feed.currentStatus.isCaughtUp }, notReadyReason: { feed.notReadyReason },
            services: [feed, core.broadcaster, ChangelogLagMonitor(feed: feed, interval: settings.lagInterval)])
    }
}

/// The relay without its changelog reader: store, fan-out, admission control and HTTP server.
/// Tests feed the store directly.
struct RelayCore {
    let settings: RelaySettings
    let logger: Logger
    let metrics = ServiceMetrics()
    let group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    let gate: BuildGate
    let broadcaster: StreamBroadcaster
    let store: RelayStore

    init(settings: RelaySettings, logger: Logger) {
        self.settings = settings
        self.logger = logger
        gate = BuildGate(limit: settings.maxConcurrentBuilds)
        broadcaster = StreamBroadcaster(group: group, settings: settings, gate: gate, serviceMetrics: metrics, logger: logger)
        store = RelayStore(
            directory: EnvironmentDirectory(), observer: broadcaster,
            environmentsGauge: metrics.gauge("relay_environments", help: "Environments with data held in memory."), logger: logger)
    }

    /// The HTTP application running `services`.
    ///
    /// - Parameters:
    ///   - isReady: whether the store has caught up with the changelog (SDK endpoints answer 503 until then).
    ///   - notReadyReason: what `/readyz` says while not ready.
    ///   - onServerRunning: called with the listening channel (tests read the port from it).
    func makeApplication(
        isReady: @escaping @Sendable () -> Bool, notReadyReason: @escaping @Sendable () -> String?, services: [any Service],
        onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let access = RelayAccess(store: store, isReady: isReady, retryAfterSeconds: settings.retryAfterSeconds)
        let gateway = StreamGateway(
            access: access, broadcaster: broadcaster, gate: gate, bufferBytes: settings.streamBufferBytes,
            maxBodyBytes: settings.maxBodyBytes)

        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: JSONErrorMiddleware(metrics: metrics))
        router.add(middleware: MethodNotAllowedMiddleware(OFREPRoutes.paths))
        router.addOperationalRoutes(readiness: ClosureReadinessCheck { notReadyReason() }, metrics: metrics)
        PollingRoutes(access: access, gate: gate).add(to: router)
        ClientSideRoutes(access: access, gate: gate, maxBodyBytes: settings.maxBodyBytes).add(to: router)
        OFREPRoutes(access: access, gate: gate, maxBodyBytes: settings.maxBodyBytes).add(to: router)

        let idleTimeout = settings.idleTimeout
        let limits = HTTPConnectionGuard.Limits(requestTimeout: TimeAmount(settings.http.requestTimeout))
        return Application(
            router: router,
            server: HTTPServerBuilder { responder in
                RelayChildChannel(responder: responder, gateway: gateway, idleTimeout: idleTimeout, limits: limits)
            },
            configuration: .init(
                address: .hostname(settings.http.host, port: settings.http.port), serverName: "vane-relay-streamer",
                backlog: 4096, availableConnectionsDelegate: .maximum(settings.maxConnections, logger: logger)),
            services: services,
            onServerRunning: onServerRunning,
            eventLoopGroupProvider: .shared(group),
            logger: logger)
    }
}

/// Refreshes the changelog lag metric (`vane_config_lag_records`) periodically.
struct ChangelogLagMonitor: Service {
    let feed: ConfigFeed
    let interval: Duration

    func run() async throws {
        while !Task.isShuttingDownGracefully {
            await feed.measureLag()
            do {
                try await cancelWhenGracefulShutdown { [interval] in try await Task.sleep(for: interval) }
            } catch {
                return
            }
        }
    }
}
