import NIOCore

/// The timeouts of every gateway connection on one event loop, checked by one
/// repeating task instead of a timer per connection and phase.
///
/// A handler notes when its current phase (idle, reading a head, reading a
/// body, waiting for the client to read) began, in this sweeper's coarse
/// time: a request costs no timer and no clock read. Each sweep reads the
/// clock once and lets every connection whose phase is over its limit act
/// (``GatewayHTTPHandler/checkTimeout(now:)``). Since a phase's noted start
/// may be up to one interval before its real one, a phase times out once
/// the sweep sees it over its limit plus one interval: never early, and at
/// most two intervals late.
final class ConnectionSweeper: @unchecked Sendable {
    // Everything below is touched only on `eventLoop`.
    let eventLoop: any EventLoop
    let interval: TimeAmount
    /// The time of the last sweep (or of the sweeper's start).
    private(set) var now: NIODeadline
    private var connections: [ObjectIdentifier: GatewayHTTPHandler] = [:]
    private var task: RepeatedTask?

    init(eventLoop: any EventLoop, interval: TimeAmount) {
        self.eventLoop = eventLoop
        self.interval = interval
        self.now = eventLoop.now
        eventLoop.execute {
            self.task = eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
                self.sweep()
            }
        }
    }

    func add(_ handler: GatewayHTTPHandler) {
        eventLoop.preconditionInEventLoop()
        connections[ObjectIdentifier(handler)] = handler
    }

    func remove(_ handler: GatewayHTTPHandler) {
        eventLoop.preconditionInEventLoop()
        connections[ObjectIdentifier(handler)] = nil
    }

    /// Stops sweeping; the connections still open keep no timeouts.
    func stop() {
        eventLoop.execute {
            self.task?.cancel()
            self.task = nil
            self.connections = [:]
        }
    }

    private func sweep() {
        // The loop's clock: the real one, or a test's embedded loop's.
        now = eventLoop.now
        // A handler that acts may close its connection, which removes it.
        for handler in Array(connections.values) {
            handler.checkTimeout(now: now)
        }
    }
}
