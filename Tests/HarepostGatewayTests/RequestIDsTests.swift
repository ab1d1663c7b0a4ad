import Testing

@testable import HarepostGateway

@Suite("Request ids")
struct RequestIDsTests {
    @Test func idsAre32HexDigitsAndDistinct() {
        let ids = (0..<10_000).map { _ in RequestIDs.next() }
        #expect(Set(ids).count == ids.count)
        for id in ids.prefix(100) {
            #expect(id.utf8.count == 32)
            #expect(id.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) })
        }
        // One process's ids share the drawn half and differ in the scrambled counter.
        #expect(Set(ids.map { $0.prefix(16) }).count == 1)
    }

    @Test func formattingIsBigEndianHex() {
        #expect(RequestIDs.format(0x0123_4567_89ab_cdef, 0xf) == "0123456789abcdef000000000000000f")
    }

    @Test func scrambleIsSplitMix64() {
        // SplitMix64 seeded with 0 yields this first value.
        #expect(RequestIDs.scramble(0) == 0xE220_A839_7B1D_CDAF)
    }
}
