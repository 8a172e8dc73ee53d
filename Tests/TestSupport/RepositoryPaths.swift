import Foundation

/// Where tests find the repository, the built executables and the Python environment that
/// `make test` creates.
public enum RepositoryPaths {
    /// The repository root (this file is `Tests/TestSupport/RepositoryPaths.swift`).
    public static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The directory holding the built products: `VANE_BUILD_DIR`, else the directory of the test
    /// runner (`swift test` builds every product next to it).
    public static var buildDirectory: URL {
        if let path = ProcessInfo.processInfo.environment["VANE_BUILD_DIR"] {
            return URL(fileURLWithPath: path)
        }
        return URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    }

    /// A built executable, e.g. `vanectl`; `VANECTL_PATH` overrides the one for `vanectl`.
    public static func executable(_ name: String) -> URL {
        if name == "vanectl", let path = ProcessInfo.processInfo.environment["VANECTL_PATH"] {
            return URL(fileURLWithPath: path)
        }
        return buildDirectory.appendingPathComponent(name)
    }

    /// The Python interpreter of `.venv` (with the LaunchDarkly SDK installed), or `VANE_PYTHON`.
    public static var python: URL {
        if let path = ProcessInfo.processInfo.environment["VANE_PYTHON"] { return URL(fileURLWithPath: path) }
        return root.appendingPathComponent(".venv/bin/python")
    }
}
