import ModelsCore
import NIOCore
import Synchronization

/// An immutable view of one environment at one data revision: what every request and every new
/// stream reads. The serialized payload is built at most once per snapshot and shared.
final class EnvironmentSnapshot: Sendable {
    let environmentID: String
    /// The data revision (see ``EnvironmentData``).
    let revision: Int
    /// The live flags and segments, compiled for evaluation.
    let evaluation: EvaluationData
    private let prepared = Mutex<PreparedPayload?>(nil)

    init(environmentID: String, revision: Int, evaluation: EvaluationData) {
        self.environmentID = environmentID
        self.revision = revision
        self.evaluation = evaluation
    }

    /// The serialized payload, built now if no one has asked for it yet; nil when the build is
    /// refused by `gate` (too many builds in progress).
    ///
    /// The build runs under the snapshot's lock: concurrent callers wait for it rather than
    /// serializing the same data again.
    func preparedPayload(gate: BuildGate) -> PreparedPayload? {
        prepared.withLock { prepared in
            if let prepared { return prepared }
            guard let built = gate.run({ PreparedPayload(snapshot: self) }) else { return nil }
            prepared = built
            return built
        }
    }
}

/// An environment's full data, serialized once: the `/sdk/latest-all` body, and the same bytes
/// wrapped as the streaming `put` event (the body is a slice of the event's storage).
struct PreparedPayload: Sendable {
    let revision: Int
    /// `{"flags":{...},"segments":{...}}`, tombstones left out.
    let body: ByteBuffer
    /// `event: put` with `{"path":"/","data":<body>}`.
    let putFrame: SSEFrame
    /// The ETag of ``body``, derived from the data revision (so equal across relays).
    let etag: String

    init(snapshot: EnvironmentSnapshot) {
        var payload = PollingPayload()
        for (key, flag) in snapshot.evaluation.flags { payload.flags[key] = flag.flag }
        for (key, segment) in snapshot.evaluation.segments { payload.segments[key] = segment.segment }
        var writer = JSONWriter(capacity: 4096)
        payload.write(to: &writer)
        let body = writer.bytes
        let (frame, offsets) = SSEFrame.make(parts: [
            Array("event: put\ndata: {\"path\":\"/\",\"data\":".utf8), body, Array("}\n\n".utf8),
        ])
        revision = snapshot.revision
        putFrame = frame
        self.body = frame.chunked.getSlice(at: offsets[1], length: body.count)!
        etag = Self.etag(revision: snapshot.revision)
    }

    /// `"r<revision>"`, quoted as an HTTP entity tag.
    static func etag(revision: Int) -> String { "\"r\(revision)\"" }
}

/// Admission control for expensive work: at most `limit` full-payload builds (serializing an
/// environment, evaluating every flag for a context) run at once; callers beyond that are refused
/// immediately and answered 503 with `Retry-After`, so that a reconnect storm costs a bounded amount
/// of CPU and memory instead of queueing without bound.
final class BuildGate: Sendable {
    /// Maximum concurrent builds; 0 means unlimited.
    let limit: Int
    private let inFlight = Atomic<Int>(0)
    private let refusals = Atomic<Int>(0)

    init(limit: Int) {
        self.limit = limit
    }

    /// Runs `body` if a slot is free, else returns nil without running it.
    func run<T>(_ body: () -> T) -> T? {
        if limit > 0 {
            guard inFlight.add(1, ordering: .acquiring).newValue <= limit else {
                inFlight.subtract(1, ordering: .releasing)
                refusals.add(1, ordering: .relaxed)
                return nil
            }
        }
        defer { if limit > 0 { inFlight.subtract(1, ordering: .releasing) } }
        return body()
    }

    /// Builds refused since start.
    var refusedCount: Int { refusals.load(ordering: .relaxed) }
}
