import HarepostContracts

/// The ids of the `destinations` and `connections` rows each send refers to,
/// kept in memory by both engines: a send otherwise looks both up by tenant
/// and origin. Rows of those tables are never updated or deleted (by any
/// store sharing the database), and an entry is added only after the
/// transaction that wrote or read its rows committed, so an id here always
/// names a committed row.
final class DestinationLinks: Sendable {
    struct Key: Hashable, Sendable {
        let accountID: String
        let environment: AuthV1.Environment
        let origin: String
    }

    struct IDs: Sendable {
        let destinationID: String
        let connectionID: String
    }

    /// Past this many entries the map starts over (a bound on memory, not a
    /// limit on tenants: a miss only costs the two lookups).
    static let capacity = 100_000
    private let ids = BoundedCache<Key, IDs>(capacity: capacity)

    subscript(key: Key) -> IDs? {
        ids[key]
    }

    /// Call only once the transaction that found or wrote these ids has committed.
    func remember(_ value: IDs, for key: Key) {
        ids.insert(value, for: key)
    }
}
