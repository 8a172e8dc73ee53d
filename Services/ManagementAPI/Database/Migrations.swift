import Logging
import PostgresNIO

/// The schema, as an ordered list of migrations applied under an advisory lock, so that several
/// replicas starting at once apply each migration exactly once.
enum Migrations {
    /// One migration: statements run in order in one transaction (PostgreSQL's extended protocol
    /// takes one statement per query).
    struct Migration: Sendable {
        let version: Int
        let name: String
        let statements: [String]
    }

    /// Any constant shared by every replica; pg_advisory_xact_lock serializes them on it.
    static let lockID: Int64 = 0x7661_6E65_6D69_6772  // "vanemigr"

    static let all: [Migration] = [
        Migration(version: 1, name: "initial schema", statements: [
            """
            CREATE TABLE api_tokens (
                id uuid PRIMARY KEY,
                name text NOT NULL,
                role text NOT NULL CHECK (role IN ('reader', 'writer', 'admin')),
                secret_sha256 text NOT NULL UNIQUE,
                created_by text NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now()
            )
            """,
            """
            CREATE TABLE projects (
                id uuid PRIMARY KEY,
                key text NOT NULL UNIQUE,
                name text NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now(),
                updated_at timestamptz NOT NULL DEFAULT now()
            )
            """,
            """
            CREATE TABLE environments (
                id uuid PRIMARY KEY,
                project_id uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
                key text NOT NULL,
                name text NOT NULL,
                sdk_key text NOT NULL UNIQUE,
                mobile_key text NOT NULL UNIQUE,
                client_side_id text NOT NULL UNIQUE,
                secure_mode boolean NOT NULL DEFAULT false,
                version integer NOT NULL DEFAULT 1,
                created_at timestamptz NOT NULL DEFAULT now(),
                updated_at timestamptz NOT NULL DEFAULT now(),
                UNIQUE (project_id, key)
            )
            """,
            """
            CREATE TABLE retired_keys (
                key text PRIMARY KEY,
                environment_id uuid NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
                kind text NOT NULL CHECK (kind IN ('sdk', 'mobile')),
                expires_at timestamptz NOT NULL
            )
            """,
            """
            CREATE TABLE flags (
                id uuid PRIMARY KEY,
                project_id uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
                key text NOT NULL,
                settings jsonb NOT NULL,
                salt text NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now(),
                updated_at timestamptz NOT NULL DEFAULT now(),
                UNIQUE (project_id, key)
            )
            """,
            """
            CREATE TABLE flag_targeting (
                flag_id uuid NOT NULL REFERENCES flags (id) ON DELETE CASCADE,
                environment_id uuid NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
                targeting jsonb NOT NULL,
                version integer NOT NULL,
                updated_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (flag_id, environment_id)
            )
            """,
            "CREATE INDEX flag_targeting_environment ON flag_targeting (environment_id)",
            """
            CREATE TABLE segments (
                id uuid PRIMARY KEY,
                environment_id uuid NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
                key text NOT NULL,
                definition jsonb NOT NULL,
                version integer NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now(),
                updated_at timestamptz NOT NULL DEFAULT now(),
                UNIQUE (environment_id, key)
            )
            """,
            """
            CREATE TABLE tombstones (
                environment_id uuid NOT NULL,
                kind text NOT NULL,
                key text NOT NULL,
                version integer NOT NULL,
                PRIMARY KEY (environment_id, kind, key)
            )
            """,
            """
            CREATE TABLE audit_log (
                id bigserial PRIMARY KEY,
                at timestamptz NOT NULL DEFAULT clock_timestamp(),
                actor text NOT NULL,
                action text NOT NULL,
                resource text NOT NULL,
                before jsonb,
                after jsonb,
                comment text
            )
            """,
            "CREATE INDEX audit_log_resource ON audit_log (resource, id DESC)",
            "CREATE INDEX audit_log_at ON audit_log (at)",
            """
            CREATE TABLE outbox (
                id bigserial PRIMARY KEY,
                created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
                environment_id uuid NOT NULL,
                record_key text NOT NULL,
                value bytea NOT NULL,
                sent_at timestamptz
            )
            """,
            "CREATE INDEX outbox_pending ON outbox (id) WHERE sent_at IS NULL",
        ]),
        // The publisher is woken by a trigger rather than a pg_notify round trip per change.
        Migration(version: 2, name: "outbox notification trigger", statements: [
            """
            CREATE FUNCTION vane_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM pg_notify('\(ManagementStore.outboxChannel)', '');
                RETURN NULL;
            END
            $$
            """,
            """
            CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
            FOR EACH STATEMENT EXECUTE FUNCTION vane_outbox_notify()
            """,
        ]),
        // Experiments (docs/experiments.md). The flag is referenced by key: deleting the flag keeps the
        // experiment and its results readable. Iteration times are whole milliseconds, the resolution of
        // the SDKs' creationDate that they are compared with.
        Migration(version: 3, name: "experiments", statements: [
            """
            CREATE TABLE experiments (
                id uuid PRIMARY KEY,
                project_id uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
                key text NOT NULL,
                name text NOT NULL,
                description text NOT NULL DEFAULT '',
                flag_key text NOT NULL,
                environment_id uuid NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
                control_variation integer NOT NULL,
                variation_count integer NOT NULL,
                metrics jsonb NOT NULL,
                traffic_weights jsonb,
                created_at timestamptz NOT NULL DEFAULT now(),
                updated_at timestamptz NOT NULL DEFAULT now(),
                UNIQUE (project_id, key)
            )
            """,
            """
            CREATE TABLE experiment_iterations (
                experiment_id uuid NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
                number integer NOT NULL,
                started_at timestamptz NOT NULL,
                stopped_at timestamptz,
                PRIMARY KEY (experiment_id, number),
                CHECK (stopped_at IS NULL OR stopped_at >= started_at)
            )
            """,
            "CREATE UNIQUE INDEX experiment_iterations_running ON experiment_iterations (experiment_id) WHERE stopped_at IS NULL",
        ]),
        // Releases (docs/releases.md): scheduled targeting changes, progressive rollouts and the scheduler's lease. A
        // guarded rollout owns an internal experiment with one iteration (its window), so that events-processor keeps the
        // rollout's first exposures in analytics.iteration_exposures as it does for any experiment; internal experiments
        // are not listed by the experiments API.
        Migration(version: 4, name: "releases", statements: [
            """
            CREATE TABLE scheduled_changes (
                id uuid PRIMARY KEY,
                flag_id uuid NOT NULL REFERENCES flags (id) ON DELETE CASCADE,
                environment_id uuid NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
                execute_at timestamptz NOT NULL,
                patch jsonb NOT NULL,
                comment text,
                status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'applied', 'failed', 'cancelled')),
                outcome jsonb,
                created_by text NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now(),
                updated_at timestamptz NOT NULL DEFAULT now()
            )
            """,
            "CREATE INDEX scheduled_changes_due ON scheduled_changes (execute_at) WHERE status = 'pending'",
            "CREATE INDEX scheduled_changes_flag ON scheduled_changes (flag_id, environment_id, execute_at)",
            "ALTER TABLE experiments ADD COLUMN internal boolean NOT NULL DEFAULT false",
            """
            CREATE TABLE release_rollouts (
                id uuid PRIMARY KEY,
                flag_id uuid NOT NULL REFERENCES flags (id) ON DELETE CASCADE,
                environment_id uuid NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
                control_variation integer NOT NULL,
                variation integer NOT NULL,
                steps jsonb NOT NULL,
                guard jsonb,
                seed integer NOT NULL,
                status text NOT NULL CHECK (status IN ('running', 'paused', 'completed', 'rolled_back', 'cancelled')),
                step integer NOT NULL,
                step_started_at timestamptz NOT NULL,
                next_step_at timestamptz,
                remaining_ms bigint,
                decision jsonb,
                end_reason text,
                experiment_id uuid REFERENCES experiments (id) ON DELETE SET NULL,
                created_by text NOT NULL,
                started_at timestamptz NOT NULL,
                ended_at timestamptz
            )
            """,
            """
            CREATE UNIQUE INDEX release_rollouts_active ON release_rollouts (flag_id, environment_id)
            WHERE status IN ('running', 'paused')
            """,
            "CREATE INDEX release_rollouts_due ON release_rollouts (next_step_at) WHERE status = 'running'",
            "CREATE INDEX release_rollouts_history ON release_rollouts (flag_id, environment_id, started_at)",
            """
            CREATE TABLE scheduler_leases (
                name text PRIMARY KEY,
                holder text NOT NULL,
                expires_at timestamptz NOT NULL
            )
            """,
        ]),
    ]

    /// Applies every migration not applied yet; safe to run concurrently from several processes.
    static func apply(client: PostgresClient, logger: Logger) async throws {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(lockID))", logger: logger)
            try await connection.query(
                """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version integer PRIMARY KEY,
                    name text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now()
                )
                """, logger: logger)
            var applied: Set<Int> = []
            for try await version in try await connection.query("SELECT version FROM schema_migrations", logger: logger).decode(Int.self) {
                applied.insert(version)
            }
            for migration in all where !applied.contains(migration.version) {
                logger.info("applying migration", metadata: ["version": "\(migration.version)", "name": "\(migration.name)"])
                for statement in migration.statements {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query(
                    "INSERT INTO schema_migrations (version, name) VALUES (\(migration.version), \(migration.name))", logger: logger)
            }
        }
    }
}
