#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Unbuffered writes to the standard streams through their file descriptors (the C `FILE*`
/// globals are shared mutable state that Swift 6 rightly refuses).
enum Console {
    static func writeStdout(_ bytes: [UInt8]) { write(fd: STDOUT_FILENO, bytes) }

    static func writeStderr(_ line: String) { write(fd: STDERR_FILENO, Array((line + "\n").utf8)) }

    /// A failure to read standard input.
    struct ReadError: Error, CustomStringConvertible {
        var description: String
    }

    /// All of standard input, refusing more than `limit` bytes.
    static func readStdin(limit: Int) throws(ReadError) -> [UInt8] {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { buffer in
                #if canImport(Glibc)
                Glibc.read(STDIN_FILENO, buffer.baseAddress, buffer.count)
                #else
                Darwin.read(STDIN_FILENO, buffer.baseAddress, buffer.count)
                #endif
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw ReadError(description: "cannot read stdin: \(String(cString: strerror(errno)))")
            }
            if n == 0 { return bytes }
            bytes.append(contentsOf: chunk[0..<n])
            if bytes.count > limit { throw ReadError(description: "stdin is larger than \(limit >> 20) MiB") }
        }
    }

    private static func write(fd: Int32, _ bytes: [UInt8]) {
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                #if canImport(Glibc)
                let n = Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                #else
                let n = Darwin.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                #endif
                if n < 0 {
                    if errno == EINTR { continue }
                    return
                }
                offset += n
            }
        }
    }
}
