import Foundation
import Hummingbird
import ModelsCore
import ServiceKit

/// The REST API under `/api/v1`.
struct ManagementRoutes {
    let store: ManagementStore
    let authenticator: TokenAuthenticator
    /// `VANE_STALE_DAYS`.
    var staleDays = 7

    func add(to router: Router<ManagementContext>) {
        let api = Self.apiGroup(of: router, authentication: TokenMiddleware(authenticator: authenticator))
        addProjects(api)
        addEnvironments(api)
        FlagsController(repository: PostgresFlagRepository(store: store, staleDays: staleDays)).addRoutes(to: api)
        SegmentsController(repository: PostgresSegmentRepository(store: store)).addRoutes(to: api)
        TokensController(repository: PostgresTokenRepository(store: store), revoked: { [authenticator] in authenticator.invalidate() })
            .addRoutes(to: api)
        AuditController(repository: PostgresAuditRepository(store: store)).addRoutes(to: api)
        Self.addEvaluation(api, store: store)
        ExperimentsController(repository: PostgresExperimentRepository(store: store)).addRoutes(to: api)
        FlagInsightsRoutes(store: store, staleDays: staleDays).addRoutes(to: api)
        ReleasesController(repository: PostgresReleaseRepository(store: store)).addRoutes(to: api)
        DashboardAPIRoutes(store: store, staleDays: staleDays).addRoutes(to: api)
    }

    /// `/api/v1` behind `authentication`, the request checks and the domain errors' HTTP answers: the same group for
    /// the service and for the router tests with in-memory repositories.
    static func apiGroup(
        of router: Router<ManagementContext>, authentication: some RouterMiddleware<ManagementContext>
    ) -> RouterGroup<ManagementContext> {
        router.group("api/v1")
            .add(middleware: authentication)
            .add(middleware: RequestInputMiddleware())
            .add(middleware: DomainErrorMiddleware())
    }

    private func body(_ request: Request) async throws -> JSONValue {
        try await JSONBody.parse(request, limit: ManagementContext.bodyLimit)
    }

    private static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        JSONBody.response(value, status: status, headers: headers)
    }

    private static func items(_ values: [JSONValue]) -> Response {
        json(["items": .array(values)])
    }

    // MARK: Projects

    private func addProjects(_ api: RouterGroup<ManagementContext>) {
        api.post("projects") { request, context in
            let actor = try context.require(.admin)
            let properties = try await body(request).requireObject()
            var problems = Problems()
            let key = Self.key(properties["key"], at: "key", into: &problems)
            let name = Self.name(properties["name"], at: "name", into: &problems)
            var environments: [(key: String, name: String)] = [("production", "Production"), ("test", "Test")]
            switch properties["environments"] {
            case nil, .null?: break
            case .array(let list)?:
                environments = []
                for (i, item) in list.enumerated() {
                    guard case .object(let environment) = item else {
                        problems.add("environments[\(i)]", "expected an object {key, name}")
                        continue
                    }
                    let environmentKey = Self.key(environment["key"], at: "environments[\(i)].key", into: &problems)
                    if environments.contains(where: { $0.key == environmentKey }) {
                        problems.add("environments[\(i)].key", "duplicate environment key \"\(environmentKey)\"")
                    }
                    environments.append((environmentKey, Self.name(environment["name"], at: "environments[\(i)].name", into: &problems)))
                }
            case let other?:
                problems.add("environments", "expected an array, found \(other.typeName)")
            }
            try problems.check()
            let (project, created) = try await store.createProject(key: key, name: name, environments: environments, actor: actor)
            guard case .object(var object) = project.json else { return Self.json(project.json) }
            object["environments"] = .array(created.map { $0.json() })
            return Self.json(.object(object), status: .created)
        }
        api.get("projects") { _, context in
            _ = try context.require(.reader)
            return Self.items(try await store.projects().map(\.json))
        }
        api.get("projects/:project") { _, context in
            let identity = try context.require(.reader)
            let key = try context.parameters.require("project")
            let project = try await store.project(key)
            guard case .object(var object) = project.json else { return Self.json(project.json) }
            object["environments"] = .array(try await store.environments(projectKey: key)
                .map { $0.json(revealKeys: identity.role >= .writer) })
            return Self.json(.object(object))
        }
        api.patch("projects/:project") { request, context in
            let actor = try context.require(.admin)
            let properties = try await body(request).requireObject()
            var problems = Problems()
            if let key = properties["key"],
                key != .string(try context.parameters.require("project")) { problems.add("key", "is immutable") }
            let name = Self.name(properties["name"], at: "name", into: &problems)
            try problems.check()
            return Self.json(try await store.updateProject(key: try context.parameters.require("project"), name: name, actor: actor).json)
        }
        api.delete("projects/:project") { _, context in
            let actor = try context.require(.admin)
            try await store.deleteProject(key: try context.parameters.require("project"), actor: actor)
            return Response(status: .noContent)
        }
    }

    // MARK: Environments

    private func addEnvironments(_ api: RouterGroup<ManagementContext>) {
        api.post("projects/:project/environments") { request, context in
            let actor = try context.require(.admin)
            let properties = try await body(request).requireObject()
            var problems = Problems()
            let key = Self.key(properties["key"], at: "key", into: &problems)
            let name = Self.name(properties["name"], at: "name", into: &problems)
            let secureMode = Self.optionalBool(properties["secureMode"], at: "secureMode", into: &problems) ?? false
            try problems.check()
            let environment = try await store.createEnvironment(
                projectKey: try context.parameters.require("project"), key: key, name: name, secureMode: secureMode, actor: actor)
            return Self.json(environment.json(), status: .created)
        }
        api.get("projects/:project/environments") { _, context in
            let identity = try context.require(.reader)
            let environments = try await store.environments(projectKey: try context.parameters.require("project"))
            return Self.items(environments.map { $0.json(revealKeys: identity.role >= .writer) })
        }
        api.get("projects/:project/environments/:environment") { _, context in
            let identity = try context.require(.reader)
            let environment = try await store.environment(
                projectKey: try context.parameters.require("project"), key: try context.parameters.require("environment"))
            return Self.json(environment.json(revealKeys: identity.role >= .writer))
        }
        api.patch("projects/:project/environments/:environment") { request, context in
            let actor = try context.require(.admin)
            let properties = try await body(request).requireObject()
            var problems = Problems()
            if let key = properties["key"],
                key != .string(try context.parameters.require("environment")) { problems.add("key", "is immutable") }
            let name = properties["name"].flatMap { $0.isNull ? nil : Self.name($0, at: "name", into: &problems) }
            let secureMode = Self.optionalBool(properties["secureMode"], at: "secureMode", into: &problems)
            for forbidden in ["sdkKey", "mobileKey", "clientSideId"] where properties[forbidden] != nil {
                problems.add(forbidden, "is managed by the server; rotate keys with POST …/keys/{sdk|mobile}/rotate")
            }
            try problems.check()
            let environment = try await store.updateEnvironment(
                projectKey: try context.parameters.require("project"), key: try context.parameters.require("environment"),
                name: name, secureMode: secureMode, actor: actor)
            return Self.json(environment.json())
        }
        api.delete("projects/:project/environments/:environment") { _, context in
            let actor = try context.require(.admin)
            try await store.deleteEnvironment(
                projectKey: try context.parameters.require("project"), key: try context.parameters.require("environment"), actor: actor)
            return Response(status: .noContent)
        }
        api.post("projects/:project/environments/:environment/keys/:kind/rotate") { request, context in
            let actor = try context.require(.admin)
            let kind = try context.parameters.require("kind")
            guard kind == "sdk" || kind == "mobile" else { throw APIError.notFound("key kind must be sdk or mobile") }
            var problems = Problems()
            var expireAfter = 0
            let bytes = try await JSONBody.bytes(of: request, limit: ManagementContext.bodyLimit)
            if !bytes.isEmpty {
                guard let parsed = try? JSONParser.parse(bytes) else { throw APIError.badRequest("the request body is not valid JSON") }
                let properties = try parsed.requireObject()
                switch properties["expireOldAfterSeconds"] {
                case nil, .null?: break
                case .number(let n)?:
                    if let seconds = JSONValue.exactInteger(n), (0...31_536_000).contains(seconds) {
                        expireAfter = seconds
                    } else {
                        problems.add("expireOldAfterSeconds", "must be an integer number of seconds within 0...31536000")
                    }
                case let other?:
                    problems.add("expireOldAfterSeconds", "expected an integer, found \(other.typeName)")
                }
            }
            try problems.check()
            let environment = try await store.rotateKey(
                projectKey: try context.parameters.require("project"), environmentKey: try context.parameters.require("environment"),
                kind: kind, expireOldAfterSeconds: expireAfter, actor: actor)
            return Self.json(environment.json())
        }
        api.get("projects/:project/environments/:environment/data") { _, context in
            _ = try context.require(.reader)
            let payload = try await store.payload(
                projectKey: try context.parameters.require("project"), environmentKey: try context.parameters.require("environment"))
            return JSONBody.response(payload.jsonBytes)
        }
    }

    // MARK: Field helpers

    private static func key(_ value: JSONValue?, at path: String, into problems: inout Problems) -> String {
        guard case .string(let key)? = value else {
            problems.add(path, value == nil ? "is required" : "expected a string")
            return ""
        }
        if !Identifiers.isValidKey(key) { problems.add(path, "keys must match [A-Za-z0-9._-]{1,256}") }
        return key
    }

    private static func name(_ value: JSONValue?, at path: String, into problems: inout Problems) -> String {
        guard case .string(let name)? = value, !name.isEmpty else {
            problems.add(path, value == nil ? "is required" : "expected a non-empty string")
            return ""
        }
        return name
    }

    private static func optionalBool(_ value: JSONValue?, at path: String, into problems: inout Problems) -> Bool? {
        switch value {
        case nil, .null?: return nil
        case .bool(let b)?: return b
        case let other?:
            problems.add(path, "expected a boolean, found \(other.typeName)")
            return nil
        }
    }
}
