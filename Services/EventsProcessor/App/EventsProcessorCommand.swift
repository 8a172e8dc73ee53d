import ArgumentParser
import Foundation
import Logging
import PostgresNIO
import PostgresSupport
import ServiceKit

/// `events-processor`: correlates SDK events into the `analytics` tables.
@main
struct EventsProcessorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events-processor",
        abstract: "Vane's events processor: deduplicated, delayed correlation of flag and goal events into analytics tables.",
        discussion: "Configured through environment variables; see the README.",
        subcommands: [Serve.self, Replay.self, Migrate.self],
        defaultSubcommand: Serve.self)
}

/// Loads settings and a logger, or explains what is wrong with the configuration.
private func loadSettings() throws -> (ProcessorSettings, Logger) {
    do {
        let settings = try ProcessorSettings(environment: ProcessInfo.processInfo.environment)
        return (settings, ServiceLogging.makeLogger(label: "events-processor", level: settings.logLevel))
    } catch {
        FileHandle.standardError.write(Data("events-processor: \(error)\n".utf8))
        throw ExitCode(78)  // EX_CONFIG
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Consume the events topic (the default).")

    func run() async throws {
        let (settings, logger) = try loadSettings()
        logger.info("starting events-processor", metadata: settings.logMetadata)
        try await settings.database.checkAtStart(logger: logger)
        try await ServiceRunner.run([ProcessorApplication(settings: settings, logger: logger).makeApplication()], logger: logger)
    }
}

struct Replay: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Recount everything received from a time on (rounded down to the hour) out of the topic's retention.",
        discussion: """
            Safe while processors run (they pause their commits during the rewind, then help re-read) and \
            idempotent: running it again gives the same tables. See docs/analytics.md, "Replay".
            """)

    @Option(name: .long, help: "RFC 3339 time, e.g. 2026-11-20T00:00:00Z.")
    var from: String

    func run() async throws {
        let (settings, logger) = try loadSettings()
        guard let from = Replayer.parseTime(from) else {
            FileHandle.standardError.write(Data("events-processor: --from must be an RFC 3339 time such as 2026-11-20T00:00:00Z\n".utf8))
            throw ExitCode(64)  // EX_USAGE
        }
        do {
            let summary = try await Replayer(settings: settings, logger: logger).run(from: from)
            print(
                "replayed from \(AnalyticsStore.format(summary.receivedFrom)): \(summary.partitions) partitions re-read, "
                    + "\(summary.retractedContexts) context histories recomputed")
        } catch let error as ProcessorError {
            FileHandle.standardError.write(Data("events-processor: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply the analytics schema and exit.")

    func run() async throws {
        let (settings, logger) = try loadSettings()
        let client = ProcessorApplication(settings: settings, logger: logger).makePostgres()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            try await AnalyticsMigrations.apply(client: client, logger: logger)
            group.cancelAll()
        }
        logger.info("analytics schema applied")
    }
}
