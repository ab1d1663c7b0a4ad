import ArgumentParser
import Foundation
import HarepostPostgres
import Logging

/// Where a component keeps its data when not in the embedded SQLite file.
struct DatabaseOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "PostgreSQL instead of SQLite (also HAREPOST_DATABASE_URL). No password in it: see --database-password-file.",
            valueName: "postgres://user@host:port/database?sslmode=…"
        )
    )
    var database: String?

    @Option(help: "File whose first line is the database password (else HAREPOST_DATABASE_PASSWORD).")
    var databasePasswordFile: String?

    @Option(help: "Most connections this process opens to the database (1-1000).")
    var databasePoolSize: Int = 10

    /// The PostgreSQL settings, or nil for SQLite.
    func settings(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> PostgresSettings? {
        guard let url = database ?? environment["HAREPOST_DATABASE_URL"] else { return nil }
        do {
            return try PostgresSettings(
                url: url,
                password: try PostgresSettings.password(file: databasePasswordFile, environment: environment),
                maximumConnections: databasePoolSize
            )
        } catch let error as PostgresSettings.InvalidURL {
            throw ValidationError("--database: \(error.description)")
        } catch {
            throw ValidationError("--database-password-file: \(error)")
        }
    }

    /// The component's PostgreSQL (its pool and migrations), or nil for SQLite.
    func backend(component: String, migrations: [PostgresMigration], logger: Logger) throws -> PostgresBackend? {
        guard let settings = try settings() else { return nil }
        return try PostgresBackend(
            settings: settings,
            component: component,
            migrations: migrations,
            logger: logger
        )
    }
}
