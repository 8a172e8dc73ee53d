/// What an API token may do. Each role includes the ones below it.
enum Role: String, Codable, Sendable, Comparable, CaseIterable {
    /// Read everything.
    case reader
    /// Also change flags, segments and targeting.
    case writer
    /// Also manage projects, environments, keys and tokens.
    case admin

    private var rank: Int {
        switch self {
        case .reader: 0
        case .writer: 1
        case .admin: 2
        }
    }

    static func < (lhs: Role, rhs: Role) -> Bool { lhs.rank < rhs.rank }
}

/// The authenticated caller of a request; recorded as the actor of audit entries.
struct Identity: Sendable, Hashable {
    var tokenID: String
    var name: String
    var role: Role

    /// How audit entries name the caller: `token:<name>`.
    var actor: String { "token:\(name)" }
}
