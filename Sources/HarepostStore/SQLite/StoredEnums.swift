import GRDB
import HarepostContracts
import HarepostProto

/// The contract enums the store keeps in TEXT columns, by their JSON names
/// (`dead_letter`): readable in the database and the same words as the API.
protocol StoredEnum: ProtoEnumContract, DatabaseValueConvertible, StatementColumnConvertible {}

extension StoredEnum {
    var databaseValue: DatabaseValue { jsonName.databaseValue }

    static func fromDatabaseValue(_ dbValue: DatabaseValue) -> Self? {
        String.fromDatabaseValue(dbValue).flatMap(Self.init(jsonName:))
    }

    init?(sqliteStatement: SQLiteStatement, index: CInt) {
        self.init(jsonName: String(sqliteStatement: sqliteStatement, index: index))
    }
}

extension StoreV1.DeliveryStatus: StoredEnum {}
extension StoreV1.AttemptOutcome: StoredEnum {}
extension StoreV1.TriggerType: StoredEnum {}
extension StoreV1.Backoff: StoredEnum {}
extension StoreV1.Jitter: StoredEnum {}
extension StoreV1.DomainStatus: StoredEnum {}
extension AuthV1.Environment: StoredEnum {}
