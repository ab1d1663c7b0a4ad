import HarepostProto
import HarepostTime
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// Calls on the wire: starting one on the connection (or queueing it until
/// there is one), the outbox flushed once per event-loop turn, completion by
/// call id, and the deadline sweep.
extension RPCClient {
    enum StartAction {
        case write(any Channel)
        case wait
        case wake(CheckedContinuation<Void, Never>?)
        case fail(RPCError)
    }

    func start(
        id: UInt64,
        request: RPCEnvelope,
        frame: ByteBuffer,
        deadline: ContinuousClock.Instant?,
        finish: @escaping @Sendable (Result<RPCEnvelope, any Error>) -> Void
    ) {
        let action = state.withLockedValue { state -> StartAction in
            switch state.connection {
            case .stopped:
                return .fail(.unavailable("client for \(configuration.endpoint) is not running"))
            case .ready(let channel):
                state.pending[id] = PendingCall(phase: .sent(ObjectIdentifier(channel)), finish: finish)
                return .write(channel)
            case .connecting:
                state.pending[id] = PendingCall(
                    phase: .queued(request, firstAttempt: state.attempts + 1),
                    finish: finish
                )
                return .wait
            case .waiting:
                state.pending[id] = PendingCall(
                    phase: .queued(request, firstAttempt: state.attempts + 1),
                    finish: finish
                )
                state.wakeRequested = true
                defer { state.wake = nil }
                return .wake(state.wake)
            }
        }
        switch action {
        case .fail(let error):
            finish(.failure(Failure.status(error)))
            return
        case .write(let channel):
            write(frame, callID: id, on: channel)
        case .wait:
            break
        case .wake(let wake):
            wake?.resume()
        }
        if let deadline {
            let scheduleSweep = state.withLockedValue { state -> Bool in
                guard state.pending[id] != nil else { return false }
                state.pending[id]?.deadline = deadline
                defer { state.sweepScheduled = true }
                return !state.sweepScheduled
            }
            if scheduleSweep { scheduleDeadlineSweep() }
        }
        if Task.isCancelled {
            complete(id, with: .failure(Failure.status(RPCError(.cancelled, "call cancelled"))))
        }
    }

    /// Queues `frame` and makes sure one flush is scheduled on the event loop:
    /// under load, the calls made while a flush is pending go out together in
    /// one `writev` instead of one system call (and one event-loop hop) each.
    func write(_ frame: ByteBuffer, callID: UInt64, on channel: any Channel) {
        let schedule = state.withLockedValue { state -> Bool in
            state.outbox.append((frame, callID, channel))
            defer { state.flushScheduled = true }
            return !state.flushScheduled
        }
        if schedule {
            channel.eventLoop.execute { self.flushOutbox() }
        }
    }

    func flushOutbox() {
        let frames = state.withLockedValue { state in
            defer {
                state.outbox = []
                state.flushScheduled = false
            }
            return state.outbox
        }
        var channels: [ObjectIdentifier: any Channel] = [:]
        for (frame, callID, channel) in frames {
            channel.write(frame).whenFailure { _ in
                self.complete(callID, with: .failure(Failure.neverSent))
            }
            channels[ObjectIdentifier(channel)] = channel
        }
        for channel in channels.values { channel.flush() }
    }

    /// Ends a call exactly once: whichever of reply, deadline, cancellation or
    /// connection loss comes first wins.
    func complete(_ callID: UInt64, with result: Result<RPCEnvelope, any Error>) {
        guard let call = state.withLockedValue({ $0.pending.removeValue(forKey: callID) }) else { return }
        call.finish(result)
    }

    func scheduleDeadlineSweep() {
        eventLoopGroup.any().scheduleTask(in: .nanoseconds(RPCDeadlines.resolution.nanoseconds)) {
            self.sweepDeadlines()
        }
    }

    /// Ends the calls whose deadline has passed; sweeps again while calls
    /// with deadlines remain.
    func sweepDeadlines() {
        let now = ContinuousClock.now
        let (expired, again) = state.withLockedValue { state -> ([PendingCall], Bool) in
            var expired: [PendingCall] = []
            var waiting = false
            for (id, call) in state.pending {
                guard let deadline = call.deadline else { continue }
                if deadline <= now {
                    expired.append(call)
                    state.pending[id] = nil
                } else {
                    waiting = true
                }
            }
            state.sweepScheduled = waiting
            return (expired, waiting)
        }
        if again { scheduleDeadlineSweep() }
        for call in expired {
            call.finish(.failure(Failure.status(RPCError(.deadlineExceeded, "deadline exceeded"))))
        }
    }
}
