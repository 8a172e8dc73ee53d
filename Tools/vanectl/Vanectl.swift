import ArgumentParser

/// `vanectl`: Vane's operator tool.
@main
struct Vanectl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vanectl",
        abstract: "Vane's operator and development tool.",
        subcommands: [EvalCommand.self, DevKafkaCommand.self, KafkaCheckCommand.self, ExperimentStatsCommand.self])
}
