import ArgumentParser

/// `vanectl`: Vane's operator tool.
@main
struct Vanectl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vanectl",
        abstract: "Vane's operator tool: evaluate flag data offline.",
        subcommands: [EvalCommand.self])
}
