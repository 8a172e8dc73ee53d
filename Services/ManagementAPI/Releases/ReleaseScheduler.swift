import Foundation
import Logging
import PostgresNIO
import Prometheus
import ServiceKit
import ServiceLifecycle
import Synchronization

/// Applies scheduled changes and rollout steps when they come due, and runs the guards of guarded rollouts, inside
/// management-api (docs/releases.md, "The scheduler").
///
/// Among replicas one leads, by a lease row in PostgreSQL (`scheduler_leases`) renewed every second and valid for
/// ``Settings/leaseDuration``; a stopping leader gives it up, so that a restart or another replica takes over at once.
/// All state is in PostgreSQL, so a new leader simply continues. The leader never is what makes a change exactly-once:
/// each change is applied in one transaction that also marks it done, under row locks (see ``PostgresReleaseRepository``),
/// so two replicas that both believe they lead still apply it once.
final class ReleaseScheduler: Service, Sendable {
    struct Settings: Sendable {
        /// The longest sleep between two looks for due work (it sleeps less when something is due sooner).
        var pollInterval: Duration = .milliseconds(200)
        var leaseDuration: Duration = .seconds(5)
        var leaseRenewal: Duration = .seconds(1)
        /// How often each guarded rollout's guard looks at its arms.
        var guardInterval: Duration = .seconds(2)
    }

    /// The audit actor of what the scheduler applies.
    static let actorName = "release-scheduler"
    private static let leaseName = "releases"

    private let repository: PostgresReleaseRepository
    private let settings: Settings
    private let logger: Logger
    private let holder: String
    private let lag: DurationHistogram
    private let leading: Gauge
    private let failures: Counter
    private let rollbacks: Counter
    /// Opened once the schema is migrated.
    let schemaReady = StartupGate()
    private let isLeader = Mutex(false)

    init(store: ManagementStore, settings: Settings = Settings(), metrics: ServiceMetrics, logger: Logger) {
        self.repository = PostgresReleaseRepository(store: store)
        self.settings = settings
        self.logger = logger
        holder = "\(ProcessInfo.processInfo.hostName):\(ProcessInfo.processInfo.processIdentifier):\(UUID().uuidString.prefix(8))"
        lag = metrics.durationHistogram(
            "release_scheduler_lag",
            help: "Now minus the due time of each scheduled change or rollout step the scheduler applied.",
            buckets: [.milliseconds(10), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
                      .milliseconds(2500), .seconds(5), .seconds(10), .seconds(60), .seconds(600)])
        leading = metrics.gauge("release_scheduler_leader", help: "Whether this replica leads the release scheduler (1) or not (0).")
        failures = metrics.counter("release_scheduler_errors", help: "Scheduler rounds that failed (retried).")
        rollbacks = metrics.counter("release_guard_rollbacks", help: "Rollouts rolled back automatically by their guard.")
    }

    func run() async throws {
        await cancelWhenGracefulShutdown { await self.schemaReady.wait() }
        guard schemaReady.isOpen else { return }
        let clock = ContinuousClock()
        var lastRenewal = clock.now - .seconds(3600)
        var lastGuard = clock.now - .seconds(3600)
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            var pause = settings.pollInterval
            let renew = clock.now - lastRenewal >= settings.leaseRenewal || !isLeader.withLock({ $0 })
            let guards = clock.now - lastGuard >= settings.guardInterval
            if renew { lastRenewal = clock.now }
            do {
                let (led, next) = try await cancelWhenGracefulShutdown { try await self.round(renew: renew, guards: guards) }
                if guards && led { lastGuard = clock.now }
                pause = next
            } catch where Task.isShuttingDownGracefully || Task.isCancelled {
                break
            } catch {
                failures.increment()
                logger.warning("release scheduler round failed; retrying", metadata: ["error": "\(String(reflecting: error))"])
                pause = .seconds(1)
            }
            try? await cancelWhenGracefulShutdown { [pause] in try await Task.sleep(for: pause) }
        }
        await releaseLease()
    }

    /// One look: the lease, then (if leading) due work and guards. Returns whether this replica leads and how long to
    /// sleep: until the next due time, at most the poll interval (the lease renewal interval when not leading).
    private func round(renew: Bool, guards: Bool) async throws -> (Bool, Duration) {
        if renew { try await renewLease() }
        guard isLeader.withLock({ $0 }) else { return (false, settings.leaseRenewal) }
        try await applyDue()
        if guards { try await runGuards() }
        var pause = settings.pollInterval
        if let seconds = try await repository.secondsUntilNextDue() {
            pause = min(pause, .milliseconds(Int64(max(5, seconds * 1000))))
        }
        return (true, pause)
    }

    /// Takes or renews the lease: held by this replica, or expired.
    private func renewLease() async throws {
        let rows = try await repository.store.client.query(
            """
            INSERT INTO scheduler_leases (name, holder, expires_at)
            VALUES (\(Self.leaseName), \(holder), clock_timestamp() + make_interval(secs => \(Self.seconds(settings.leaseDuration))))
            ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
            WHERE scheduler_leases.holder = EXCLUDED.holder OR scheduler_leases.expires_at < clock_timestamp()
            RETURNING holder
            """, logger: logger)
        var acquired = false
        for try await _ in rows.decode(String.self) { acquired = true }
        let wasLeader = isLeader.withLock { leader in
            defer { leader = acquired }
            return leader
        }
        if acquired != wasLeader {
            logger.info(acquired ? "leading the release scheduler" : "no longer leading the release scheduler",
                metadata: ["holder": "\(holder)"])
        }
        leading.set(Int64(acquired ? 1 : 0))
    }

    /// Gives the lease up on shutdown (bounded: PostgreSQL may be gone), so that the next leader need not wait for it
    /// to expire.
    private func releaseLease() async {
        guard isLeader.withLock({ $0 }) else { return }
        let client = repository.store.client
        let holder = holder
        let logger = logger
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                _ = try? await client.query(
                    """
                    UPDATE scheduler_leases SET expires_at = clock_timestamp() - interval '1 millisecond'
                    WHERE name = \(Self.leaseName) AND holder = \(holder)
                    """, logger: logger)
            }
            group.addTask { try? await Task.sleep(for: .seconds(2)) }
            await group.next()
            group.cancelAll()
        }
        isLeader.withLock { $0 = false }
        leading.set(Int64(0))
    }

    private func applyDue() async throws {
        // Changes first, one per transaction, in due order.
        for _ in 0..<100 {
            guard let applied = try await repository.applyDueScheduledChange() else { break }
            recordLag(applied.lagSeconds)
            if !applied.applied { logger.warning("a scheduled change no longer applied; marked failed") }
        }
        for seconds in try await repository.advanceDueRollouts() { recordLag(seconds) }
    }

    private func runGuards() async throws {
        for guarded in try await repository.guardedRollouts() {
            do {
                if let evaluation = try await repository.evaluateGuard(guarded), evaluation.action == .rollback {
                    rollbacks.increment()
                    logger.notice("rollout rolled back by its guard", metadata: [
                        "rollout": "\(guarded.row.id.uuidString.lowercased())", "reason": "\(evaluation.reason)",
                    ])
                }
            } catch {
                failures.increment()
                logger.warning("guard evaluation failed", metadata: [
                    "rollout": "\(guarded.row.id.uuidString.lowercased())", "error": "\(String(reflecting: error))",
                ])
            }
        }
    }

    /// Negative lags (clock rounding) count as 0.
    private func recordLag(_ seconds: Double) {
        lag.recordNanoseconds(Int64(max(0, seconds) * 1e9))
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
