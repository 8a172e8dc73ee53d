import CVaneHash

/// Percentage bucketing: SHA-1 over `prefix.value`, first 15 hex digits as a fraction of
/// `0xFFFFFFFFFFFFFFF`. LaunchDarkly's Go and Python SDKs compute the same buckets; the arithmetic is
/// done in `Double`, as the Python SDK does (Go uses float32; the two can only differ within ~1e-7 of
/// a bucket boundary).
enum Bucketing {
    static let scale = Double(0xFFF_FFFF_FFFF_FFFF as UInt64)
    /// `1 / scale`, exactly: 2⁶⁰ − 1 has 60 significant bits, so as a `Double` it rounds to 2⁶⁰, and dividing by a power
    /// of two is multiplying by its inverse, bit for bit (the division's latency was a tenth of a rollout's bucketing).
    static let inverseScale = 0x1p-60

    /// The bucket in [0, 1] for the hash input `prefix` + `value` (prefix already ends in ".").
    static func bucket(prefix: [UInt8], value: String) -> Double {
        var value = value
        return value.withUTF8 { valueBytes in
            prefix.withUnsafeBufferPointer { prefixBytes in
                Double(SHA1.leading60Bits(prefixBytes, valueBytes)) * inverseScale
            }
        }
    }

    /// The bucket for an integer attribute, hashed as its base-10 form.
    static func bucket(prefix: [UInt8], value: Int) -> Double {
        bucket(prefix: prefix, value: String(value))
    }
}

/// SHA-1 of the concatenation of two byte strings (the C kernel in `CVaneHash`; see there why).
enum SHA1 {
    /// The first 15 hex digits of the digest as an integer.
    static func leading60Bits(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> UInt64 {
        let digest = hash(a, b)
        return UInt64(digest.0) << 28 | UInt64(digest.1 >> 4)
    }

    /// The digest as five words, most significant first.
    static func hash(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> (UInt32, UInt32, UInt32, UInt32, UInt32) {
        var digest: (UInt32, UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &digest) { words in
            vane_sha1_concat(a.baseAddress, a.count, b.baseAddress, b.count, words.baseAddress!.assumingMemoryBound(to: UInt32.self))
        }
        return digest
    }
}
