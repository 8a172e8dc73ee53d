#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Foundation
import Synchronization

/// A child process started with `posix_spawn` and reaped with `waitpid` on its own pid.
///
/// Foundation's `Process` learns about exits from a SIGCHLD dispatch source; inside the test
/// runner (librdkafka and NIO threads, Swift concurrency) that source was seen to miss exits and
/// `waitUntilExit()` then blocked forever beside a zombie child. Waiting on the pid directly has no
/// such dependency.
public final class Subprocess: Sendable {
    /// Where one of the child's standard streams goes.
    public enum Stream: Sendable {
        /// `/dev/null`.
        case null
        /// Inherited from the test process.
        case inherit
        /// A file, created or truncated (appended to when `append`).
        case file(String, append: Bool = false)
        /// A pipe; the parent's end is available as ``standardInput`` or ``standardOutput``.
        case pipe
    }

    /// The child's process id.
    public let pid: pid_t
    /// The write end of the child's standard input when it was started with `.pipe`.
    public let standardInput: FileHandle?
    /// The read end of the child's standard output when it was started with `.pipe`.
    public let standardOutput: FileHandle?

    private let exitStatus = Mutex<Int32?>(nil)

    /// Starts `executable` with `arguments`; `environment` replaces the test process's environment
    /// when given.
    public init(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil,
        standardInput stdinMode: Stream = .null, standardOutput stdoutMode: Stream = .inherit, standardError stderrMode: Stream = .inherit
    ) throws {
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw ChildProcess.LaunchError(description: "\(executable) is missing; run `make test`, which builds and installs it")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var parentEnds: [Int32: Int32] = [:]
        var childEnds: [Int32] = []
        defer { for fd in childEnds { close(fd) } }
        for (target, mode) in [(Int32(0), stdinMode), (1, stdoutMode), (2, stderrMode)] {
            switch mode {
            case .inherit:
                break
            case .null:
                posix_spawn_file_actions_addopen(&actions, target, "/dev/null", target == 0 ? O_RDONLY : O_WRONLY, 0)
            case .file(let path, let append):
                posix_spawn_file_actions_addopen(&actions, target, path, O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC), 0o644)
            case .pipe:
                var fds: [Int32] = [0, 0]
                guard pipe(&fds) == 0 else {
                    for fd in parentEnds.values { close(fd) }
                    throw ChildProcess.LaunchError(description: "pipe2 failed: errno \(errno)")
                }
                // Close-on-exec so that other children never inherit these ends.
                _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
                _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
                let (childEnd, parentEnd) = target == 0 ? (fds[0], fds[1]) : (fds[1], fds[0])
                // dup2 clears close-on-exec on the target descriptor only.
                posix_spawn_file_actions_adddup2(&actions, childEnd, target)
                childEnds.append(childEnd)
                parentEnds[target] = parentEnd
            }
        }
        // Nothing else of the test runner's leaks into the child (its epoll, eventfd and socket
        // descriptors are not all close-on-exec).
        // (glibc ignores EBADF here for descriptors closed in the meantime.)
        let open = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []).compactMap { Int32($0) }
        for fd in open where fd > 2 { posix_spawn_file_actions_addclose(&actions, fd) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Default signal dispositions and an empty mask: the test runner's threads block signals.
        var signals = sigset_t()
        sigemptyset(&signals)
        posix_spawnattr_setsigmask(&attributes, &signals)
        var defaults = sigset_t()
        sigfillset(&defaults)
        sigdelset(&defaults, SIGKILL)
        sigdelset(&defaults, SIGSTOP)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        let variables = (environment ?? ProcessInfo.processInfo.environment).map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in variables { free(pointer) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, &attributes, argv, variables)
        guard result == 0 else {
            for fd in parentEnds.values { close(fd) }
            throw ChildProcess.LaunchError(description: "posix_spawn \(executable) failed: errno \(result)")
        }
        self.pid = pid
        standardInput = parentEnds[0].map { FileHandle(fileDescriptor: $0, closeOnDealloc: true) }
        standardOutput = parentEnds[1].map { FileHandle(fileDescriptor: $0, closeOnDealloc: true) }
        if let stderrEnd = parentEnds[2] { close(stderrEnd) }
    }

    deinit {
        if isRunning {
            kill(pid, SIGKILL)
            _ = waitBlocking()
        }
    }

    /// Whether the child has not exited yet (reaps it if it has).
    public var isRunning: Bool { poll() == nil }

    /// The exit status once the child is gone: the exit code, or 128 + signal number.
    public var terminationStatus: Int32? { poll() }

    /// Sends `signal` to the child unless it has already been reaped.
    public func signal(_ signal: Int32) {
        exitStatus.withLock { status in
            if status == nil { kill(pid, signal) }
        }
    }

    /// Blocks the calling thread until the child exits.
    public func waitBlocking() -> Int32 {
        while true {
            if let status = poll() { return status }
            usleep(5_000)
        }
    }

    /// Waits for the child without blocking a thread.
    public func wait() async -> Int32 {
        var delay = 1
        while true {
            if let status = poll() { return status }
            try? await Task.sleep(for: .milliseconds(delay))
            delay = min(delay * 2, 50)
        }
    }

    /// Reaps the child if it has exited; under the lock, so only one caller ever reaps it.
    private func poll() -> Int32? {
        exitStatus.withLock { status in
            if let status { return status }
            var raw: Int32 = 0
            var result: pid_t
            repeat { result = waitpid(pid, &raw, WNOHANG) } while result == -1 && errno == EINTR
            if result == pid {
                status = Self.decode(raw)
            } else if result == -1 {
                // ECHILD: reaped by someone else; the status is lost but the child is gone.
                status = -1
            }
            return status
        }
    }

    private static func decode(_ raw: Int32) -> Int32 {
        let signal = raw & 0x7f
        return signal == 0 ? (raw >> 8) & 0xff : 128 + signal
    }
}
