/// Percentage bucketing: SHA-1 over `prefix.value`, first 15 hex digits as a fraction of
/// `0xFFFFFFFFFFFFFFF`. LaunchDarkly's Go and Python SDKs compute the same buckets; the arithmetic is
/// done in `Double`, as the Python SDK does (Go uses float32; the two can only differ within ~1e-7 of
/// a bucket boundary).
enum Bucketing {
    static let scale = Double(0xFFF_FFFF_FFFF_FFFF as UInt64)

    /// The bucket in [0, 1] for the hash input `prefix` + `value` (prefix already ends in ".").
    static func bucket(prefix: [UInt8], value: String) -> Double {
        var value = value
        return value.withUTF8 { valueBytes in
            prefix.withUnsafeBufferPointer { prefixBytes in
                Double(SHA1.leading60Bits(prefixBytes, valueBytes)) / scale
            }
        }
    }

    /// The bucket for an integer attribute, hashed as its base-10 form.
    static func bucket(prefix: [UInt8], value: Int) -> Double {
        bucket(prefix: prefix, value: String(value))
    }
}

/// SHA-1 of the concatenation of two byte strings, returning only the leading 60 bits, without
/// heap allocation (the padded message is built on the stack).
enum SHA1 {
    static func leading60Bits(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> UInt64 {
        let digest = hash(a, b)
        return UInt64(digest.0) << 28 | UInt64(digest.1 >> 4)
    }

    /// The full digest as five big-endian words.
    static func hash(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> (UInt32, UInt32, UInt32, UInt32, UInt32) {
        let length = a.count + b.count
        let paddedLength = (length + 9 + 63) / 64 * 64
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: paddedLength) { message in
            var i = 0
            for byte in a { message[i] = byte; i += 1 }
            for byte in b { message[i] = byte; i += 1 }
            message[i] = 0x80
            i += 1
            while i < paddedLength - 8 { message[i] = 0; i += 1 }
            let bitLength = UInt64(length) &* 8
            for k in 0..<8 { message[paddedLength - 1 - k] = UInt8(truncatingIfNeeded: bitLength >> (8 * UInt64(k))) }

            var h0: UInt32 = 0x6745_2301
            var h1: UInt32 = 0xEFCD_AB89
            var h2: UInt32 = 0x98BA_DCFE
            var h3: UInt32 = 0x1032_5476
            var h4: UInt32 = 0xC3D2_E1F0
            withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 16) { w in
                var blockStart = 0
                while blockStart < paddedLength {
                    for t in 0..<16 {
                        let o = blockStart + t * 4
                        w[t] = UInt32(message[o]) << 24 | UInt32(message[o + 1]) << 16
                            | UInt32(message[o + 2]) << 8 | UInt32(message[o + 3])
                    }
                    var a = h0, b = h1, c = h2, d = h3, e = h4
                    for t in 0..<80 {
                        let s = t & 15
                        if t >= 16 {
                            let x = w[(s + 13) & 15] ^ w[(s + 8) & 15] ^ w[(s + 2) & 15] ^ w[s]
                            w[s] = x << 1 | x >> 31
                        }
                        let f: UInt32
                        let k: UInt32
                        switch t {
                        case 0..<20:
                            f = (b & c) | (~b & d)
                            k = 0x5A82_7999
                        case 20..<40:
                            f = b ^ c ^ d
                            k = 0x6ED9_EBA1
                        case 40..<60:
                            f = (b & c) | (b & d) | (c & d)
                            k = 0x8F1B_BCDC
                        default:
                            f = b ^ c ^ d
                            k = 0xCA62_C1D6
                        }
                        let temp = (a << 5 | a >> 27) &+ f &+ e &+ k &+ w[s]
                        e = d
                        d = c
                        c = b << 30 | b >> 2
                        b = a
                        a = temp
                    }
                    h0 = h0 &+ a
                    h1 = h1 &+ b
                    h2 = h2 &+ c
                    h3 = h3 &+ d
                    h4 = h4 &+ e
                    blockStart += 64
                }
            }
            return (h0, h1, h2, h3, h4)
        }
    }
}
