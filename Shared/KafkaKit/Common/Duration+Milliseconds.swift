extension Duration {
    /// The duration in whole milliseconds, clamped to librdkafka's `int` timeouts.
    var clampedMilliseconds: Int32 {
        let (seconds, attoseconds) = self.components
        let milliseconds = seconds * 1000 + attoseconds / 1_000_000_000_000_000
        return Int32(clamping: max(0, milliseconds))
    }
}
