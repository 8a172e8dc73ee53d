import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// The baseline for the stream-memory benchmark: SSE served the usual Hummingbird way (swift-notes
/// §1.2, the "stream-watch" variant with a shared heartbeat): one Swift task per connection,
/// `consumeWithCancellationOnInboundClose` to notice disconnects, and a bounded `AsyncStream` per
/// subscriber fed by a broadcaster. It sends a small `put` first, then heartbeats.
enum NaiveSSEServer {
    final class Broadcaster: Sendable {
        private let subscribers = Mutex<[Int: AsyncStream<ByteBuffer>.Continuation]>([:])
        private let nextID = Atomic<Int>(0)

        func subscribe() -> (id: Int, stream: AsyncStream<ByteBuffer>) {
            let (stream, continuation) = AsyncStream.makeStream(of: ByteBuffer.self, bufferingPolicy: .bufferingNewest(32))
            let id = nextID.add(1, ordering: .relaxed).newValue
            subscribers.withLock { $0[id] = continuation }
            return (id, stream)
        }

        func unsubscribe(_ id: Int) {
            subscribers.withLock { $0.removeValue(forKey: id) }?.finish()
        }

        func publish(_ buffer: ByteBuffer) {
            for continuation in subscribers.withLock({ Array($0.values) }) { continuation.yield(buffer) }
        }
    }

    /// Sends a heartbeat comment to every subscriber every 30 s.
    struct Heartbeat: Service {
        let broadcaster: Broadcaster
        func run() async throws {
            while !Task.isShuttingDownGracefully {
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(30)) }
                broadcaster.publish(ByteBuffer(string: ":\n"))
            }
        }
    }

    static func run(port: Int) async throws {
        var logger = Logger(label: "naive-sse")
        logger.logLevel = .warning
        let broadcaster = Broadcaster()
        let router = Router()
        router.get("readyz") { _, _ in "ok" }
        router.get("all") { request, _ -> Response in
            Response(
                status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
                body: ResponseBody { writer in
                    let (id, stream) = broadcaster.subscribe()
                    defer { broadcaster.unsubscribe(id) }
                    do {
                        try await writer.write(ByteBuffer(
                            string: "event: put\ndata: {\"path\":\"/\",\"data\":{\"flags\":{},\"segments\":{}}}\n\n"))
                        try await request.body.consumeWithCancellationOnInboundClose { _ in
                            for await buffer in stream.cancelOnGracefulShutdown() { try await writer.write(buffer) }
                        }
                    } catch {
                        return
                    }
                    try await writer.finish(nil)
                })
        }
        var app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: port), backlog: 4096), logger: logger)
        app.addServices(Heartbeat(broadcaster: broadcaster))
        try await app.runService()
    }
}
