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
        /// Inherited from the test process. Avoid for long-lived children: while one holds the
        /// runner's output pipe, `swift test` waits for it even after the runner itself has died.
        case inherit
        /// A file, created or truncated (appended to when `append`).
        case file(String, append: Bool = false)
        /// A pipe; the parent's end is available as ``standardInput`` or ``standardOutput``.
        case pipe
    }

    /// The child's process id.
    public let pid: pid_t
    /// The write end of the child's standard input when it was started with `.pipe`.
    public let standardInput: PipeEnd?
    /// The read end of the child's standard output when it was started with `.pipe`.
    public let standardOutput: PipeEnd?

    private let exitStatus = Mutex<Int32?>(nil)

    /// Starts `executable` with `arguments`; `environment` replaces the test process's environment
    /// when given.
    ///
    /// The child (with its process group) is killed when the test process dies, crashes included:
    /// see ``whenTestProcessEnds(_:unlessGone:)``.
    public convenience init(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil,
        standardInput stdinMode: Stream = .null, standardOutput stdoutMode: Stream = .null, standardError stderrMode: Stream = .null
    ) throws {
        try self.init(
            executable, arguments, environment: environment, standardInput: stdinMode, standardOutput: stdoutMode,
            standardError: stderrMode, watched: true)
    }

    private init(
        _ executable: String, _ arguments: [String], environment: [String: String]?,
        standardInput stdinMode: Stream, standardOutput stdoutMode: Stream, standardError stderrMode: Stream, watched: Bool
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
        standardInput = parentEnds[0].map(PipeEnd.init)
        standardOutput = parentEnds[1].map(PipeEnd.init)
        if let stderrEnd = parentEnds[2] { close(stderrEnd) }
        if watched {
            do {
                try Self.whenTestProcessEnds("kill -KILL -- -\(pid) \(pid)", unlessGone: pid)
            } catch {
                kill(pid, SIGKILL)
                _ = waitBlocking()
                throw error
            }
        }
    }

    /// Runs the shell `command` once this test process is gone (exited, killed, or crashed and left
    /// as a zombie by `swift test`), unless process `child` has ended before.
    ///
    /// Without this, a crash of the test runner leaves brokers, services and PostgreSQL running; a
    /// survivor that holds the runner's output pipe makes `swift test` wait forever. The watcher is
    /// a detached `bash` (its parent exits at once), polling `/proc` every second.
    public static func whenTestProcessEnds(_ command: String, unlessGone child: pid_t? = nil) throws {
        let alive = #"alive() { local s; read -r s < /proc/$1/stat 2>/dev/null || return 1; s=${s##*) }; [ "${s%% *}" != Z ]; }"#
        let childCheck = child.map { "alive \($0) || exit 0; " } ?? ""
        let watcher = "\(alive); while alive \(getpid()); do \(childCheck)sleep 1; done; \(command)"
        let launcher = try Subprocess(
            "/bin/bash", ["-c", "(\(watcher)) </dev/null >/dev/null 2>&1 &"], environment: nil,
            standardInput: .null, standardOutput: .null, standardError: .null, watched: false)
        _ = launcher.waitBlocking()
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
        waitBlocking(timeout: nil)!
    }

    /// Blocks the calling thread until the child exits or `timeout` passes (`nil` then).
    public func waitBlocking(timeout: Duration?) -> Int32? {
        let deadline = timeout.map { ContinuousClock.now + $0 }
        while true {
            if let status = poll() { return status }
            if let deadline, ContinuousClock.now >= deadline { return nil }
            usleep(5_000)
        }
    }

    /// Waits for the child without blocking a thread.
    public func wait() async -> Int32 {
        await wait(timeout: nil)!
    }

    /// Waits for the child without blocking a thread, until `timeout` passes (`nil` then).
    public func wait(timeout: Duration?) async -> Int32? {
        let deadline = timeout.map { ContinuousClock.now + $0 }
        var delay = 1
        while true {
            if let status = poll() { return status }
            if let deadline, ContinuousClock.now >= deadline { return nil }
            try? await Task.sleep(for: .milliseconds(delay))
            delay = min(delay * 2, 50)
        }
    }

    /// How ``stop(signal:gracePeriod:)`` ended.
    public struct StopOutcome: Sendable {
        /// The exit status: the exit code, or 128 + signal number.
        public var status: Int32
        /// The child outlived `gracePeriod` and was sent SIGQUIT, then SIGKILL.
        public var forced: Bool
    }

    /// After the first signal: SIGQUIT makes a Swift program print every thread's backtrace to its
    /// standard error (where it hangs) before it dies; SIGKILL if even that does not end it.
    private static let escalation: [(signal: Int32, timeout: Duration?)] = [(SIGQUIT, .seconds(20)), (SIGKILL, nil)]

    /// Sends `signal` and waits up to `gracePeriod` for the child to exit, then forces it (see
    /// ``StopOutcome/forced``) so that a hung child never hangs the test run.
    public func stop(signal: Int32 = SIGTERM, gracePeriod: Duration) async -> StopOutcome {
        for (step, (signal, timeout)) in ([(signal, gracePeriod)] + Self.escalation).enumerated() {
            self.signal(signal)
            if let status = await wait(timeout: timeout) { return StopOutcome(status: status, forced: step > 0) }
        }
        return StopOutcome(status: await wait(), forced: true)
    }

    /// ``stop(signal:gracePeriod:)`` blocking the calling thread, for a `defer` (which cannot await).
    public func stopBlocking(signal: Int32 = SIGTERM, gracePeriod: Duration) -> StopOutcome {
        for (step, (signal, timeout)) in ([(signal, gracePeriod)] + Self.escalation).enumerated() {
            self.signal(signal)
            if let status = waitBlocking(timeout: timeout) { return StopOutcome(status: status, forced: step > 0) }
        }
        return StopOutcome(status: waitBlocking(), forced: true)
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

/// The parent's end of a pipe to a child: `read(2)` and `write(2)`, retried on EINTR.
///
/// Not Foundation's `FileHandle`: its `availableData` calls `fatalError` when a signal interrupts
/// the read, which turns any signal the test runner handles (a crash being backtraced) into a
/// second crash in every thread reading a child's output.
public final class PipeEnd: Sendable {
    private let descriptor: Mutex<Int32>

    init(_ descriptor: Int32) {
        self.descriptor = Mutex(descriptor)
    }

    deinit {
        close()
    }

    /// Blocks until some bytes arrive; empty at end of output (or once closed). Do not ``close()``
    /// while a read is in progress.
    public func read(maximum: Int = 65_536) -> [UInt8] {
        let fd = descriptor.withLock { $0 }
        guard fd >= 0 else { return [] }
        var buffer = [UInt8](repeating: 0, count: maximum)
        while true {
            let count = buffer.withUnsafeMutableBytes { systemRead(fd, $0.baseAddress, maximum) }
            if count >= 0 { return Array(buffer.prefix(count)) }
            if errno != EINTR { return [] }
        }
    }

    /// Writes all of `bytes`.
    public func write(_ bytes: [UInt8]) throws {
        let fd = descriptor.withLock { $0 }
        guard fd >= 0 else { throw ChildProcess.LaunchError(description: "write to a closed pipe") }
        var offset = 0
        while offset < bytes.count {
            let count = bytes.withUnsafeBytes { systemWrite(fd, $0.baseAddress! + offset, bytes.count - offset) }
            if count > 0 {
                offset += count
            } else if errno != EINTR {
                // SIGPIPE is ignored in the test runner: a child that is gone gives EPIPE here.
                throw ChildProcess.LaunchError(description: "write to pipe failed: errno \(errno)")
            }
        }
    }

    /// Closes this end (idempotent).
    public func close() {
        descriptor.withLock { fd in
            if fd >= 0 { systemClose(fd) }
            fd = -1
        }
    }
}

// The C calls under names that `PipeEnd`'s own methods do not shadow.
private func systemRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int { read(fd, buffer, count) }
private func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int { write(fd, buffer, count) }
private func systemClose(_ fd: Int32) { _ = close(fd) }
