import Synchronization

/// A circuit breaker in front of the producer. While Kafka is reachable every batch is sent. After a
/// send fails because no broker acknowledged it, Kafka counts as unavailable: one batch at a time
/// goes through as a probe and the others are refused at once (503), instead of each waiting the
/// full delivery timeout and piling up in memory. The first acknowledged send closes the circuit.
final class KafkaAvailability: Sendable {
    /// How a batch may proceed.
    enum Admission: Sendable, Equatable {
        /// Kafka is available: send.
        case send
        /// Kafka is unavailable and no probe is running: send, as the probe.
        case probe
        /// Kafka is unavailable and a probe is running: refuse.
        case refuse
    }

    private struct State {
        var available = true
        var probing = false
    }

    private let state = Mutex(State())

    func admit() -> Admission {
        state.withLock { state in
            if state.available { return .send }
            if state.probing { return .refuse }
            state.probing = true
            return .probe
        }
    }

    /// Records the outcome of a send admitted as `admission`. Returns true when this changed
    /// the availability (for logging).
    @discardableResult
    func record(kafkaReachable: Bool, admission: Admission) -> Bool {
        state.withLock { state in
            if admission == .probe { state.probing = false }
            defer { state.available = kafkaReachable }
            return state.available != kafkaReachable
        }
    }

    /// Ends an admission whose send said nothing about Kafka (it failed because of shutdown).
    func abandon(_ admission: Admission) {
        if admission == .probe { state.withLock { $0.probing = false } }
    }

    var isAvailable: Bool { state.withLock { $0.available } }
}
