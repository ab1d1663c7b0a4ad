import HarepostProto
public import HarepostRPC
import NIOConcurrencyHelpers

extension Dispatcher {
    /// The `harepost.dispatcher.v1.Dispatcher` service (plus the health check
    /// every RPC server answers).
    public func router() throws -> RPCRouter {
        var router = RPCRouter()
        try router.register("harepost.dispatcher.v1.Dispatcher/GetStatus") { _, _ in
            let statistics = self.statistics.withLockedValue { $0 }
            return try ProtoMessage(
                "harepost.dispatcher.v1.GetStatusResponse",
                [
                    "in_flight": .int64(Int64(statistics.inFlight)),
                    "max_in_flight": .int64(Int64(self.configuration.maximumInFlight)),
                    "attempts_delivered": .int64(Int64(statistics.attemptsDelivered)),
                    "attempts_failed": .int64(Int64(statistics.attemptsFailed)),
                    "pending_records": .int64(Int64(statistics.pendingRecords)),
                    "started_at": .timestamp(unixMilliseconds: self.startedAt),
                ]
            )
        }
        return router
    }
}
