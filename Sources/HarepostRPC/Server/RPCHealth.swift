import Foundation
import HarepostContracts

/// The health method every server answers.
enum RPCHealth {
    typealias Check = RPCV1.Health.Check

    static func response(
        component: String,
        version: String,
        draining: Bool,
        serving: Bool = true,
        inFlight: Int
    ) -> RPCV1.HealthCheckResponse {
        var response = RPCV1.HealthCheckResponse()
        response.status = draining ? .draining : serving ? .serving : .notServing
        response.component = component
        response.version = version
        response.inFlight = UInt64(max(0, inFlight))
        response.pid = getpid()
        return response
    }
}

/// The version every component reports.
public enum HarepostRPCVersion {
    public static let current = "0.1.0"
}
