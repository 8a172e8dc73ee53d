internal import CZlib

/// Inflates gzip request bodies (`Content-Encoding: gzip`, which LaunchDarkly SDKs send with
/// `enable_event_compression`) with a hard limit on the output, so a small "gzip bomb" cannot make
/// the service allocate more than one body's worth of memory.
enum GzipInflater {
    /// Why a body could not be inflated.
    enum Failure: Error, Sendable, Equatable {
        /// The inflated body would exceed the limit.
        case tooLarge
        /// Not gzip data, truncated, or failing its checksum.
        case corrupt(String)
    }

    /// The inflated bytes of `input`, a gzip stream (several concatenated members are allowed, as
    /// RFC 1952 permits).
    ///
    /// - Parameter limit: The largest output accepted; more fails with ``Failure/tooLarge``.
    static func inflate(_ input: UnsafeRawBufferPointer, limit: Int) throws(Failure) -> [UInt8] {
        guard let inputBase = input.baseAddress, input.count > 0 else { throw .corrupt("the body is empty") }
        var stream = z_stream()
        // 16 + MAX_WBITS: a gzip header and trailer, with the largest window.
        guard inflateInit2_(&stream, 16 + MAX_WBITS, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw .corrupt("zlib could not be initialised")
        }
        defer { inflateEnd(&stream) }

        // Start from a typical JSON ratio and grow geometrically; never beyond the limit (+1 byte,
        // to tell "exactly the limit" from "more").
        let ceiling = limit == Int.max ? limit : limit + 1
        var output = [UInt8](repeating: 0, count: min(ceiling, max(16 << 10, input.count * 8)))
        var produced = 0
        stream.next_in = UnsafeMutablePointer(mutating: inputBase.assumingMemoryBound(to: UInt8.self))
        stream.avail_in = UInt32(input.count)  // bodies are far below 4 GiB (the limit is at most 1 GiB)

        while true {
            if produced == output.count {
                guard output.count < ceiling else { throw .tooLarge }
                output.append(contentsOf: repeatElement(0, count: min(ceiling, output.count * 2) - output.count))
            }
            let room = min(output.count - produced, Int(UInt32.max))
            let status: Int32 = output.withUnsafeMutableBufferPointer { buffer in
                stream.next_out = buffer.baseAddress! + produced
                stream.avail_out = UInt32(room)
                return CZlib.inflate(&stream, Z_NO_FLUSH)
            }
            produced += room - Int(stream.avail_out)
            if produced > limit { throw .tooLarge }
            switch status {
            case Z_STREAM_END:
                // Another gzip member may follow; trailing zero padding is tolerated as gzip(1) does.
                let rest = UnsafeRawBufferPointer(rebasing: input[(input.count - Int(stream.avail_in))...])
                if rest.allSatisfy({ $0 == 0 }) {
                    output.removeSubrange(produced...)
                    return output
                }
                guard inflateReset(&stream) == Z_OK else { throw .corrupt("zlib could not continue") }
            case Z_OK:
                continue
            case Z_BUF_ERROR:
                // No progress possible: either the output is full (grown above) or the input ended early.
                if stream.avail_out > 0 { throw .corrupt("the gzip data is truncated") }
            case Z_DATA_ERROR:
                throw .corrupt(stream.msg.map { String(cString: $0) } ?? "invalid gzip data")
            case Z_MEM_ERROR:
                throw .corrupt("zlib ran out of memory")
            default:
                throw .corrupt("zlib error \(status)")
            }
        }
    }
}
