import CVaneHash

/// SHA-256 and HMAC-SHA256, with HMAC key states that can be shared without the key.
///
/// LaunchDarkly's secure mode hash is HMAC-SHA256 keyed with the SDK key, so whoever checks it needs
/// the key — or, equivalently, the two SHA-256 states after absorbing the padded key XOR ipad/opad.
/// Management-api publishes those states in the environment record; relays verify secure-mode hashes
/// with them, while the SDK key itself (which authenticates server-side SDKs) never leaves PostgreSQL.
public enum SHA256 {
    static let initialState: [UInt32] = [
        0x6a09_e667, 0xbb67_ae85, 0x3c6e_f372, 0xa54f_f53a, 0x510e_527f, 0x9b05_688c, 0x1f83_d9ab, 0x5be0_cd19,
    ]

    /// The SHA-256 digest of `bytes`.
    public static func hash(_ bytes: some Collection<UInt8>) -> [UInt8] {
        finish(state: initialState, absorbed: 0, tail: Array(bytes))
    }

    /// Lowercase hex of the SHA-256 digest of `text`'s UTF-8 bytes.
    public static func hexHash(_ text: String) -> String { hex(hash(Array(text.utf8))) }

    /// Completes a hash whose state has absorbed `absorbed` bytes (a multiple of 64) by `tail`.
    static func finish(state: [UInt32], absorbed: Int, tail: [UInt8]) -> [UInt8] {
        var state = state
        var message = tail
        let bitLength = UInt64(absorbed + tail.count) * 8
        message.append(0x80)
        while message.count % 64 != 56 { message.append(0) }
        for shift in stride(from: 56, through: 0, by: -8) { message.append(UInt8(truncatingIfNeeded: bitLength >> UInt64(shift))) }
        state.withUnsafeMutableBufferPointer { s in
            message.withUnsafeBufferPointer { m in vane_sha256_compress(s.baseAddress, m.baseAddress, m.count / 64) }
        }
        return bigEndianBytes(state)
    }

    static func bigEndianBytes(_ words: [UInt32]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(words.count * 4)
        for word in words {
            bytes.append(UInt8(truncatingIfNeeded: word >> 24))
            bytes.append(UInt8(truncatingIfNeeded: word >> 16))
            bytes.append(UInt8(truncatingIfNeeded: word >> 8))
            bytes.append(UInt8(truncatingIfNeeded: word))
        }
        return bytes
    }

    /// Lowercase hexadecimal.
    public static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Bytes from hexadecimal, or nil.
    public static func bytes(hex: String) -> [UInt8]? {
        let chars = Array(hex.utf8)
        guard chars.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(chars.count / 2)
        for i in stride(from: 0, to: chars.count, by: 2) {
            guard let high = hexValue(chars[i]), let low = hexValue(chars[i + 1]) else { return nil }
            out.append(high << 4 | low)
        }
        return out
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// The precomputed inner and outer SHA-256 states of an HMAC-SHA256 key: enough to compute
/// `HMAC(key, message)` for any message, without the key.
public struct HMACKeyState: Sendable, Hashable {
    let inner: [UInt32]
    let outer: [UInt32]

    /// The states of `key` (keys longer than 64 bytes are hashed first, as HMAC specifies).
    public init(key: [UInt8]) {
        var block = key.count > 64 ? SHA256.hash(key) : key
        block += [UInt8](repeating: 0, count: 64 - block.count)
        func absorb(_ pad: UInt8) -> [UInt32] {
            var state = SHA256.initialState
            let padded = block.map { $0 ^ pad }
            state.withUnsafeMutableBufferPointer { s in
                padded.withUnsafeBufferPointer { p in vane_sha256_compress(s.baseAddress, p.baseAddress, 1) }
            }
            return state
        }
        inner = absorb(0x36)
        outer = absorb(0x5c)
    }

    /// The states of a text key's UTF-8 bytes.
    public init(key: String) { self.init(key: Array(key.utf8)) }

    /// HMAC-SHA256 of `message`.
    public func authenticationCode(_ message: some Collection<UInt8>) -> [UInt8] {
        let innerDigest = SHA256.finish(state: inner, absorbed: 64, tail: Array(message))
        return SHA256.finish(state: outer, absorbed: 64, tail: innerDigest)
    }

    /// Lowercase hex of HMAC-SHA256 of `message`'s UTF-8 bytes.
    public func hexAuthenticationCode(_ message: String) -> String {
        SHA256.hex(authenticationCode(Array(message.utf8)))
    }

    /// The states as 128 hex digits (inner then outer), for the environment record.
    public var hex: String {
        SHA256.hex(SHA256.bigEndianBytes(inner + outer))
    }

    /// States from ``hex``, or nil.
    public init?(hex: String) {
        guard let bytes = SHA256.bytes(hex: hex), bytes.count == 64 else { return nil }
        var words: [UInt32] = []
        for i in stride(from: 0, to: 64, by: 4) {
            var word: UInt32 = 0
            for byte in bytes[i..<(i + 4)] { word = word << 8 | UInt32(byte) }
            words.append(word)
        }
        inner = Array(words[0..<8])
        outer = Array(words[8..<16])
    }
}
