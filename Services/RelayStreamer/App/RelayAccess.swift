import ConfigFeed
import ModelsCore
import ServiceKit

/// An environment a request was admitted to, and the credential that admitted it.
struct EnvironmentAccess: Sendable {
    let environment: EnvironmentRecord
    let data: EnvironmentData
    /// The SDK or mobile key used (nil for client-side ids, which are public); a stream keeps it so
    /// that it can end when the key expires or is removed.
    let credential: EnvironmentRecord.Credential?
}

/// The admission rules every SDK endpoint shares, streams and plain requests alike: 503 until the
/// relay has caught up with the changelog, then the environment by credential (401 for an unknown
/// SDK or mobile key, 404 for an unknown client-side id, as LaunchDarkly answers).
struct RelayAccess: Sendable {
    let store: RelayStore
    let isReady: @Sendable () -> Bool
    let retryAfterSeconds: Int

    /// 503 with `Retry-After` while the relay is still reading the changelog. Never 401: SDKs back
    /// off for a long time (or for good) on a 401.
    func checkReady() throws(APIError) {
        guard isReady() else {
            throw APIError.serviceUnavailable(
                "the relay is still reading the configuration changelog", retryAfterSeconds: retryAfterSeconds)
        }
    }

    /// The environment of an SDK key (`Authorization: <key>`, `api_key <key>` or `Bearer <key>`).
    func serverSide(authorization: String?, now: Int) throws(APIError) -> EnvironmentAccess {
        try checkReady()
        guard let key = Credentials.fromAuthorization(authorization) else {
            throw APIError.unauthorized("an SDK key is required in the Authorization header")
        }
        return try admit(.sdkKey(key), hash: Credentials.hash(key), now: now, credentials: \.sdkKeys, what: "SDK key")
    }

    /// The environment of a mobile key.
    func mobile(authorization: String?, now: Int) throws(APIError) -> EnvironmentAccess {
        try checkReady()
        guard let key = Credentials.fromAuthorization(authorization) else {
            throw APIError.unauthorized("a mobile key is required in the Authorization header")
        }
        return try admit(.mobileKey(key), hash: Credentials.hash(key), now: now, credentials: \.mobileKeys, what: "mobile key")
    }

    /// The environment of a client-side id (from the URL path); 404 when unknown.
    func clientSide(environmentID: String) throws(APIError) -> EnvironmentAccess {
        try checkReady()
        guard let environment = store.directory.authenticate(.clientSideID(environmentID), now: 0),
            let data = store.data(for: environment.id)
        else {
            throw APIError.notFound("unknown client-side id")
        }
        return EnvironmentAccess(environment: environment, data: data, credential: nil)
    }

    /// 503 with `Retry-After` for a request shed by admission control.
    func overloaded() -> APIError {
        APIError.serviceUnavailable("the relay is busy; retry shortly", retryAfterSeconds: retryAfterSeconds)
    }

    private func admit(
        _ credential: EnvironmentDirectory.Credential, hash: String, now: Int,
        credentials: KeyPath<EnvironmentRecord, [EnvironmentRecord.Credential]>, what: String
    ) throws(APIError) -> EnvironmentAccess {
        guard let environment = store.directory.authenticate(credential, now: now),
            let data = store.data(for: environment.id)
        else {
            throw APIError.unauthorized("unknown or expired \(what)")
        }
        return EnvironmentAccess(
            environment: environment, data: data, credential: environment[keyPath: credentials].first { $0.sha256 == hash })
    }
}
