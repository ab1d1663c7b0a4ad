#if canImport(Glibc)
    import Glibc
#endif

/// Which addresses webhooks may be delivered to.
///
/// Private, loopback, link-local, unspecified, CGNAT, multicast and broadcast
/// addresses (and IPv4-mapped IPv6 forms of them) are internal: a webhook aimed
/// at them could reach services behind the firewall (SSRF). The store checks a
/// target's resolved addresses at send time; the dispatcher checks the address
/// it actually connects to, so DNS rebinding cannot slip past.
public enum TargetAddressPolicy {
    /// Whether `address` (textual IPv4 or IPv6) is internal. Unparseable text is
    /// treated as internal: refuse what cannot be judged.
    public static func isInternal(_ address: String) -> Bool {
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

    static func isInternal(ipv4 address: UInt32) -> Bool {
        func within(_ network: UInt32, _ prefix: UInt32) -> Bool {
            let mask: UInt32 = prefix == 0 ? 0 : ~UInt32(0) << (32 - prefix)
            return address & mask == network & mask
        }
        return within(0x0000_0000, 8)  // 0.0.0.0/8 "this network", unspecified
            || within(0x0a00_0000, 8)  // 10/8
            || within(0x6440_0000, 10)  // 100.64/10 CGNAT
            || within(0x7f00_0000, 8)  // 127/8 loopback
            || within(0xa9fe_0000, 16)  // 169.254/16 link-local (cloud metadata)
            || within(0xac10_0000, 12)  // 172.16/12
            || within(0xc000_0000, 24)  // 192.0.0/24 IETF protocol assignments
            || within(0xc0a8_0000, 16)  // 192.168/16
            || within(0xc612_0000, 15)  // 198.18/15 benchmarking
            || within(0xe000_0000, 4)  // 224/4 multicast
            || within(0xf000_0000, 4)  // 240/4 reserved, broadcast
    }

    static func isInternal(ipv6 bytes: [UInt8]) -> Bool {
        precondition(bytes.count == 16)
        if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xff && bytes[11] == 0xff {
            // ::ffff:a.b.c.d, IPv4-mapped
            return isInternal(
                ipv4: UInt32(bytes[12]) << 24 | UInt32(bytes[13]) << 16 | UInt32(bytes[14]) << 8 | UInt32(bytes[15])
            )
        }
        if bytes[0..<12].allSatisfy({ $0 == 0 }) {
            // ::, ::1 and the deprecated IPv4-compatible ::a.b.c.d
            return true
        }
        if bytes[0] == 0x64 && bytes[1] == 0xff && bytes[2] == 0x9b && bytes[3...11].allSatisfy({ $0 == 0 }) {
            // 64:ff9b::/96 NAT64 of an IPv4 address
            return isInternal(
                ipv4: UInt32(bytes[12]) << 24 | UInt32(bytes[13]) << 16 | UInt32(bytes[14]) << 8 | UInt32(bytes[15])
            )
        }
        return bytes[0] & 0xfe == 0xfc  // fc00::/7 unique local
            || (bytes[0] == 0xfe && bytes[1] & 0xc0 == 0x80)  // fe80::/10 link-local
            || (bytes[0] == 0xfe && bytes[1] & 0xc0 == 0xc0)  // fec0::/10 site-local (deprecated)
            || bytes[0] == 0xff  // ff00::/8 multicast
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
