#if canImport(Glibc)
    import Glibc
#endif

/// Which addresses webhooks may be delivered to.
///
/// An address is internal unless it is globally reachable: every range of
/// IANA's IPv4 and IPv6 special-purpose address registries that is not
/// globally reachable (private, loopback, link-local, unspecified, CGNAT,
/// documentation, benchmarking, multicast, reserved, ...) is internal, and
/// so is all IPv6 outside global unicast (2000::/3). An IPv6 address that
/// embeds or translates an IPv4 address (IPv4-mapped, SIIT, NAT64, 6to4,
/// Teredo) is judged by that IPv4 address. A webhook aimed at an internal
/// address could reach services behind the firewall (SSRF). The store
/// checks a target's resolved addresses at send time; the dispatcher checks
/// the address it actually connects to, so DNS rebinding cannot slip past.
public enum TargetAddressPolicy {
    /// Whether `address` (textual IPv4 or IPv6) is internal. Unparseable text is
    /// treated as internal: refuse what cannot be judged.
    public static func isInternal(_ address: String) -> Bool {
        // C parsing would stop at U+0000 and judge only what precedes it.
        guard !address.utf8.contains(0) else { return true }
        var v4 = in_addr()
        if inet_pton(AF_INET, address, &v4) == 1 {
            return isInternal(ipv4: UInt32(bigEndian: v4.s_addr))
        }
        var v6 = in6_addr()
        let trimmed = address.split(separator: "%", maxSplits: 1).first.map(String.init) ?? address
        guard inet_pton(AF_INET6, trimmed, &v6) == 1 else { return true }
        let bytes = withUnsafeBytes(of: v6) { Array($0) }
        return isInternal(ipv6: bytes)
    }

    /// IPv4 ranges that are not globally reachable (IANA IPv4 Special-Purpose
    /// Address Registry), as (network, prefix length).
    static let internalIPv4: [(network: UInt32, prefix: UInt32)] = [
        (0x0000_0000, 8),  // 0.0.0.0/8 "this network"
        (0x0a00_0000, 8),  // 10.0.0.0/8 private
        (0x6440_0000, 10),  // 100.64.0.0/10 shared address space (CGNAT)
        (0x7f00_0000, 8),  // 127.0.0.0/8 loopback
        (0xa9fe_0000, 16),  // 169.254.0.0/16 link-local (cloud metadata)
        (0xac10_0000, 12),  // 172.16.0.0/12 private
        (0xc000_0000, 24),  // 192.0.0.0/24 IETF protocol assignments (DS-Lite, NAT64 discovery, ...)
        (0xc000_0200, 24),  // 192.0.2.0/24 documentation (TEST-NET-1)
        (0xc058_6300, 24),  // 192.88.99.0/24 6to4 relay anycast (deprecated)
        (0xc0a8_0000, 16),  // 192.168.0.0/16 private
        (0xc612_0000, 15),  // 198.18.0.0/15 benchmarking
        (0xc633_6400, 24),  // 198.51.100.0/24 documentation (TEST-NET-2)
        (0xcb00_7100, 24),  // 203.0.113.0/24 documentation (TEST-NET-3)
        (0xe000_0000, 4),  // 224.0.0.0/4 multicast
        (0xf000_0000, 4),  // 240.0.0.0/4 reserved, and 255.255.255.255 broadcast
    ]

    static func isInternal(ipv4 address: UInt32) -> Bool {
        internalIPv4.contains { range in
            let mask: UInt32 = ~UInt32(0) << (32 - range.prefix)
            return address & mask == range.network & mask
        }
    }

    static func isInternal(ipv6 bytes: [UInt8]) -> Bool {
        precondition(bytes.count == 16)
        func ipv4(at offset: Int, flipped: Bool = false) -> UInt32 {
            let value =
                UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16 | UInt32(bytes[offset + 2]) << 8
                | UInt32(bytes[offset + 3])
            return flipped ? ~value : value
        }
        func startsWith(_ prefix: [UInt8]) -> Bool { bytes.starts(with: prefix) }
        let zero10 = [UInt8](repeating: 0, count: 10)
        // ::ffff:0:0/96 IPv4-mapped, ::ffff:0:0:0/96 IPv4-translated (SIIT).
        if startsWith(zero10 + [0xff, 0xff]) || startsWith([UInt8](repeating: 0, count: 8) + [0xff, 0xff, 0, 0]) {
            return isInternal(ipv4: ipv4(at: 12))
        }
        // 64:ff9b::/96 NAT64, well-known prefix: the IPv4 address it translates to.
        if startsWith([0x00, 0x64, 0xff, 0x9b] + [UInt8](repeating: 0, count: 8)) {
            return isInternal(ipv4: ipv4(at: 12))
        }
        // 2002::/16 6to4: the IPv4 address of the site in bits 16-47.
        if startsWith([0x20, 0x02]) {
            return isInternal(ipv4: ipv4(at: 2))
        }
        // 2001::/32 Teredo: the server's IPv4 address in bits 32-63 and the
        // client's, inverted, in the last 32 bits; internal if either is.
        if startsWith([0x20, 0x01, 0x00, 0x00]) {
            return isInternal(ipv4: ipv4(at: 4)) || isInternal(ipv4: ipv4(at: 12, flipped: true))
        }
        // Outside 2000::/3 nothing is global unicast: ::/128, ::1/128,
        // 64:ff9b:1::/48 local-use NAT64, 100::/64 discard, fc00::/7 unique
        // local, fe80::/10 link-local, fec0::/10 site-local, ff00::/8
        // multicast, 5f00::/16 SRv6 segment identifiers, and the unassigned rest.
        guard bytes[0] & 0xe0 == 0x20 else { return true }
        return startsWith([0x20, 0x01]) && bytes[2] & 0xfe == 0x00  // 2001::/23 IETF protocol assignments
            || startsWith([0x20, 0x01, 0x0d, 0xb8])  // 2001:db8::/32 documentation
            || (startsWith([0x3f, 0xff]) && bytes[2] & 0xf0 == 0x00)  // 3fff::/20 documentation
    }

    /// Resolves `host` with the system resolver (blocking: call it off the
    /// cooperative pool). An IP literal resolves to itself.
    public static func resolve(_ host: String) -> [String]? {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &result) == 0, let first = result else { return nil }
        defer { freeaddrinfo(first) }
        var addresses: [String] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let entry = cursor {
            var buffer = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            if getnameinfo(
                entry.pointee.ai_addr,
                entry.pointee.ai_addrlen,
                &buffer,
                socklen_t(buffer.count),
                nil,
                0,
                NI_NUMERICHOST
            ) == 0 {
                let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                if !addresses.contains(text) { addresses.append(text) }
            }
            cursor = entry.pointee.ai_next
        }
        return addresses
    }
}
