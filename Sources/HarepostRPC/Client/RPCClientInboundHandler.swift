import HarepostProto
import HarepostTime
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// Hands replies to the client and closes the connection on a bad frame.
final class RPCClientInboundHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer

    private let client: RPCClient

    init(client: RPCClient) {
        self.client = client
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        do {
            let reply = try RPCEnvelope(frame: frame)
            guard reply.kind == .response else {
                throw RPCEnvelope.DecodingError(description: "server sent a request frame")
            }
            client.complete(reply.callID, with: .success(reply))
        } catch {
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
