import Foundation
import Testing

@testable import HarepostStore

/// Row ids are time-ordered, so that inserting a row appends to the id index
/// instead of dirtying a random page of it; secrets stay random.
@Suite("Store identifiers")
struct StoreIdentifiersTests {
    static func isWellFormed(_ id: String, prefix: String) -> Bool {
        let body = id.utf8.dropFirst(prefix.utf8.count + 1)
        return id.hasPrefix(prefix + "_") && body.count == 16
            && body.allSatisfy { (48...57).contains($0) || (97...122).contains($0) }
    }

    /// The value of base-36 digits.
    static func value(_ digits: Substring) -> UInt64 {
        digits.reduce(0) { $0 * 36 + UInt64(Int(String($1), radix: 36)!) }
    }

    @Test func formatWritesTwoZeroPaddedBase36NumbersMostSignificantFirst() {
        #expect(StoreIdentifiers.format("hr", 0, 0) == "hr_0000000000000000")
        #expect(StoreIdentifiers.format("att", 35, 36) == "att_0000000z00000010")
        #expect(StoreIdentifiers.format("hr", StoreIdentifiers.span - 1, 1) == "hr_zzzzzzzz00000001")
    }

    @Test func timeOrderedIdsAreWellFormedUniqueAndSortInTheOrderTheyWereMade() {
        let ids = (0..<20_000).map { _ in StoreIdentifiers.timeOrdered("hr") }
        #expect(ids.allSatisfy { Self.isWellFormed($0, prefix: "hr") })
        #expect(ids == ids.sorted())
        #expect(Set(ids).count == ids.count)
    }

    @Test func theTimePartIsMillisecondsSinceTheEpochOf2025() {
        let before = UInt64(Date().timeIntervalSince1970 * 1000)
        let id = StoreIdentifiers.timeOrdered("hr")
        let after = UInt64(Date().timeIntervalSince1970 * 1000)
        let time = Self.value(id.dropFirst(3).prefix(8)) + StoreIdentifiers.epochMilliseconds
        #expect(time + 1 >= before && time <= after + 1)
    }

    @Test func theClockCountsWithinAMillisecondAndWhenTimeStepsBack() {
        var clock = StoreIdentifiers.Clock()
        clock.advance(toMilliseconds: 1_000)
        #expect(clock.time == 1_000 && clock.counter < StoreIdentifiers.span / 2)
        let start = clock.counter
        clock.advance(toMilliseconds: 1_000)
        #expect(clock.time == 1_000 && clock.counter == start + 1)
        clock.advance(toMilliseconds: 400)
        #expect(clock.time == 1_000 && clock.counter == start + 2)
        clock.advance(toMilliseconds: 1_001)
        #expect(clock.time == 1_001)
    }

    @Test func aFullCounterBorrowsTheNextMillisecond() {
        var clock = StoreIdentifiers.Clock(time: 7, counter: StoreIdentifiers.span - 1)
        clock.advance(toMilliseconds: 7)
        #expect(clock.time == 8 && clock.counter == 0)
        clock.advance(toMilliseconds: 8)
        #expect(clock.time == 8 && clock.counter == 1)
    }

    @Test func randomIdsAreWellFormedAndDistinct() {
        let ids = (0..<2_000).map { _ in StoreIdentifiers.random("hv") }
        #expect(ids.allSatisfy { Self.isWellFormed($0, prefix: "hv") })
        #expect(Set(ids).count == ids.count)
        #expect(ids != ids.sorted())
    }
}
