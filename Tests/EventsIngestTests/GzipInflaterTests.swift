import CZlib
@testable import EventsIngest
import Testing

@Suite("Gzip request bodies")
struct GzipInflaterTests {
    private func inflate(_ data: [UInt8], limit: Int = 1 << 20) throws(GzipInflater.Failure) -> [UInt8] {
        try data.withUnsafeBytes { bytes in
            Result { () throws(GzipInflater.Failure) -> [UInt8] in try GzipInflater.inflate(bytes, limit: limit) }
        }.get()
    }

    @Test("round trip, including empty content and bodies larger than the first output buffer")
    func roundTrip() throws {
        let text = Array(String(repeating: #"{"kind":"custom","key":"k","creationDate":1700000000000},"#, count: 5000).utf8)
        #expect(try inflate(gzip(text)) == text)
        #expect(try inflate(gzip([])) == [])
        var generator = SplitMix64(seed: 7)
        let noise = (0..<300_000).map { _ in UInt8.random(in: 0...255, using: &generator) }
        #expect(try inflate(gzip(noise)) == noise)
    }

    @Test("concatenated members are one body; trailing zero padding is ignored")
    func multipleMembers() throws {
        #expect(try inflate(gzip(Array("[{},".utf8)) + gzip(Array("{}]".utf8))) == Array("[{},{}]".utf8))
        #expect(try inflate(gzip(Array("[]".utf8)) + [0, 0, 0, 0]) == Array("[]".utf8))
    }

    @Test("output is limited: a small bomb fails without inflating it all; exactly the limit passes")
    func limit() throws {
        let zeros = [UInt8](repeating: 0x20, count: 20 << 20)
        let bomb = gzip(zeros)
        #expect(bomb.count < 100_000)
        #expect(throws: GzipInflater.Failure.tooLarge) { try inflate(bomb, limit: 1 << 20) }
        let exact = [UInt8](repeating: 0x41, count: 4096)
        #expect(try inflate(gzip(exact), limit: 4096) == exact)
        #expect(throws: GzipInflater.Failure.tooLarge) { try inflate(gzip(exact + [0x41]), limit: 4096) }
    }

    @Test("corrupt, truncated and non-gzip data fail cleanly")
    func corrupt() {
        let valid = gzip(Array(String(repeating: "[{\"a\":1}]", count: 100).utf8))
        var flipped = valid
        flipped[flipped.count / 2] ^= 0xFF
        var badChecksum = valid
        badChecksum[badChecksum.count - 6] ^= 0x01
        for input in [Array("[{}]".utf8), Array(valid.prefix(valid.count - 3)), Array(valid.prefix(12)), flipped,
            badChecksum, valid + [1, 2, 3], []] {
            do {
                let output = try inflate(input)
                Issue.record("inflated \(input.count) corrupt bytes into \(output.count)")
            } catch {
                if case .corrupt = error {} else { Issue.record("expected corrupt, got \(error)") }
            }
        }
    }
}

/// gzip-compresses `data` with zlib (what SDKs with event compression send).
func gzip(_ data: [UInt8]) -> [UInt8] {
    var stream = z_stream()
    precondition(deflateInit2_(&stream, Z_BEST_SPEED, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY, zlibVersion(),
                               Int32(MemoryLayout<z_stream>.size)) == Z_OK)
    defer { deflateEnd(&stream) }
    var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, UInt(data.count))) + 32)
    var input = data
    let produced: Int = input.withUnsafeMutableBufferPointer { inputBuffer in
        output.withUnsafeMutableBufferPointer { outputBuffer in
            stream.next_in = inputBuffer.baseAddress
            stream.avail_in = UInt32(inputBuffer.count)
            stream.next_out = outputBuffer.baseAddress
            stream.avail_out = UInt32(outputBuffer.count)
            precondition(deflate(&stream, Z_FINISH) == Z_STREAM_END)
            return outputBuffer.count - Int(stream.avail_out)
        }
    }
    return Array(output.prefix(produced))
}
