import Logging
import ServiceLifecycle

/// Runs a service's parts as one `ServiceGroup` that shuts down gracefully on SIGTERM and SIGINT.
public enum ServiceRunner {
    /// Runs `services` (started in order, stopped in reverse) until a signal or a failure.
    public static func run(
        _ services: [any Service], gracefulShutdownTimeout: Duration = .seconds(15), logger: Logger
    ) async throws {
        var configuration = ServiceGroupConfiguration(
            services: services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) },
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger)
        configuration.maximumGracefulShutdownDuration = gracefulShutdownTimeout
        configuration.maximumCancellationDuration = .seconds(5)
        try await ServiceGroup(configuration: configuration).run()
    }
}
