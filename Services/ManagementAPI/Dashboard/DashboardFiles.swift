import CZlib
import Foundation
import Logging

/// The dashboard's static files (HTML, CSS, ES modules), read once at start into memory with their
/// gzip form and an ETag. They are small (≤ 250 KiB of JavaScript and CSS, checked by the browser
/// tests), so nothing is read from disk or compressed per request.
///
/// Where they come from, first match wins:
/// 1. `VANE_DASHBOARD_DIR` (development: point it at `Services/ManagementAPI/Dashboard/web`);
/// 2. `vane_ManagementAPI.resources/web` next to the executable, where SwiftPM copies the target's
///    resources (`swift build`, `make run`) and where the Docker image installs them.
struct DashboardFiles: Sendable {
    /// One file, ready to send.
    struct File: Sendable {
        let contentType: String
        let identity: [UInt8]
        /// Present when gzip makes it smaller.
        let gzip: [UInt8]?
        /// A strong validator of the content (`"<16 hex digits>"`).
        let etag: String
    }

    /// Paths relative to the web folder (`js/app.js`) → file.
    let files: [String: File]
    /// `index.html` with the asset prefix filled in.
    let index: File?
    /// The version of this set of files: a hash over all of them, part of the asset URLs, so assets can be
    /// cached as immutable and a new release is fetched at once.
    let version: String
    /// Where the files were read from (nil when none were found).
    let folder: URL?

    /// Limits: the folder is the service's own, but a misconfigured `VANE_DASHBOARD_DIR` must not fill memory.
    static let maximumFileBytes = 4 << 20
    static let maximumFiles = 500

    /// The URL prefix of the versioned assets: `/ui/assets/<version>/js/app.js`.
    static func assetsPrefix(version: String) -> String { "/ui/assets/\(version)" }

    /// Files found in the first folder of ``candidateFolders(override:)`` that holds an `index.html`;
    /// empty (with an error logged) when there is none, so the API still starts.
    static func load(folder override: String?, logger: Logger) -> DashboardFiles {
        for folder in candidateFolders(override: override) {
            guard FileManager.default.fileExists(atPath: folder.appendingPathComponent("index.html").path) else { continue }
            do {
                let files = try read(folder: folder)
                logger.info("dashboard files loaded", metadata: ["folder": "\(folder.path)", "files": "\(files.files.count)"])
                return files
            } catch {
                logger.error("dashboard files could not be read", metadata: ["folder": "\(folder.path)", "error": "\(error)"])
                return DashboardFiles(files: [:], index: nil, version: "none", folder: nil)
            }
        }
        logger.error(
            "dashboard files not found: /ui/ answers 404",
            metadata: ["searched": "\(candidateFolders(override: override).map(\.path))"])
        return DashboardFiles(files: [:], index: nil, version: "none", folder: nil)
    }

    static func candidateFolders(override: String?) -> [URL] {
        if let override, !override.isEmpty { return [URL(fileURLWithPath: override)] }
        var folders: [URL] = []
        if let executable = Bundle.main.executableURL?.resolvingSymlinksInPath() {
            folders.append(executable.deletingLastPathComponent().appendingPathComponent("vane_ManagementAPI.resources/web"))
        }
        folders.append(Bundle.main.bundleURL.appendingPathComponent("vane_ManagementAPI.resources/web"))
        return folders
    }

    struct ReadError: Error, CustomStringConvertible {
        var description: String
    }

    /// Reads every regular file under `folder` (hidden files and unknown types are skipped).
    static func read(folder: URL) throws -> DashboardFiles {
        let root = folder.resolvingSymlinksInPath().standardizedFileURL
        guard let enumerator = FileManager.default.enumerator(
            at: root, includingPropertiesForKeys: [.isRegularFileKey], options: [.skipsHiddenFiles])
        else { throw ReadError(description: "cannot list \(root.path)") }
        var raw: [String: [UInt8]] = [:]
        let rootPath = root.path.hasSuffix("/") ? root.path : root.path + "/"
        for case let url as URL in enumerator {
            guard (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true else { continue }
            let path = url.resolvingSymlinksInPath().standardizedFileURL.path
            guard path.hasPrefix(rootPath) else { continue }
            let relative = String(path.dropFirst(rootPath.count))
            guard contentType(of: relative) != nil else { continue }
            let data = try Data(contentsOf: url)
            guard data.count <= maximumFileBytes else { throw ReadError(description: "\(relative) is over \(maximumFileBytes) bytes") }
            raw[relative] = Array(data)
            guard raw.count <= maximumFiles else { throw ReadError(description: "more than \(maximumFiles) files") }
        }
        return make(raw, folder: root)
    }

    /// Builds the served set from file contents (also used by tests, without a folder).
    static func make(_ raw: [String: [UInt8]], folder: URL?) -> DashboardFiles {
        var hasher = FNV1a()
        for path in raw.keys.sorted() {
            hasher.add(Array(path.utf8))
            hasher.add([0])
            hasher.add(raw[path]!)
        }
        let version = String(hasher.hex.prefix(12))
        var files: [String: File] = [:]
        for (path, bytes) in raw where path != "index.html" {
            files[path] = file(bytes, contentType: contentType(of: path)!)
        }
        var index: File?
        if let html = raw["index.html"] {
            let text = String(decoding: html, as: UTF8.self)
                .replacingOccurrences(of: "{{ASSETS}}", with: assetsPrefix(version: version))
            index = file(Array(text.utf8), contentType: "text/html; charset=utf-8")
        }
        return DashboardFiles(files: files, index: index, version: version, folder: folder)
    }

    private static func file(_ bytes: [UInt8], contentType: String) -> File {
        var hasher = FNV1a()
        hasher.add(bytes)
        let compressed = Gzip.compress(bytes)
        return File(
            contentType: contentType, identity: bytes,
            gzip: compressed.flatMap { $0.count < bytes.count ? $0 : nil }, etag: "\"\(hasher.hex)\"")
    }

    /// The media type of a served file, nil for types the dashboard does not serve.
    static func contentType(of path: String) -> String? {
        switch path.split(separator: ".").last.map({ $0.lowercased() }) {
        case "html": "text/html; charset=utf-8"
        case "js", "mjs": "text/javascript; charset=utf-8"
        case "css": "text/css; charset=utf-8"
        case "svg": "image/svg+xml"
        case "png": "image/png"
        case "ico": "image/x-icon"
        case "json": "application/json"
        default: nil
        }
    }
}

/// 64-bit FNV-1a: a content fingerprint for ETags and the asset version (not a security boundary).
struct FNV1a {
    private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

    mutating func add(_ bytes: [UInt8]) {
        for byte in bytes {
            value ^= UInt64(byte)
            value = value &* 0x0000_0100_0000_01b3
        }
    }

    var hex: String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: 16 - text.count) + text
    }
}

/// gzip (RFC 1952) at the best compression level, done once per file at start.
enum Gzip {
    static func compress(_ input: [UInt8]) -> [UInt8]? {
        var stream = z_stream()
        // 16 + MAX_WBITS: write a gzip header and trailer; memory level 8 is zlib's default.
        guard deflateInit2_(&stream, Z_BEST_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY,
                            zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else { return nil }
        defer { deflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, UInt(input.count))) + 32)
        var input = input
        let status: Int32 = input.withUnsafeMutableBufferPointer { inputBuffer in
            output.withUnsafeMutableBufferPointer { outputBuffer in
                stream.next_in = inputBuffer.baseAddress
                stream.avail_in = UInt32(inputBuffer.count)
                stream.next_out = outputBuffer.baseAddress
                stream.avail_out = UInt32(outputBuffer.count)
                return deflate(&stream, Z_FINISH)
            }
        }
        guard status == Z_STREAM_END else { return nil }
        output.removeSubrange(Int(stream.total_out)...)
        return output
    }
}
