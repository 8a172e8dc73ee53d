import ConfigFeed
import Logging
import ModelsCore
import Prometheus
import Synchronization

/// Whoever reacts to applied changes: the stream fan-out.
protocol ConfigChangeObserver: Sendable {
    /// Whether any stream of the environment is open (or opening). Changes of environments without
    /// streams are not turned into events, which keeps reading the changelog at start cheap.
    func hasStreams(environmentID: String) -> Bool
    /// A flag or segment changed.
    func changed(_ change: ConfigChange)
    /// An environment record changed (its keys, say): streams re-check their credentials.
    func environmentUpdated(_ environment: EnvironmentRecord)
    /// An environment was deleted: its streams end.
    func environmentRemoved(id: String)
}

/// The relay's in-memory replica of `vane.config`: environments (through the shared
/// ``EnvironmentDirectory``, which also authenticates SDK credentials) and, per environment, its
/// flags and segments with their versions.
///
/// Fed by ``ConfigFeed`` from one task, in topic order. Records not newer than what is held are
/// ignored, tombstones keep their version, and an environment tombstone drops the environment and
/// everything in it.
final class RelayStore: ConfigRecordSink {
    let directory: EnvironmentDirectory
    private let observer: any ConfigChangeObserver
    private let environmentsGauge: Gauge
    private let logger: Logger
    private let state = Mutex(State())

    private struct State {
        var environments: [String: EnvironmentData] = [:]
        /// Deleted environments; records of theirs that arrive later (an older replay) are dropped.
        var removed: Set<String> = []
    }

    init(directory: EnvironmentDirectory, observer: any ConfigChangeObserver, environmentsGauge: Gauge, logger: Logger) {
        self.directory = directory
        self.observer = observer
        self.environmentsGauge = environmentsGauge
        self.logger = logger
    }

    func apply(_ record: ConfigRecord) {
        switch record.kind {
        case .environment:
            applyEnvironment(record)
        case .flag, .segment:
            guard let environment = data(for: record.environmentID) else { return }
            let change: ConfigChange?
            do {
                change = try environment.apply(record)
            } catch {
                logger.error("ignoring an undecodable config record", metadata: [
                    "record": "\(record.recordKey)", "version": "\(record.version)", "error": "\(error)",
                ])
                return
            }
            if let change, observer.hasStreams(environmentID: record.environmentID) {
                observer.changed(change)
            }
        }
    }

    private func applyEnvironment(_ record: ConfigRecord) {
        let before = directory.environment(id: record.environmentID)
        directory.apply(record)
        let after = directory.environment(id: record.environmentID)
        if record.isDeleted {
            guard after == nil else { return }
            let existed = state.withLock { state in
                state.removed.insert(record.environmentID)
                let hadData = state.environments.removeValue(forKey: record.environmentID) != nil
                environmentsGauge.set(Int64(state.environments.count))
                return hadData || before != nil
            }
            if existed {
                logger.info("environment deleted", metadata: ["environment": "\(record.environmentID)"])
                observer.environmentRemoved(id: record.environmentID)
            }
        } else if let after, after != before {
            observer.environmentUpdated(after)
        }
    }

    /// The data of an environment that is not deleted, created empty on first use.
    func data(for environmentID: String) -> EnvironmentData? {
        state.withLock { state in
            if let data = state.environments[environmentID] { return data }
            guard !state.removed.contains(environmentID) else { return nil }
            let data = EnvironmentData(id: environmentID)
            state.environments[environmentID] = data
            environmentsGauge.set(Int64(state.environments.count))
            return data
        }
    }
}
