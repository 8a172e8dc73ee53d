extension String {
    /// Decodes a NUL-terminated C string that librdkafka wrote into a Swift-owned buffer.
    init(nulTerminated buffer: [CChar]) {
        self = String(decoding: buffer.prefix { $0 != 0 }.lazy.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
