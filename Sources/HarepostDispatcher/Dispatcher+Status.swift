import HarepostContracts
public import HarepostRPC
import NIOConcurrencyHelpers

extension Dispatcher {
    /// The `harepost.dispatcher.v1.Dispatcher` service (plus the health check
    /// every RPC server answers).
    public func router() throws -> RPCRouter {
        var router = RPCRouter()
        try router.register(DispatcherV1.Dispatcher.GetStatus.self) { _, _ in
            let statistics = self.statistics.withLockedValue { $0 }
            var response = DispatcherV1.GetStatusResponse()
            response.inFlight = Int64(statistics.inFlight)
            response.maxInFlight = Int64(self.configuration.maximumInFlight)
            response.attemptsDelivered = Int64(statistics.attemptsDelivered)
            response.attemptsFailed = Int64(statistics.attemptsFailed)
            response.pendingRecords = Int64(statistics.pendingRecords)
            response.startedAt = GoogleProtobuf.Timestamp(unixMilliseconds: self.startedAt)
            return response
        }
        return router
    }
}
