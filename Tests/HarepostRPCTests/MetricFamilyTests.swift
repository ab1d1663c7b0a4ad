import HarepostMetrics
import Synchronization
import Testing

@testable import HarepostRPC

/// A metric that remembers what it was made with.
private final class RecordedMetric: DimensionedMetric {
    let label: String
    let dimensions: [(String, String)]

    init(label: String, dimensions: [(String, String)]) {
        self.label = label
        self.dimensions = dimensions
    }
}

@Suite struct MetricFamilyTests {
    @Test func makesOneMetricPerKeyWithItsRenderedLabelValues() {
        let rendered = Mutex(0)
        let family = MetricFamily<NamedStatus, RecordedMetric>(
            "harepost_test_duration_seconds",
            dimensionNames: ["method", "code"]
        ) { key in
            rendered.withLock { $0 += 1 }
            return [key.name, "\(key.status)"]
        }
        let first = family(NamedStatus("a.B/C", status: 0))
        #expect(first.label == "harepost_test_duration_seconds")
        #expect(first.dimensions.map { "\($0.0)=\($0.1)" } == ["method=a.B/C", "code=0"])
        // The same key finds the same metric without rendering its labels again.
        #expect(family(NamedStatus("a.B/C", status: 0)) === first)
        #expect(rendered.withLock { $0 } == 1)
        // Another code or name is another metric.
        let other = family(NamedStatus("a.B/C", status: 5))
        #expect(other !== first)
        #expect(other.dimensions.map(\.1) == ["a.B/C", "5"])
        #expect(family(NamedStatus("a.B/D", status: 0)) !== first)
        #expect(rendered.withLock { $0 } == 3)
    }
}
