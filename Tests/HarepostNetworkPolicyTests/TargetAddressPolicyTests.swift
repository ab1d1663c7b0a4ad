import Testing

@testable import HarepostNetworkPolicy

/// Every range of IANA's special-purpose address registries (IPv4 and IPv6),
/// with the addresses just inside and just outside its edges.
@Suite("Target address policy")
struct TargetAddressPolicyTests {
    /// IPv4: each internal range's first and last address, and its neighbours
    /// outside (public unless they fall in another internal range).
    static let ipv4: [(address: String, isInternal: Bool)] = [
        ("0.0.0.0", true), ("0.255.255.255", true), ("1.0.0.0", false),
        ("9.255.255.255", false), ("10.0.0.0", true), ("10.255.255.255", true), ("11.0.0.0", false),
        ("100.63.255.255", false), ("100.64.0.0", true), ("100.127.255.255", true), ("100.128.0.0", false),
        ("126.255.255.255", false), ("127.0.0.0", true), ("127.0.0.1", true), ("127.255.255.255", true),
        ("128.0.0.0", false),
        ("169.253.255.255", false), ("169.254.0.0", true), ("169.254.169.254", true), ("169.254.255.255", true),
        ("169.255.0.0", false),
        ("172.15.255.255", false), ("172.16.0.0", true), ("172.31.255.255", true), ("172.32.0.0", false),
        ("191.255.255.255", false), ("192.0.0.0", true), ("192.0.0.170", true), ("192.0.0.255", true),
        ("192.0.1.0", false), ("192.0.2.0", true), ("192.0.2.255", true), ("192.0.3.0", false),
        ("192.31.196.1", false),  // AS112, globally reachable
        ("192.52.193.1", false),  // AMT, globally reachable
        ("192.88.98.255", false), ("192.88.99.0", true), ("192.88.99.255", true), ("192.88.100.0", false),
        ("192.167.255.255", false), ("192.168.0.0", true), ("192.168.255.255", true), ("192.169.0.0", false),
        ("192.175.48.1", false),  // AS112 direct delegation, globally reachable
        ("198.17.255.255", false), ("198.18.0.0", true), ("198.19.255.255", true), ("198.20.0.0", false),
        ("198.51.99.255", false), ("198.51.100.0", true), ("198.51.100.255", true), ("198.51.101.0", false),
        ("203.0.112.255", false), ("203.0.113.0", true), ("203.0.113.255", true), ("203.0.114.0", false),
        ("223.255.255.255", false), ("224.0.0.0", true), ("239.255.255.255", true),
        ("240.0.0.0", true), ("255.255.255.254", true), ("255.255.255.255", true),
        ("8.8.8.8", false), ("1.1.1.1", false), ("93.184.216.34", false),
    ]

    /// IPv6: the registry's ranges and their edges, and every form that
    /// embeds an IPv4 address, once with an internal and once with a public one.
    static let ipv6: [(address: String, isInternal: Bool)] = [
        ("::", true), ("::1", true), ("::2", true),
        // IPv4-compatible (deprecated) and the rest of ::/8: not global.
        ("::8.8.8.8", true), ("::1:0:0:0", true), ("ff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true),
        // ::ffff:0:0/96 IPv4-mapped: judged by the IPv4 address.
        ("::ffff:127.0.0.1", true), ("::ffff:10.1.2.3", true), ("::ffff:8.8.8.8", false),
        ("::ffff:169.254.169.254", true),
        // ::ffff:0:0:0/96 IPv4-translated (SIIT).
        ("::ffff:0:127.0.0.1", true), ("::ffff:0:8.8.8.8", false),
        // 64:ff9b::/96 NAT64 (well-known prefix), and its edges.
        ("64:ff9b::7f00:1", true), ("64:ff9b::127.0.0.1", true), ("64:ff9b::a9fe:a9fe", true),
        ("64:ff9b::808:808", false), ("64:ff9b::8.8.8.8", false),
        ("64:ff9a:ffff:ffff:ffff:ffff:ffff:ffff", true), ("64:ff9b:0:0:0:1::", true),
        // 64:ff9b:1::/48 local-use NAT64: never global.
        ("64:ff9b:1::808:808", true), ("64:ff9b:1:ffff::8.8.8.8", true),
        // 100::/64 discard-only.
        ("100::", true), ("100::ffff:ffff:ffff:ffff", true), ("100:0:0:1::", true),
        // 2001::/23 IETF protocol assignments; 2001::/32 Teredo judged by
        // its server (bits 32-63) and inverted client (last 32 bits) IPv4.
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", true),  // RFC 4380's example: client 192.0.2.45 (documentation)
        ("2001:0:4136:e378:8000:63bf:f7f7:f7f7", false),  // server 65.54.227.120, client 8.8.8.8
        ("2001:0:7f00:1:8000:63bf:f7f7:f7f7", true),  // server 127.0.0.1
        ("2001:0:808:808:8000:63bf:80ff:fffe", true),  // client ~80ff:fffe = 127.0.0.1
        ("2001:0:808:808:8000:63bf:f7f7:f7f7", false),  // client 8.8.8.8
        ("2001:1::1", true), ("2001:2::", true), ("2001:3::", true), ("2001:10::", true), ("2001:20::", true),
        ("2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff", true), ("2001:200::", false),
        // 2001:db8::/32 documentation.
        ("2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", false), ("2001:db8::", true),
        ("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", true), ("2001:db9::", false),
        // 2002::/16 6to4: judged by the site's IPv4 address.
        ("2002:7f00:1::1", true), ("2002:c0a8:101::1", true), ("2002:a9fe:a9fe::", true),
        ("2002:808:808::1", false), ("2001:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false),
        ("2003::1", false),
        // 2620:4f:8000::/48 AS112 direct delegation: globally reachable.
        ("2620:4f:8000::1", false),
        // 3fff::/20 documentation.
        ("3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false), ("3fff::", true),
        ("3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff", true), ("3fff:1000::", false),
        // 5f00::/16 SRv6 SIDs (outside 2000::/3, like its neighbours).
        ("5eff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true), ("5f00::", true), ("5f00:ffff::", true),
        ("5f01::", true),
        // Global unicast ends at 3fff:...; beyond 2000::/3 nothing is global.
        ("1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true), ("2000::", false),
        ("3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false), ("4000::", true),
        // fc00::/7 unique local, fe80::/10 link-local, fec0::/10 site-local, ff00::/8 multicast.
        ("fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true), ("fc00::", true), ("fdff::1", true),
        ("fe80::", true), ("fe80::1%eth0", true), ("febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true),
        ("fec0::", true), ("ff00::", true), ("ff02::1", true),
        ("2606:4700:4700::1111", false), ("2a00:1450:4001::200e", false),
    ]

    @Test(arguments: ipv4)
    func ipv4Ranges(address: String, isInternal: Bool) {
        #expect(TargetAddressPolicy.isInternal(address) == isInternal, "\(address)")
    }

    @Test(arguments: ipv6)
    func ipv6Ranges(address: String, isInternal: Bool) {
        #expect(TargetAddressPolicy.isInternal(address) == isInternal, "\(address)")
    }

    /// What cannot be judged is refused.
    @Test(arguments: ["", "localhost", "256.0.0.1", "1.2.3", "::g", "example.com", "1.2.3.4\u{0}"])
    func unparseableTextIsInternal(address: String) {
        #expect(TargetAddressPolicy.isInternal(address))
    }
}
