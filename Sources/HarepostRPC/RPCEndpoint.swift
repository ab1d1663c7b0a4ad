public import NIOCore

/// Where an RPC server listens. The framing is the same on every transport.
public enum RPCEndpoint: Sendable, Hashable, CustomStringConvertible {
    /// A stream Unix domain socket (the default for harepost's components).
    case unixSocket(path: String)
    /// TCP, for services on another host.
    case tcp(host: String, port: Int)

    public var socketAddress: SocketAddress {
        get throws {
            switch self {
            case .unixSocket(let path): try SocketAddress(unixDomainSocketPath: path)
            case .tcp(let host, let port): try SocketAddress.makeAddressResolvingHost(host, port: port)
            }
        }
    }

    public var description: String {
        switch self {
        case .unixSocket(let path): "unix:\(path)"
        case .tcp(let host, let port): "tcp:\(host):\(port)"
        }
    }
}
