import HTTPTypes

/// Cross-origin headers for the browser (client-side id) endpoints, as LaunchDarkly's Relay sends
/// them: any origin may read flags, without credentials.
enum CORS {
    /// Request headers browsers may send to the client-side endpoints.
    static let allowedHeaders =
        "Cache-Control,Content-Type,Content-Length,Accept-Encoding,X-LaunchDarkly-User-Agent,"
        + "X-LaunchDarkly-Payload-ID,X-LaunchDarkly-Wrapper,X-LaunchDarkly-Event-Schema,X-LaunchDarkly-Tags"

    /// The headers for a response to `origin` (the request's `Origin`; `*` when absent).
    static func headers(origin: String?, methods: String) -> HTTPFields {
        var fields = HTTPFields()
        fields[.accessControlAllowOrigin] = origin ?? "*"
        fields[.accessControlAllowCredentials] = "false"
        fields[.accessControlMaxAge] = "300"
        fields[.accessControlAllowHeaders] = allowedHeaders
        fields[.accessControlExposeHeaders] = "Date"
        fields[.accessControlAllowMethods] = methods
        if origin != nil { fields[.vary] = "Origin" }
        return fields
    }
}
