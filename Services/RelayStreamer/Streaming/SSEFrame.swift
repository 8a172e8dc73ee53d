import NIOCore

/// Bytes for one server-sent event (or comment), encoded once and written to any number of streams.
///
/// Streams are written at the socket level (see ``ConnectionHandler``), so a frame carries its
/// HTTP/1.1 chunk framing: `chunked` is `<hex length>\r\n<event>\r\n`, and `plain` is a slice of the
/// same storage holding just the event, for HTTP/1.0 clients whose body ends with the connection.
/// Both share one allocation, and writing a frame to ten thousand streams copies nothing.
struct SSEFrame: Sendable {
    let chunked: ByteBuffer
    let plain: ByteBuffer

    /// A frame from the event's text, already in SSE syntax.
    init(text: String) {
        self.init(parts: [Array(text.utf8)])
    }

    /// A frame whose event bytes are `parts` concatenated; returns the frame and the range of each
    /// part's bytes within ``chunked`` (so that a part can be served on its own, sharing storage).
    init(parts: [[UInt8]]) {
        self = Self.make(parts: parts).frame
    }

    /// Builds a frame, reporting where each part landed in the chunked buffer.
    static func make(parts: [[UInt8]]) -> (frame: SSEFrame, partOffsets: [Int]) {
        let length = parts.reduce(0) { $0 + $1.count }
        let header = Array((String(length, radix: 16) + "\r\n").utf8)
        var buffer = ByteBufferAllocator().buffer(capacity: header.count + length + 2)
        buffer.writeBytes(header)
        var offsets: [Int] = []
        offsets.reserveCapacity(parts.count)
        for part in parts {
            offsets.append(buffer.writerIndex)
            buffer.writeBytes(part)
        }
        buffer.writeBytes([UInt8(ascii: "\r"), UInt8(ascii: "\n")])
        let plain = buffer.getSlice(at: header.count, length: length)!
        return (SSEFrame(chunked: buffer, plain: plain), offsets)
    }

    private init(chunked: ByteBuffer, plain: ByteBuffer) {
        self.chunked = chunked
        self.plain = plain
    }

    /// The bytes for a stream, framed as that stream's response is.
    @inline(__always) func bytes(chunked isChunked: Bool) -> ByteBuffer {
        isChunked ? chunked : plain
    }

    /// `event: <name>` with one `data:` line; `data` must not contain line breaks (compact JSON).
    static func event(_ name: String, data: [UInt8]) -> SSEFrame {
        SSEFrame(parts: [Array("event: \(name)\ndata: ".utf8), data, [UInt8(ascii: "\n"), UInt8(ascii: "\n")]])
    }

    /// The heartbeat: an SSE comment line, which resets clients' read timeouts and is otherwise
    /// ignored (what LaunchDarkly's Relay sends).
    static let heartbeat = SSEFrame(text: ":\n")

    /// Tells a client-side SDK to fetch its flags again. The data is a single space because an event
    /// with empty data is never dispatched (as LaunchDarkly's Relay does).
    static let ping = SSEFrame(text: "event: ping\ndata:  \n\n")

    /// The last chunk of a chunked response: the stream ends cleanly.
    static let endOfChunkedBody: ByteBuffer = ByteBuffer(string: "0\r\n\r\n")
}
