/// What a write requires of the stored resource's version (`If-Match`, `If-None-Match: *`), checked by every repository
/// under the resource's lock: a flag's targeting in an environment, a segment.
struct WritePrecondition: Sendable, Equatable {
    /// `If-Match`: the version the caller read; nil for any (and a PUT may then create the resource).
    var version: Int?
    /// `If-None-Match: *`: only while no resource exists there (a PUT creates, never replaces).
    var absent = false

    /// Refuses (`versionMismatch`, answered 412) a write whose requirement does not hold for the stored version (`stored`,
    /// nil when there is no resource); `subject` names the resource in the message (`segment "beta"`, `the targeting`).
    func check(stored: Int?, subject: @autoclosure () -> String) throws(RepositoryError) {
        if absent, let stored { throw .versionMismatch("\(subject()) already exists (version \(stored))") }
        guard let version else { return }
        guard let stored else { throw .versionMismatch("\(subject()) does not exist, so it is not at version \(version)") }
        if stored != version { throw .versionMismatch("\(subject()) is at version \(stored), not \(version)") }
    }
}
