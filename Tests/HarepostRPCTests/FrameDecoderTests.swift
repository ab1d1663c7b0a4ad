import HarepostProto
import HarepostTime
import NIOCore
import NIOEmbedded
import NIOTestUtils
import Testing

@testable import HarepostRPC

@Suite("Frame decoder")
struct FrameDecoderTests {
    func frame(_ payload: String) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(UInt32(payload.utf8.count), endianness: .big)
        buffer.writeString(payload)
        return buffer
    }

    /// NIO's verifier feeds the input byte by byte, in batches, and coalesced.
    @Test func decodesSplitAndCoalescedFrames() throws {
        let payloads = ["", "a", "hello", String(repeating: "x", count: 1000)]
        try ByteToMessageDecoderVerifier.verifyDecoder(
            inputOutputPairs: payloads.map { (frame($0), [ByteBuffer(string: $0)]) },
            decoderFactory: { RPCFrameDecoder(maximumFrameSize: 4096) }
        )
    }

    @Test func rejectsAnOversizedFrameAsSoonAsItsLengthArrives() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(RPCFrameDecoder(maximumFrameSize: 1024)))
        var header = ByteBuffer()
        header.writeInteger(UInt32(1025), endianness: .big)
        #expect(throws: RPCFrameDecoder.FrameTooLargeError(size: 1025, maximum: 1024)) {
            try channel.writeInbound(header)
        }
    }

    @Test func envelopesRoundTripThroughProtobufC() throws {
        let request = RPCEnvelope.request(
            callID: 7,
            method: "harepost.store.v1.Store/GetDelivery",
            timeoutMilliseconds: 250,
            metadata: ["x-request-id": "req_1"],
            payload: [1, 2, 3]
        )
        #expect(try RPCEnvelope(frame: body(of: request.frame(allocator: ByteBufferAllocator()))) == request)
        let failure = RPCEnvelope.response(callID: 9, error: RPCError(.notFound, "no delivery hr_1"))
        #expect(try RPCEnvelope(frame: body(of: failure.frame(allocator: ByteBufferAllocator()))) == failure)
        #expect(throws: (any Error).self) { try RPCEnvelope(frame: ByteBuffer(bytes: [0xff, 0xff, 0xff])) }
    }

    /// A frame's body, after checking its length prefix.
    private func body(of frame: ByteBuffer) -> ByteBuffer {
        var frame = frame
        let length = frame.readInteger(endianness: .big, as: UInt32.self)
        #expect(length.map(Int.init) == frame.readableBytes)
        return frame
    }
}

@Suite("Status codes")
struct StatusCodeTests {
    /// RPCCode mirrors `harepost.rpc.v1.Code` exactly: same numbers, same names.
    @Test func swiftCodesMatchTheProtoEnum() throws {
        let code = try #require(MessageDescriptor.named("harepost.rpc.v1.Envelope")?.field(named: "code")?.enumType)
        #expect(code.values.map(\.number) == RPCCode.allCases.map(\.rawValue))
        #expect(code.values.map(\.name) == RPCCode.allCases.map(\.description))
    }
}

@Suite("Durations")
struct DurationTests {
    @Test func convertsSubSecondDurationsExactly() {
        #expect(Duration.milliseconds(500).nanoseconds == 500_000_000)
        #expect(Duration.seconds(2).nanoseconds == 2_000_000_000)
        #expect((Duration.seconds(1) + .microseconds(7)).nanoseconds == 1_000_007_000)
        #expect(Duration.seconds(Int64.max).nanoseconds == .max)
    }
}
