import Foundation
import HarepostProto

/// The health method every server answers.
enum RPCHealth {
    static let checkPath = "harepost.rpc.v1.Health/Check"

    static func response(
        component: String,
        version: String,
        draining: Bool,
        serving: Bool = true,
        inFlight: Int
    ) -> ProtoMessage {
        var response = try! ProtoMessage("harepost.rpc.v1.HealthCheckResponse")
        try! response.set("status", enumName: draining ? "draining" : serving ? "serving" : "not_serving")
        try! response.set("component", .string(component))
        try! response.set("version", .string(version))
        try! response.set("in_flight", .uint64(UInt64(max(0, inFlight))))
        try! response.set("pid", .int32(getpid()))
        return response
    }
}

/// The version every component reports.
public enum HarepostRPCVersion {
    public static let current = "0.1.0"
}
