import Foundation
import HarepostProto
import HarepostTime
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// Calls in flight, per server and per connection: what health reports, what
/// a graceful shutdown waits for, and when a draining connection may close.
extension RPCServer {
    func beginCall(on connection: ObjectIdentifier, channel: any Channel) -> Bool {
        state.withLockedValue { state in
            guard !state.draining else { return false }
            state.connections[connection, default: Connection(channel: channel)].inFlight += 1
            state.inFlight += 1
            RPCMetrics.recordServerInFlight(state.inFlight)
            return true
        }
    }

    /// Counts an immediate call in flight; false while draining.
    func beginImmediateCall() -> Bool {
        state.withLockedValue { state in
            guard !state.draining else { return false }
            state.inFlight += 1
            return true
        }
    }

    func endImmediateCalls(_ count: Int) {
        state.withLockedValue { $0.inFlight -= count }
    }

    func endCall(on connection: ObjectIdentifier, count: Int = 1) {
        let idleWhileDraining = state.withLockedValue { state -> (any Channel)? in
            state.inFlight -= count
            RPCMetrics.recordServerInFlight(state.inFlight)
            guard var entry = state.connections[connection] else { return nil }
            entry.inFlight -= count
            state.connections[connection] = entry
            return state.draining && entry.inFlight == 0 ? entry.channel : nil
        }
        idleWhileDraining?.close(promise: nil)
    }
}
