import ArgumentParser
import Foundation
import Hummingbird
import Logging
import NIOCore

/// `harepost-baseline`: the bare Hummingbird endpoints `scripts/bench.py`
/// compares the gateway with, on the same machine, load tool and
/// connections. A program of its own, so the production binary carries no
/// Hummingbird.
///
/// - `GET /v1/deliveries/{id}` answers a fixed JSON body (a real lookup
///   response saved by the benchmark, so the size is the same).
/// - `POST /v1/send` decodes the JSON body (Foundation) and answers 202 with
///   a body of the gateway's shape.
/// - `POST /hook` answers 200 `ok`: a fast local webhook target.
@main
struct BaselineServer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "harepost-baseline",
        abstract: "Serve the bare Hummingbird endpoints the benchmark compares the gateway with."
    )

    @Option(help: "Address to listen on.")
    var host: String = "127.0.0.1"

    @Option(help: "Port to listen on.")
    var port: Int = 8090

    @Option(help: "File whose bytes GET /v1/deliveries/{id} answers.")
    var lookupBody: String

    func run() async throws {
        guard let body = FileManager.default.contents(atPath: lookupBody) else {
            throw ValidationError("cannot read \(lookupBody)")
        }
        let lookup = ByteBuffer(bytes: body)
        var logger = Logger(label: "harepost.bench.baseline")
        logger.logLevel = .error
        let router = Router()
        router.get("/v1/deliveries/{id}") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "application/json"],
                body: ResponseBody(byteBuffer: lookup)
            )
        }
        router.post("/v1/send") { request, context -> Response in
            let bytes = try await request.body.collect(upTo: 1 << 20)
            guard let object = try? JSONSerialization.jsonObject(with: Data(bytes.readableBytesView)) as? [String: Any],
                object["target"] is String
            else {
                return Response(status: .badRequest)
            }
            let answer =
                #"{"queue_id":"hr_0123456789abcdef","status":"queued","created_at":"2026-06-10T14:22:10.123Z"}"#
            return Response(
                status: .accepted,
                headers: [.contentType: "application/json"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: answer))
            )
        }
        router.post("/hook") { request, _ -> Response in
            _ = try await request.body.collect(upTo: 1 << 20)
            return Response(status: .ok, body: ResponseBody(byteBuffer: ByteBuffer(string: "ok")))
        }
        let application = Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: "baseline"),
            logger: logger
        )
        try await application.runService()
    }
}
