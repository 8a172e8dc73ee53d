import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// `make run` from a clone inside a folder that only its owner can enter (root's home folder is
/// mode 0700): `scripts/run-stack.sh`, copied with its siblings into such a folder and run from
/// there with the default data folder (`.data` inside the "clone"), brings the stack up. As root,
/// PostgreSQL runs as `postgres`, which cannot enter the folder, so its data must live elsewhere
/// and the script must say where.
@Suite("make run from a 0700 folder", .serialized)
struct ProtectedFolderTests {
    @Test("run-stack.sh from a clone under a mode-0700 folder comes up, says where PostgreSQL's data is, and stops with 0")
    func protectedParent() async throws {
        let parent = FileManager.default.temporaryDirectory.appendingPathComponent("vane-0700-\(UUID().uuidString.prefix(8))")
        let clone = parent.appendingPathComponent("clone")
        try FileManager.default.createDirectory(at: clone, withIntermediateDirectories: true)
        chmod(parent.path, 0o700)
        defer { try? FileManager.default.removeItem(at: parent) }
        try FileManager.default.copyItem(at: RepositoryPaths.root.appendingPathComponent("scripts"),
            to: clone.appendingPathComponent("scripts"))

        var ports: [String: Int] = [:]
        for name in ["VANE_PG_PORT", "VANE_API_PORT", "VANE_RELAY_PORT", "VANE_EVENTS_PORT", "VANE_PROCESSOR_PORT"] {
            ports[name] = try TestPorts.next()
        }
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("vane-0700-\(UUID().uuidString.prefix(8)).out")
        let ready = FileManager.default.temporaryDirectory.appendingPathComponent("vane-0700-\(UUID().uuidString.prefix(8)).json")
        defer {
            try? FileManager.default.removeItem(at: output)
            try? FileManager.default.removeItem(at: ready)
        }
        var environment = ProcessInfo.processInfo.environment
        environment["VANE_BIN_DIR"] = RepositoryPaths.buildDirectory.path
        environment["VANE_DATA_DIR"] = nil
        environment["VANE_ADMIN_TOKEN"] = nil
        environment["VANE_STACK_READY_FILE"] = ready.path
        environment["VANE_STACK_PARENT_PID"] = "\(getpid())"
        environment["VANE_CORRELATION_DELAY_SECONDS"] = "2"
        for (name, port) in ports { environment[name] = "\(port)" }
        let process = try Subprocess(
            "/bin/bash", [clone.appendingPathComponent("scripts/run-stack.sh").path], environment: environment,
            standardInput: .null, standardOutput: .file(output.path, append: true), standardError: .file(output.path, append: true))
        var stopped = false
        let data = clone.appendingPathComponent(".data/pg")
        defer {
            if !stopped { _ = process.stopBlocking(gracePeriod: .seconds(90)) }
            // Data kept outside the clone (see scripts/postgres.sh) is removed with it.
            if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: data.path), target.hasPrefix("/var/tmp/vane-pg-") {
                try? FileManager.default.removeItem(atPath: target)
            }
        }
        func text() -> String { (try? String(contentsOf: output, encoding: .utf8)) ?? "" }
        func logs() -> String {
            let folder = clone.appendingPathComponent(".data/logs")
            let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
            return names.sorted().map { "== \($0)\n" + LogTail.of(folder.appendingPathComponent($0), lines: 15) }.joined(separator: "\n")
        }

        let deadline = ContinuousClock.now + .seconds(300)
        while !FileManager.default.fileExists(atPath: ready.path) {
            try #require(process.isRunning, "run-stack.sh exited before the stack was ready:\n\(text())\n\(logs())")
            try #require(ContinuousClock.now < deadline, "the stack was not ready within 300 s:\n\(text())\n\(logs())")
            try await Task.sleep(for: .milliseconds(200))
        }
        try await Task.sleep(for: .milliseconds(100))
        let summary = (try JSONSerialization.jsonObject(with: Data(contentsOf: ready)) as? [String: Any] ?? [:])
            .compactMapValues { $0 as? String }
        let token = try #require(summary["adminToken"])
        let flags = try await TestHTTP.json("GET", "http://127.0.0.1:\(ports["VANE_API_PORT"]!)/api/v1/projects/demo/flags", token: token)
        #expect(flags.status == 200, "\(flags.text)")

        // Where the data lives is printed; as root it is outside the folder `postgres` cannot enter.
        let home = try #require(
            text().split(separator: "\n").first { $0.hasPrefix("PostgreSQL    ") }.map { $0.split(separator: " ",
                omittingEmptySubsequences: true)[1] },
            "\(text())")
        if getuid() == 0 {
            #expect(home.hasPrefix("/var/tmp/vane-pg-"), "\(text())")
            #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: data.path)) == String(home.dropLast()), "\(text())")
        } else {
            #expect(home.hasPrefix(clone.path), "\(text())")
        }

        let outcome = await process.stop(gracePeriod: .seconds(90))
        stopped = true
        #expect(!outcome.forced && outcome.status == 0, "\(text())")
    }
}
