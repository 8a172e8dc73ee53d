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
