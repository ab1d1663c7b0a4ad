import Foundation

/// Speaks raw bytes to an HTTP server on 127.0.0.1, for what an HTTP client
/// library hides: pipelining, HTTP/1.0, malformed requests, who closes.
public enum RawHTTP {
    public struct Exchange: Sendable {
        /// Every byte the server sent.
        public let received: String
        /// Whether the server closed the connection (rather than the read timing out).
        public let closedByServer: Bool
    }

    /// Connects, sends `request`, and reads until the server closes the
    /// connection or sends nothing for `quietPeriod`. Tests make the server
    /// close (`Connection: close`, HTTP/1.0, a half-close, an error), so the
    /// quiet period only ends a read when something is wrong; it is long
    /// because a loaded test machine can be slow. The blocking socket
    /// calls run on a thread of their own, not on a Swift concurrency thread
    /// an in-process server may need.
    ///
    /// - Parameter halfClose: shut down the sending side after the request.
    public static func exchange(
        port: Int,
        _ request: String,
        quietPeriod: Duration = .seconds(10),
        halfClose: Bool = false
    ) async throws -> Exchange {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(
                    with: Result {
                        try blockingExchange(port: port, request, quietPeriod: quietPeriod, halfClose: halfClose)
                    }
                )
            }
        }
    }

    private static func blockingExchange(port: Int, _ request: String, quietPeriod: Duration, halfClose: Bool) throws
        -> Exchange
    {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw POSIXError(.init(rawValue: errno) ?? .ECONNREFUSED) }
        let (seconds, attoseconds) = quietPeriod.components
        var timeout = timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let bytes = Array(request.utf8)
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { throw POSIXError(.init(rawValue: errno) ?? .EPIPE) }
            sent += count
        }
        if halfClose { shutdown(descriptor, Int32(SHUT_WR)) }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                received += buffer[..<count]
            } else if count < 0 && errno == EINTR {
                // A signal (a test's child process exiting) is not the end.
                continue
            } else {
                return Exchange(received: String(decoding: received, as: UTF8.self), closedByServer: count == 0)
            }
        }
    }
}

extension RawHTTP {
    /// A connection held open across several steps, for clients that send
    /// slowly, read late or never: each call blocks a thread of its own.
    public final class Connection: @unchecked Sendable {
        private let descriptor: Int32

        /// Connects to 127.0.0.1:`port`; `receiveBufferBytes` shrinks the
        /// kernel's receive buffer first (for a client that reads little).
        public init(port: Int, receiveBufferBytes: Int? = nil) throws {
            descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard descriptor >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
            if var size = receiveBufferBytes.map(Int32.init) {
                setsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
            }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard connected == 0 else {
                let error = POSIXError(.init(rawValue: errno) ?? .ECONNREFUSED)
                close(descriptor)
                throw error
            }
        }

        deinit { close(descriptor) }

        /// The client's own port.
        public var localPort: Int {
            var address = sockaddr_in()
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
            }
            return Int(UInt16(bigEndian: address.sin_port))
        }

        /// Whether the server's end of this connection is still open, as
        /// the kernel sees it (`/proc/net/tcp`): a server that closes while
        /// the client reads nothing is seen without reading.
        public func serverEndIsOpen(serverPort: Int) throws -> Bool {
            // Read to the end: procfs files report no size, and a reader that
            // trusts the size stops at the first page.
            guard let file = FileHandle(forReadingAtPath: "/proc/net/tcp") else { throw POSIXError(.ENOENT) }
            defer { try? file.close() }
            let table = String(decoding: file.readDataToEndOfFile(), as: UTF8.self)
            let local = String(format: ":%04X", serverPort)
            let remote = String(format: ":%04X", localPort)
            for line in table.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ")
                guard fields.count > 3, fields[1].hasSuffix(local), fields[2].hasSuffix(remote) else { continue }
                return fields[3] == "01"  // TCP_ESTABLISHED
            }
            return false  // gone altogether
        }

        /// Sends every byte (blocking while the server does not read).
        public func send(_ bytes: [UInt8]) async throws {
            let descriptor = self.descriptor
            try await RawHTTP.onThread {
                var sent = 0
                while sent < bytes.count {
                    let count = bytes[sent...].withUnsafeBytes {
                        Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
                    }
                    guard count > 0 else { throw POSIXError(.init(rawValue: errno) ?? .EPIPE) }
                    sent += count
                }
            }
        }

        public func send(_ text: String) async throws {
            try await send(Array(text.utf8))
        }

        /// Reads until the server closes, sends nothing for `quietPeriod`,
        /// or (when given) what it sent ends with `suffix`.
        public func receive(quietPeriod: Duration = .seconds(10), until suffix: String? = nil) async throws -> Exchange
        {
            let descriptor = self.descriptor
            let suffix = suffix.map { Array($0.utf8) }
            return try await RawHTTP.onThread {
                let (seconds, attoseconds) = quietPeriod.components
                var timeout = timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
                setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                var received: [UInt8] = []
                var buffer = [UInt8](repeating: 0, count: 65536)
                while true {
                    let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
                    if count > 0 {
                        received += buffer[..<count]
                        if let suffix, received.count >= suffix.count, Array(received.suffix(suffix.count)) == suffix {
                            return Exchange(received: String(decoding: received, as: UTF8.self), closedByServer: false)
                        }
                    } else if count < 0 && errno == EINTR {
                        continue
                    } else {
                        if count < 0, errno != EAGAIN, errno != EWOULDBLOCK {
                            throw POSIXError(.init(rawValue: errno) ?? .EIO)
                        }
                        return Exchange(received: String(decoding: received, as: UTF8.self), closedByServer: count == 0)
                    }
                }
            }
        }
    }

    /// Runs blocking socket calls on a thread of their own, not on a Swift
    /// concurrency thread an in-process server may need.
    static func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
        }
    }
}
