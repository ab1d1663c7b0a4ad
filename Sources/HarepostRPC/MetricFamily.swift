public import CoreMetrics
import NIOConcurrencyHelpers

/// A labelled metric (`method`, `code`, …) whose instances are made once per
/// combination of label values and reused: making a swift-metrics `Timer` or
/// `Counter` asks the backend's registry each time, which a hot path (every
/// RPC, every HTTP request, every delivery attempt) should not pay.
public final class MetricFamily<Metric: Sendable>: Sendable {
    public let label: String
    public let dimensionNames: [String]
    private let make: @Sendable (_ label: String, _ dimensions: [(String, String)]) -> Metric
    private let metrics = NIOLockedValueBox<[[String]: Metric]>([:])

    public init(
        label: String,
        dimensionNames: [String],
        make: @escaping @Sendable (_ label: String, _ dimensions: [(String, String)]) -> Metric
    ) {
        self.label = label
        self.dimensionNames = dimensionNames
        self.make = make
    }

    /// The metric for the label values `values` (one per dimension name).
    public func callAsFunction(_ values: [String]) -> Metric {
        metrics.withLockedValue { metrics in
            if let metric = metrics[values] { return metric }
            let metric = make(label, Array(zip(dimensionNames, values)))
            metrics[values] = metric
            return metric
        }
    }
}

extension MetricFamily where Metric == Timer {
    public convenience init(timer label: String, dimensionNames: [String]) {
        self.init(label: label, dimensionNames: dimensionNames) { Timer(label: $0, dimensions: $1) }
    }
}

extension MetricFamily where Metric == Counter {
    public convenience init(counter label: String, dimensionNames: [String]) {
        self.init(label: label, dimensionNames: dimensionNames) { Counter(label: $0, dimensions: $1) }
    }
}
