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

    /// Targets libcurl cannot use are refused at send time, with curl's
    /// reason, instead of accepted and dead-lettered by the dispatcher.
    @Test(arguments: [
        ("http://127.0.0.1:99999/", "Port number was not a decimal number between 0 and 65535"),
        ("https://your-app.com/a\r\nX-Injected: 1", "Bad path"),
        ("https://your-app.com/a b", "Bad path"),
        ("http://%00/", "Bad hostname"),
        ("https://your-app.com\u{0}.evil.com/", "URL contains U+0000"),
        ("your-app.com/hook", "Bad scheme"),
        ("https://", "No host part in the URL"),
    ])
    func targetsCurlCannotUseAreRefused(target: String, reason: String) {
        #expect(throws: RPCError.invalidArgument("target is not a valid URL: \(reason)")) {
            try SendValidation.target(target, allowHTTP: true)
        }
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
