import Foundation
import Logging
import ServiceKit

/// `relay-streamer`: Vane's data-plane front. Reads `vane.config` into memory and serves
/// LaunchDarkly SDKs (streaming, polling, client-side evaluation) and OpenFeature (OFREP).
/// Configured through environment variables; see the README.
@main
enum RelayStreamerMain {
    static func main() async {
        let settings: RelaySettings
        do {
            settings = try RelaySettings(environment: ProcessInfo.processInfo.environment)
        } catch {
            FileHandle.standardError.write(Data("relay-streamer: \(error)\n".utf8))
            exit(78)  // EX_CONFIG
        }
        let logger = ServiceLogging.makeLogger(label: "relay-streamer", level: settings.logLevel)
        logger.info("starting relay-streamer", metadata: settings.logMetadata)
        do {
            let application = RelayApplication(settings: settings, logger: logger).makeApplication()
            try await ServiceRunner.run([application], logger: logger)
        } catch {
            logger.critical("relay-streamer failed", metadata: ["error": "\(error)"])
            exit(1)
        }
    }
}
