import HTTPTypes
import ModelsCore

/// SDK credentials as LaunchDarkly's SDKs send them, and their stored form.
public enum Credentials {
    /// The credential of an `Authorization` header as LaunchDarkly's Relay reads it: the raw value,
    /// with an optional `api_key ` prefix (older mobile SDKs) or `Bearer ` prefix (OFREP) removed;
    /// nil if empty or still containing a space.
    public static func fromAuthorization(_ value: String?) -> String? {
        guard var value, !value.isEmpty else { return nil }
        for prefix in ["api_key ", "Bearer ", "bearer "] where value.hasPrefix(prefix) {
            value.removeFirst(prefix.count)
            break
        }
        value = value.trimmingSpaces()
        guard !value.isEmpty, !value.contains(" ") else { return nil }
        return value
    }

    /// Lowercase hex SHA-256, how credentials are compared and stored.
    public static func hash(_ credential: String) -> String { SHA256.hexHash(credential) }
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return String(s)
    }
}
