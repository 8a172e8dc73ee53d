import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import ModelsCore
import PostgresNIO
import PostgresSupport
import ServiceKit
import Testing
import TestSupport

@testable import ManagementAPI

/// docs/openapi.yaml against the router management-api runs: every registered `/api/v1` route is documented, and
/// every documented operation is registered. Builds the router as the app does; no process, no database.
@Suite("contract: the OpenAPI document and the router")
struct ContractTests {
    /// Routes outside `/api/v1` that are deliberately not part of the REST contract.
    static let undocumented: Set<String> = ["GET /healthz", "GET /readyz", "GET /metrics", "GET /", "HEAD /"]
    /// Prefixes outside `/api/v1` that are not part of it either: the dashboard's static files (`/` redirects there).
    static let undocumentedPrefixes = ["/ui"]

    static func router() throws -> Router<ManagementContext> {
        let logger = Logger(label: "contract-test")
        let database = try DatabaseSettings(url: "postgres://vane@127.0.0.1:1/vane?sslmode=disable")
        // Never run: building the router opens no connection.
        let client = PostgresClient(
            configuration: database.clientConfiguration(maximumConnections: 1, minimumConnections: 0), backgroundLogger: logger)
        return ManagementApplication.makeRouter(
            store: ManagementStore(client: client, logger: logger),
            availability: DatabaseAvailability(database: database, logger: logger),
            metrics: ServiceMetrics(), staleDays: 7,
            dashboard: DashboardFiles(files: [:], index: nil, version: "none", folder: nil), logger: logger)
    }

    static func document() throws -> JSONValue { try JSONParser.parse(APIContract.documentBytes) }

    /// `METHOD /path` of every operation in the document (paths relative to the server URL `/api/v1`).
    static func documentedOperations() throws -> Set<String> {
        let methods = ["get", "put", "post", "delete", "patch", "head", "options", "trace"]
        guard case .object(let paths)? = try document()["paths"] else { return [] }
        var operations: Set<String> = []
        for (path, item) in paths {
            guard case .object(let members) = item else { continue }
            for method in methods where members[method] != nil { operations.insert("\(method.uppercased()) \(path)") }
        }
        return operations
    }

    @Test("every registered /api/v1 route is in docs/openapi.yaml, and every operation there is registered")
    func routesMatchTheDocument() throws {
        var registered: Set<String> = []
        var outside: [String] = []
        for route in try Self.router().routes {
            let path = route.path.description
            if path.hasPrefix("/api/v1/") {
                registered.insert("\(route.method.rawValue) \(path.dropFirst("/api/v1".count))")
            } else if !Self.undocumented.contains("\(route.method.rawValue) \(path)")
                && !Self.undocumentedPrefixes.contains(where: { path == $0 || path.hasPrefix($0 + "/") })
            {
                outside.append("\(route.method.rawValue) \(path)")
            }
        }
        let documented = try Self.documentedOperations()
        #expect(registered.count >= 39, "the router lists its routes (found \(registered.count))")
        #expect(registered.subtracting(documented).sorted() == [], "registered but missing from docs/openapi.yaml")
        #expect(documented.subtracting(registered).sorted() == [], "in docs/openapi.yaml but not registered")
        #expect(outside.sorted() == [], "routes outside /api/v1 must be listed in ContractTests.undocumented")
    }

    @Test("every operation names its role, has an operationId, and answers errors with the shared shape")
    func operationsAreComplete() throws {
        guard case .object(let paths)? = try Self.document()["paths"] else { Issue.record("no paths"); return }
        var operationIDs: Set<String> = []
        for (path, item) in paths {
            guard case .object(let members) = item else { continue }
            for (method, operation) in members where ["get", "put", "post", "delete", "patch"].contains(method) {
                let name = "\(method.uppercased()) \(path)"
                let role = operation["x-vane-role"]?.stringValue
                let open = path == "/openapi.json"
                #expect(open ? role == "none" : ["reader", "writer", "admin"].contains(role ?? ""), "\(name): x-vane-role")
                if let id = operation["operationId"]?.stringValue {
                    #expect(operationIDs.insert(id).inserted, "\(name): operationId \(id) is used twice")
                } else {
                    Issue.record("\(name) has no operationId")
                }
                guard case .object(let responses)? = operation["responses"] else {
                    Issue.record("\(name) has no responses")
                    continue
                }
                let required = open ? ["400"] : ["400", "401", "403", "503"]
                for status in required { #expect(responses[status] != nil, "\(name) does not document \(status)") }
                for (status, response) in responses where status.hasPrefix("4") || status.hasPrefix("5") {
                    #expect(response["$ref"]?.stringValue?.hasPrefix("#/components/responses/") == true, "\(name) \(status): shared error")
                }
            }
        }
    }

    @Test("the served document is docs/openapi.yaml (scripts/openapi-json.py --check)")
    func servedDocumentIsCurrent() async throws {
        let result = try await ChildProcess.run(
            RepositoryPaths.python, [RepositoryPaths.root.appendingPathComponent("scripts/openapi-json.py").path, "--check"])
        #expect(result.status == 0, "\(result.standardOutput)\(result.standardError.suffix(2000))")
    }

    @Test("GET /api/v1/openapi.json needs no token; another method on a known path is 405 with Allow")
    func servedWithoutTokenAndMethodNotAllowed() async throws {
        let app = Application(router: try Self.router())
        try await app.test(.router) { client in
            try await client.execute(uri: "/api/v1/openapi.json", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "application/json")
                let document = try JSONParser.parse(Array(response.body.readableBytesView))
                #expect(document["openapi"]?.stringValue == "3.1.0")
            }
            try await client.execute(uri: "/api/v1/projects", method: .put) { response in
                #expect(response.status == .methodNotAllowed)
                #expect(response.headers[.allow] == "GET, POST")
                #expect((try? JSONParser.parse(Array(response.body.readableBytesView)))?["code"]?.stringValue == "method_not_allowed")
            }
            try await client.execute(uri: "/api/v1/projects/shop/flags/f/environments/production", method: .delete) { response in
                #expect(response.status == .methodNotAllowed)
                #expect(response.headers[.allow] == "GET, PATCH, PUT")
            }
            try await client.execute(uri: "/api/v1/openapi.json", method: .post) { response in
                #expect(response.status == .methodNotAllowed)
                #expect(response.headers[.allow] == "GET")
            }
            try await client.execute(uri: "/api/v1/no-such-thing", method: .get) { response in
                #expect(response.status == .notFound)
                #expect((try? JSONParser.parse(Array(response.body.readableBytesView)))?["code"]?.stringValue == "not_found")
            }
        }
    }

    /// Found by schemathesis: `GET …/results?iteration=29174903569677` reached PostgreSQL (an `integer` column) and
    /// answered 500; a number no iteration can have is now 404.
    @Test("an iteration number beyond PostgreSQL's integer is 404, not a query error")
    func hugeIterationNumber() throws {
        typealias Controller = ExperimentsController<PostgresExperimentRepository>
        #expect(try Controller.iterationNumber("2147483647") == 2_147_483_647)
        #expect(throws: RepositoryError.notFound("iteration 29174903569677 does not exist")) {
            try Controller.iterationNumber("29174903569677")
        }
        do {
            _ = try Controller.iterationNumber("2147483648")
            Issue.record("accepted 2147483648")
        } catch {
            #expect((error as? RepositoryError)?.code == .notFound)
        }
    }
}
