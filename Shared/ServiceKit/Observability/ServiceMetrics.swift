import Prometheus

/// A service's Prometheus registry, passed explicitly to whatever records metrics (no global
/// metrics system, so that several services or tests in one process keep separate numbers).
public struct ServiceMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    let requests: Counter
    let requestErrors: Counter
    let requestDuration: DurationHistogram

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        requests = registry.makeCounter(descriptor: Self.name("http_requests", unit: "total", help: "HTTP requests handled."))
        requestErrors = registry.makeCounter(
            descriptor: Self.name("http_request_errors", unit: "total", help: "HTTP requests answered with a status of 500 or more."))
        requestDuration = registry.makeDurationHistogram(
            descriptor: Self.name("http_request_duration", unit: "seconds",
                help: "HTTP request latency (streams: until the head is sent)."),
            buckets: [.microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
                      .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .seconds(1), .seconds(5)])
    }

    /// A metric name in Vane's namespace, e.g. `vane_http_requests_total`.
    public static func name(_ metric: String, unit: String, help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "vane", metricName: metric, unitName: unit, helpText: help)
    }

    /// A counter named `vane_<metric>_<unit>`.
    public func counter(_ metric: String, unit: String = "total", help: String, labels: [(String, String)] = []) -> Counter {
        registry.makeCounter(descriptor: Self.name(metric, unit: unit, help: help), labels: labels)
    }

    /// A gauge named `vane_<metric>[_<unit>]`.
    public func gauge(_ metric: String, unit: String = "", help: String, labels: [(String, String)] = []) -> Gauge {
        registry.makeGauge(descriptor: Self.name(metric, unit: unit, help: help), labels: labels)
    }

    /// A duration histogram named `vane_<metric>_seconds`.
    public func durationHistogram(_ metric: String, help: String, buckets: [Duration],
        labels: [(String, String)] = []) -> DurationHistogram {
        registry.makeDurationHistogram(descriptor: Self.name(metric, unit: "seconds", help: help), labels: labels, buckets: buckets)
    }

    /// The Prometheus text exposition of every metric.
    public func exposition() -> [UInt8] {
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return buffer
    }
}
