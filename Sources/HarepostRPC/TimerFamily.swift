public import CoreMetrics
import NIOConcurrencyHelpers

/// A histogram metric with labels (`method`, `code`, …) whose timers are made
/// once per combination of label values and reused: making a swift-metrics
/// `Timer` asks the backend's registry each time, which a hot path (every
/// RPC, every HTTP request) should not pay.
public final class TimerFamily: Sendable {
    public let label: String
    public let dimensionNames: [String]
    private let timers = NIOLockedValueBox<[[String]: Timer]>([:])

    public init(label: String, dimensionNames: [String]) {
        self.label = label
        self.dimensionNames = dimensionNames
    }

    /// Records `nanoseconds` under the label values `values` (one per dimension name).
    public func record(_ values: [String], nanoseconds: Int64) {
        let timer = timers.withLockedValue { timers in
            if let timer = timers[values] { return timer }
            let timer = Timer(label: label, dimensions: Array(zip(dimensionNames, values)))
            timers[values] = timer
            return timer
        }
        timer.recordNanoseconds(nanoseconds)
    }
}
