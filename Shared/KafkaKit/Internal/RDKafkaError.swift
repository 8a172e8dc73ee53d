internal import CRdKafka

/// librdkafka's error-code table, read once from `rd_kafka_get_err_descs`.
enum RDKafkaErrorTable {
    private struct Entry {
        let name: String
        let description: String
    }

    private static let entries: [Int32: Entry] = {
        var descriptions: UnsafePointer<rd_kafka_err_desc>?
        var count = 0
        rd_kafka_get_err_descs(&descriptions, &count)
        var table: [Int32: Entry] = [:]
        guard let descriptions else { return table }
        for index in 0..<count {
            let entry = descriptions[index]
            guard let name = entry.name else { continue }
            table[entry.code.rawValue] = Entry(
                name: String(cString: name),
                description: entry.desc.map { String(cString: $0) } ?? "")
        }
        return table
    }()

    private static let byName: [String: Int32] = {
        var names: [String: Int32] = [:]
        for (code, entry) in entries {
            names[entry.name] = code
            // Local errors are spelled with a leading underscore; accept them without it too, unless
            // that would shadow a protocol error of the same name (none exist in 2.0.2).
            if entry.name.hasPrefix("_") {
                let bare = String(entry.name.dropFirst())
                if names[bare] == nil { names[bare] = code }
            }
        }
        return names
    }()

    static func name(of code: Int32) -> String {
        entries[code]?.name ?? "ERR_\(code)"
    }

    static func description(of code: Int32) -> String {
        entries[code]?.description ?? String(cString: rd_kafka_err2str(rd_kafka_resp_err_t(rawValue: code)))
    }

    static func code(named name: String) -> Int32? {
        if let exact = byName[name] { return exact }
        // Protocol names win over the underscore-less spelling of local names (see `byName`).
        return nil
    }
}

extension KafkaError {
    /// An error from a bare librdkafka response code, with optional context prepended.
    init(_ err: rd_kafka_resp_err_t, context: String? = nil) {
        let code = Code(rawValue: err.rawValue)
        let text = RDKafkaErrorTable.description(of: err.rawValue)
        self.init(code: code, message: context.map { "\($0): \(text)" } ?? text)
    }

    /// An error from an `rd_kafka_error_t`, which carries librdkafka's own retriable/fatal flags.
    /// Destroys `error`.
    init(consuming error: OpaquePointer, context: String? = nil) {
        defer { rd_kafka_error_destroy(error) }
        let code = Code(rawValue: rd_kafka_error_code(error).rawValue)
        let text = rd_kafka_error_string(error).map { String(cString: $0) } ?? code.description
        self.init(
            code: code,
            message: context.map { "\($0): \(text)" } ?? text,
            isRetriable: rd_kafka_error_is_retriable(error) != 0 || code.isRetriable,
            isFatal: rd_kafka_error_is_fatal(error) != 0 || code.isFatal)
    }
}
