import Foundation

/// How a ``VaneClient`` gets its flags and sends its events. The defaults are LaunchDarkly's.
public struct VaneConfiguration: Sendable {
    /// Where flag data comes from.
    public enum DataSource: Sendable {
        /// Server-sent events from the relay's `/all`: the full data, then each change as it
        /// happens. Reconnects back off from `initialReconnectDelay` to `maxReconnectDelay`, with jitter.
        case streaming
        /// `GET /sdk/latest-all` every `interval` (at least 1 s), with `If-None-Match`.
        case polling(interval: Duration = .seconds(30))
        /// A data file (`{"flags":{…},"segments":{…}}`: the body of `/sdk/latest-all`, or the management
        /// API's `GET …/environments/{e}/data`), read once: no connection to a
        /// relay. Events are still sent when the client has an `eventsURL` (give none to be offline).
        case file(URL)
    }

    /// Where flag data comes from (`.streaming` by default).
    public var dataSource: DataSource = .streaming
    /// Whether analytics events are sent to `eventsURL`.
    public var sendEvents = true
    /// How often pending events are sent.
    public var flushInterval: Duration = .seconds(5)
    /// Pending events that trigger a flush before `flushInterval` is up.
    public var flushAt = 1_000
    /// Pending events kept at most while the events endpoint is unreachable; more are dropped (and counted).
    public var eventCapacity = 10_000
    /// Contexts remembered for index-event deduplication.
    public var contextKeysCapacity = 1_000
    /// How often the deduplication memory is cleared (a context gets a new index event after it).
    public var contextKeysFlushInterval: Duration = .seconds(300)
    /// Every attribute except `key`, `kind` and `anonymous` is left out of events.
    public var allAttributesPrivate = false
    /// Attributes (names or `/a/b` paths) left out of events for every context.
    public var privateAttributes: [String] = []
    /// First reconnect delay of the stream (doubling per failure up to `maxReconnectDelay`, minus up to 50 % jitter).
    public var initialReconnectDelay: Duration = .seconds(1)
    /// Longest reconnect delay.
    public var maxReconnectDelay: Duration = .seconds(30)
    /// A stream healthy this long resets the reconnect delay.
    public var backoffResetInterval: Duration = .seconds(60)
    /// A stream silent this long (no event, no heartbeat) is reconnected.
    public var streamReadTimeout: Duration = .seconds(300)
    /// Connect timeout of every request.
    public var connectTimeout: Duration = .seconds(10)
    /// Timeout of polling and event requests.
    public var requestTimeout: Duration = .seconds(15)
    /// Sent as `User-Agent` (LaunchDarkly SDKs send `<name>/<version>`).
    public var userAgent = "VaneSwiftSDK/\(VaneClient.version)"

    public init() {}

    /// A configuration with `dataSource` and otherwise the defaults.
    public init(dataSource: DataSource) { self.dataSource = dataSource }
}
