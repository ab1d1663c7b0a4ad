import HarepostRPC
import Testing

@testable import HarepostStore

/// Parsed targets are kept by their text (BoundedCache): a repeated target
/// must give the same answer as the first parse, for every setting.
@Suite("Send validation")
struct SendValidationTests {
    @Test func aRepeatedTargetParsesTheSameAndRejectionsAreNotRemembered() throws {
        let text = "https://Hooks.Example.com:8443/a/b?c=d"
        let first = try SendValidation.target(text, allowHTTP: false)
        let again = try SendValidation.target(text, allowHTTP: false)
        for target in [first, again] {
            #expect(target.url == text)
            #expect(target.host == "hooks.example.com")
            #expect(target.origin == "https://hooks.example.com:8443")
        }
        // One process may allow http and another not: the setting is part of the key.
        let plain = "http://hooks.example.com/x"
        #expect(try SendValidation.target(plain, allowHTTP: true).origin == "http://hooks.example.com")
        for _ in 0..<2 {
            #expect(throws: RPCError.invalidArgument("target must use https")) {
                try SendValidation.target(plain, allowHTTP: false)
            }
            #expect(throws: RPCError.invalidArgument("target must not carry credentials")) {
                try SendValidation.target("https://user:pw@hooks.example.com/", allowHTTP: true)
            }
        }
        let ipv6 = try SendValidation.target("https://[2001:db8::1]:9000/", allowHTTP: false)
        #expect(ipv6.host == "2001:db8::1" && ipv6.origin == "https://[2001:db8::1]:9000")
        #expect(try SendValidation.target("https://[2001:db8::1]:9000/", allowHTTP: false).host == "2001:db8::1")
    }

    @Test func aBoundedCacheStartsOverAtItsCapacity() {
        let cache = BoundedCache<Int, String>(capacity: 3)
        for key in 0..<3 { cache.insert("\(key)", for: key) }
        #expect((0..<3).map { cache[$0] } == ["0", "1", "2"])
        cache.insert("3", for: 3)
        #expect(cache[0] == nil && cache[2] == nil)
        #expect(cache[3] == "3")
    }
}
