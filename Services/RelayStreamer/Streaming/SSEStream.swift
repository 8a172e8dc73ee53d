import ModelsCore
import NIOCore

/// One open event stream: a socket written directly by its event loop's ``StreamHub``.
///
/// There is no Swift task, no async sequence and no buffer per stream: an event is one shared
/// ``SSEFrame`` written to the channel. The channel's write-buffer watermark bounds what may be
/// queued for a client that reads slowly; once it is exceeded, further events are dropped (not
/// queued) and the stream is marked for a resync, which writes a fresh `put` (or `ping`) as soon as
/// the client has drained its backlog. Memory per stream is therefore this object, the channel, and
/// at most the configured number of queued bytes (which mostly point at frames shared with others).
///
/// Confined to its channel's event loop.
final class SSEStream {
    /// The handler's context; nil once the stream is closed.
    var context: ChannelHandlerContext?
    let environment: EnvironmentData
    let kind: StreamKind
    /// Whether the response body is chunked (HTTP/1.1) or ends with the connection (HTTP/1.0).
    let chunked: Bool
    /// SHA-256 of the key that opened the stream (nil for client-side ids), to end the stream when
    /// the key expires or is removed.
    let credentialHash: String?
    /// When the key stops being valid (Unix milliseconds); see ``setExpiry(_:now:)``.
    private(set) var expiresAt: Int?
    /// Ends the stream when the key expires.
    private var expiryTimer: Scheduled<Void>?
    /// The data revision the client has; events not newer are skipped.
    var revision: Int
    /// Events were dropped while the client was not reading: send a fresh `put` (or `ping`).
    var needsResync = false
    /// Since when the channel has been unwritable (nil while writable).
    var blockedSince: NIODeadline?
    /// Position in the hub's list for its environment.
    var slot = -1

    init(
        context: ChannelHandlerContext, environment: EnvironmentData, kind: StreamKind, chunked: Bool,
        credential: EnvironmentRecord.Credential?, revision: Int
    ) {
        self.context = context
        self.environment = environment
        self.kind = kind
        self.chunked = chunked
        credentialHash = credential?.sha256
        self.revision = revision
    }

    /// Sets when the stream's key stops being valid and arms a timer that ends the stream at that
    /// moment: an expired key gets nothing more, not even until the next heartbeat. A time already
    /// past ends the stream now.
    func setExpiry(_ expiresAt: Int?, now: Int) {
        expiryTimer?.cancel()
        expiryTimer = nil
        self.expiresAt = expiresAt
        guard let expiresAt, let context else { return }
        let remaining = expiresAt - now
        guard remaining > 0 else {
            end()
            return
        }
        expiryTimer = context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(Int64(remaining))) { [weak self] in
            self?.end()
        }
    }

    /// Whether the key has expired at `now` (Unix milliseconds).
    func isExpired(at now: Int) -> Bool {
        expiresAt.map { now >= $0 } ?? false
    }

    /// Whether the client is keeping up (the queued bytes are under the high watermark).
    var isWritable: Bool { context?.channel.isWritable ?? false }

    /// Writes and flushes `frame`, unless the client is behind: then the frame is dropped, the
    /// stream is marked for a resync, and false is returned.
    @discardableResult
    func send(_ frame: SSEFrame) -> Bool {
        guard let context else { return false }
        guard context.channel.isWritable else {
            needsResync = true
            return false
        }
        context.writeAndFlush(NIOAny(frame.bytes(chunked: chunked)), promise: nil)
        return true
    }

    /// The connection is gone: forgets it, and the expiry timer.
    func detach() {
        expiryTimer?.cancel()
        expiryTimer = nil
        context = nil
    }

    /// Ends the response cleanly (the last chunk, when writable) and closes the connection.
    func end() {
        expiryTimer?.cancel()
        expiryTimer = nil
        guard let context else { return }
        self.context = nil
        if chunked, context.channel.isWritable {
            context.writeAndFlush(NIOAny(SSEFrame.endOfChunkedBody)).assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
            }
        } else {
            context.close(promise: nil)
        }
    }
}
