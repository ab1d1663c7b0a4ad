public import CoreMetrics
public import NIOConcurrencyHelpers

/// A labelled metric (`method`, `code`, …) whose instances are made once per
/// combination of label values and reused: making a swift-metrics `Timer` or
/// `Counter` asks the backend's registry each time, which a hot path (every
/// RPC, every HTTP request, every delivery attempt) should not pay.
///
/// Instances are found by a `Key` the caller chooses, and the label values
/// are rendered from it only when an instance is made: a key such as an RPC
/// method and its status code hashes one string and one integer, instead of
/// an array of label strings allocated, rendered and hashed on every call.
public final class MetricFamily<Key: Hashable & Sendable, Metric: DimensionedMetric>: Sendable {
    public let label: String
    public let dimensionNames: [String]
    @usableFromInline let labelValues: @Sendable (Key) -> [String]
    @usableFromInline let metrics = NIOLockedValueBox<[Key: Metric]>([:])

    /// - Parameter labelValues: the label values of a key, one per dimension name.
    public init(_ label: String, dimensionNames: [String], labelValues: @escaping @Sendable (Key) -> [String]) {
        self.label = label
        self.dimensionNames = dimensionNames
        self.labelValues = labelValues
    }

    /// The metric for `key`. Inlinable, so that a caller in another module
    /// gets it specialized for its key and metric types.
    @inlinable
    public func callAsFunction(_ key: Key) -> Metric {
        metrics.withLockedValue { metrics in
            if let metric = metrics[key] { return metric }
            let values = labelValues(key)
            precondition(values.count == dimensionNames.count, "\(label) has \(dimensionNames.count) dimensions")
            let metric = Metric(label: label, dimensions: Array(zip(dimensionNames, values)))
            metrics[key] = metric
            return metric
        }
    }
}

/// A swift-metrics type made from a label and its dimensions (`Timer`, `Counter`).
public protocol DimensionedMetric: Sendable {
    init(label: String, dimensions: [(String, String)])
}

extension Timer: DimensionedMetric {}
extension Counter: DimensionedMetric {}

/// A metric instance's key of a name (a method, a route) and a status code:
/// the key of every RPC and HTTP request metric.
public struct NamedStatus: Hashable, Sendable {
    public var name: String
    public var status: Int

    public init(_ name: String, status: Int) {
        self.name = name
        self.status = status
    }
}
