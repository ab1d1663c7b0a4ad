import Foundation
import HarepostRPC
import HarepostTime
import NIOPosix

#if canImport(Glibc)
    import Glibc
#endif

/// Looks up TXT records with one UDP query to a configurable resolver (host and
/// port), so domain verification can be pointed at any DNS server.
public struct DNSTXTResolver: Sendable {
    public enum LookupError: Error, Equatable {
        /// The resolver did not answer in time, or answered garbage.
        case resolverUnavailable(String)
    }

    public let host: String
    public let port: Int
    public let timeout: Duration

    public init(host: String, port: Int = 53, timeout: Duration = .seconds(2)) {
        self.host = host
        self.port = port
        self.timeout = timeout
    }

    /// A resolver written `host`, `host:port`, `[v6]` or `[v6]:port`; nil when malformed.
    public init?(address: String) {
        var host = Substring(address)
        var port = 53
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return nil }
            let rest = host[host.index(after: close)...]
            host = host[host.index(after: host.startIndex)..<close]
            if !rest.isEmpty {
                guard rest.hasPrefix(":"), let parsed = Int(rest.dropFirst()) else { return nil }
                port = parsed
            }
        } else if host.filter({ $0 == ":" }).count == 1, let colon = host.firstIndex(of: ":") {
            guard let parsed = Int(host[host.index(after: colon)...]) else { return nil }
            port = parsed
            host = host[..<colon]
        }
        guard !host.isEmpty, (1...65535).contains(port) else { return nil }
        self.init(host: String(host), port: port)
    }

    /// The first `nameserver` of /etc/resolv.conf, else 127.0.0.1.
    public static func system() -> DNSTXTResolver {
        let text = (try? String(contentsOfFile: "/etc/resolv.conf", encoding: .utf8)) ?? ""
        let server = text.split(separator: "\n").lazy
            .map { $0.split(whereSeparator: { $0 == " " || $0 == "\t" }) }
            .first { $0.count >= 2 && $0[0] == "nameserver" }?[1]
        return DNSTXTResolver(host: server.map(String.init) ?? "127.0.0.1")
    }

    /// The TXT strings of `name` (each record's strings joined); empty when the
    /// name has none or does not exist.
    public func txtRecords(_ name: String) async throws -> [String] {
        let query = Self.query(name: name, id: UInt16.random(in: 0...UInt16.max))
        let resolver = self
        let answer = try await NIOThreadPool.singleton.runIfActive { try resolver.exchange(query) }
        return try Self.txtRecords(in: answer, id: UInt16(query[0]) << 8 | UInt16(query[1]))
    }

    static func query(name: String, id: UInt16) -> [UInt8] {
        var packet: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xff), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]
        for label in name.split(separator: ".") {
            let bytes = Array(label.utf8.prefix(63))
            packet.append(UInt8(bytes.count))
            packet += bytes
        }
        packet += [0, 0, 16, 0, 1]  // root, QTYPE TXT, QCLASS IN
        return packet
    }

    /// Sends the query and waits for one datagram (blocking: runs on the NIO thread pool).
    private func exchange(_ query: [UInt8]) throws -> [UInt8] {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_DGRAM.rawValue)
        hints.ai_flags = AI_NUMERICHOST
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &result) == 0, let address = result else {
            throw LookupError.resolverUnavailable("bad resolver address \(host)")
        }
        defer { freeaddrinfo(address) }
        let fd = socket(address.pointee.ai_family, address.pointee.ai_socktype, 0)
        guard fd >= 0 else { throw LookupError.resolverUnavailable("cannot open a UDP socket") }
        defer { close(fd) }
        let nanoseconds = timeout.nanoseconds
        var interval = timeval(
            tv_sec: Int(nanoseconds / 1_000_000_000),
            tv_usec: Int(nanoseconds % 1_000_000_000 / 1000)
        )
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &interval, socklen_t(MemoryLayout<timeval>.size))
        guard connect(fd, address.pointee.ai_addr, address.pointee.ai_addrlen) == 0,
            send(fd, query, query.count, 0) == query.count
        else { throw LookupError.resolverUnavailable("cannot reach the resolver \(host):\(port)") }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let received = recv(fd, &buffer, buffer.count, 0)
        guard received > 0 else { throw LookupError.resolverUnavailable("no answer from the resolver \(host):\(port)") }
        return Array(buffer[0..<received])
    }

    /// Parses an answer: TXT record data of the answer section.
    static func txtRecords(in packet: [UInt8], id: UInt16) throws -> [String] {
        func malformed() -> LookupError { .resolverUnavailable("malformed answer from the resolver") }
        guard packet.count >= 12, UInt16(packet[0]) << 8 | UInt16(packet[1]) == id, packet[2] & 0x80 != 0 else {
            throw malformed()
        }
        let rcode = packet[3] & 0x0f
        if rcode == 3 { return [] }  // NXDOMAIN
        guard rcode == 0 else { throw LookupError.resolverUnavailable("the resolver answered with error \(rcode)") }
        let questions = Int(packet[4]) << 8 | Int(packet[5])
        let answers = Int(packet[6]) << 8 | Int(packet[7])
        var position = 12
        func skipName() throws {
            while true {
                guard position < packet.count else { throw malformed() }
                let length = Int(packet[position])
                if length & 0xc0 == 0xc0 {
                    position += 2
                    return
                }
                position += 1 + length
                if length == 0 { return }
            }
        }
        for _ in 0..<questions {
            try skipName()
            position += 4
        }
        var records: [String] = []
        for _ in 0..<answers {
            try skipName()
            guard position + 10 <= packet.count else { throw malformed() }
            let type = Int(packet[position]) << 8 | Int(packet[position + 1])
            let length = Int(packet[position + 8]) << 8 | Int(packet[position + 9])
            position += 10
            guard position + length <= packet.count else { throw malformed() }
            if type == 16 {
                var text: [UInt8] = []
                var offset = position
                while offset < position + length {
                    let size = Int(packet[offset])
                    guard offset + 1 + size <= position + length else { throw malformed() }
                    text += packet[(offset + 1)..<(offset + 1 + size)]
                    offset += 1 + size
                }
                records.append(String(decoding: text, as: UTF8.self))
            }
            position += length
        }
        return records
    }
}
