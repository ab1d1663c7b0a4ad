import HarepostTestSupport
import Logging
import PostgresNIO
import ServiceLifecycle
import Testing

@testable import HarepostPostgres

@Suite("PostgreSQL: settings, migrations, unavailability")
struct PostgresBackendTests {
    static let logger = Logger(label: "test.postgres")

    static let migrations = [
        PostgresMigration(version: 1, name: "things", statements: ["CREATE TABLE things (id BIGINT PRIMARY KEY)"]),
        PostgresMigration(version: 2, name: "more-things", statements: ["ALTER TABLE things ADD COLUMN name TEXT"]),
    ]

    @Test func settingsComeFromTheURLAndNeverShowAPassword() throws {
        let settings = try PostgresSettings(
            url: "postgres://hp@db.internal:6432/harepost?sslmode=verify-full&sslrootcert=/etc/ca.pem",
            password: "s3cret"
        )
        #expect(settings.host == "db.internal" && settings.port == 6432 && settings.database == "harepost")
        #expect(settings.tls == .verifyFull && settings.rootCertificatePath == "/etc/ca.pem")
        #expect(!"\(settings)".contains("s3cret"))
        let socket = try PostgresSettings(url: "postgres://hp@localhost/harepost?host=/run/postgresql", password: nil)
        #expect(socket.host == "/run/postgresql" && socket.tls == .disable)
        for (url, complaint) in [
            ("postgres://hp:pw@db/harepost", "must not carry a password"),
            ("mysql://hp@db/harepost", "expected postgres://"),
            ("postgres://db/harepost", "names no user"),
            ("postgres://hp@db/", "names no database"),
            ("postgres://hp@db/harepost?sslmode=maybe", "sslmode must be one of"),
            ("postgres://hp@db/harepost?pool=3", "unknown URL parameter pool"),
        ] {
            do {
                _ = try PostgresSettings(url: url, password: nil)
                Issue.record("\(url) was accepted")
            } catch {
                #expect(error.description.contains(complaint), "\(url): \(error)")
                #expect(!error.description.contains(":pw@"))
            }
        }
        #expect(try PostgresSettings.password(file: nil, environment: ["HAREPOST_DATABASE_PASSWORD": "x"]) == "x")
    }

    /// Three processes' worth of databases starting at once apply each
    /// migration once, and a restart applies nothing again.
    @Test func concurrentStartsApplyEachMigrationOnce() async throws {
        try await PostgresServer.with { server in
            let url = try await server.createDatabase("migrations")
            let settings = try PostgresSettings(url: url, password: nil)
            let databases = try (0..<3).map { _ in
                try PostgresBackend(
                    settings: settings,
                    component: "test",
                    migrations: Self.migrations,
                    logger: Self.logger
                )
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for database in databases { group.addTask { try await database.run() } }
                for database in databases { try await database.ready() }
                group.cancelAll()
            }
            #expect(try await server.psql("SELECT count(*) FROM harepost_migrations", database: "migrations") == "2")
            #expect(
                try await server.psql(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = 'things' ORDER BY 1",
                    database: "migrations"
                )
                    == "id\nname"
            )
        }
    }

    /// A database that goes away: calls are UNAVAILABLE within the wait,
    /// promptly once known to be away, and served again when it is back.
    @Test func aDatabaseThatIsDownIsUnavailableNotAHang() async throws {
        try await PostgresServer.with(.ownServer) { server in
            let settings = try PostgresSettings(url: server.url(), password: nil)
            let database = try PostgresBackend(
                settings: settings,
                component: "test",
                migrations: Self.migrations,
                connectionWait: .seconds(2),
                logger: Self.logger
            )
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await database.run() }
                try await database.ready()
                #expect(
                    try await database.withConnection {
                        try await $0.query("SELECT 1", logger: Self.logger).collect().count
                    } == 1
                )
                try await server.stop()
                var errors: [any Error] = []
                // A pooled connection may need one failed query to notice.
                for _ in 0..<5 {
                    do {
                        _ = try await database.withConnection {
                            try await $0.query("SELECT 1", logger: Self.logger).collect()
                        }
                    } catch {
                        errors.append(error)
                    }
                }
                #expect(errors.count == 5)
                #expect(errors.allSatisfy { PostgresFailure.storageReason($0) != nil }, "\(errors)")
                // After one call waited the full bound in vain, the next wait only briefly.
                let descriptions = errors.map { "\($0)" }
                let firstTimeout = try #require(
                    descriptions.firstIndex { $0 == "no database connection within 2.0 seconds" },
                    "\(descriptions)"
                )
                #expect(
                    descriptions[(firstTimeout + 1)...].allSatisfy {
                        $0 == "no database connection within 0.25 seconds"
                    },
                    "\(descriptions)"
                )
                try await server.start()
                var answered = false
                for _ in 0..<100 where !answered {
                    answered =
                        (try? await database.withConnection {
                            try await $0.query("SELECT 1", logger: Self.logger).collect().count
                        }) == 1
                    if !answered { try await Task.sleep(for: .milliseconds(50)) }
                }
                #expect(answered)
                group.cancelAll()
            }
        }
    }
}
