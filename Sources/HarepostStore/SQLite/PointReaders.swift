import GRDB
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Read-only connections for point reads, one per event loop that asks.
///
/// Point reads run on the RPC connection's event loop (the store's immediate
/// handlers). Each loop gets a connection of its own, used only from that
/// loop's thread: a read then takes no checkout from GRDB's reader pool and
/// skips the `PRAGMA schema_version` check the pool runs before every read
/// (together 17% of the store's CPU per lookup, docs/benchmarks.md). Skipping
/// the check is safe because the store's schema only changes in the
/// migrations that run before it serves.
final class PointReaders: Sendable {
    private let path: String
    private let readers = NIOLockedValueBox<[ObjectIdentifier: DatabaseQueue]>([:])

    init(path: String) {
        self.path = path
    }

    /// The calling event loop's connection, opened on first use; nil when
    /// the caller is not on an event loop.
    func current() throws -> DatabaseQueue? {
        guard let loop = MultiThreadedEventLoopGroup.currentEventLoop else { return nil }
        let key = ObjectIdentifier(loop)
        if let reader = readers.withLockedValue({ $0[key] }) { return reader }
        var configuration = Configuration()
        configuration.readonly = true
        let reader = try DatabaseQueue(path: path, configuration: configuration)
        readers.withLockedValue { $0[key] = reader }
        return reader
    }
}
