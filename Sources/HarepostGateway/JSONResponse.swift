import HarepostJSON
import Hummingbird
import Logging

enum JSONResponse {
    static func make(_ status: HTTPResponse.Status, _ body: JSONValue) -> Response {
        Response(
            status: status,
            headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: JSONWriter.bytes(body)))
        )
    }

    /// The public error shape: `{"error": "<short message>", "detail": "<more>"}`.
    static func error(_ status: HTTPResponse.Status, _ message: String, detail: String? = nil) -> Response {
        var members: [(key: String, value: JSONValue)] = [("error", .string(message))]
        if let detail { members.append(("detail", .string(detail))) }
        return make(status, .object(members))
    }
}

/// Renders every error as the public JSON error shape. Unexpected errors become
/// a 500 that carries no internal detail.
struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        do {
            return try await next(request, context)
        } catch let error as HTTPError {
            let message =
                error.body ?? (error.status == .notFound ? "not found" : error.status.reasonPhrase.lowercased())
            var response = JSONResponse.error(error.status, message)
            response.headers.append(contentsOf: error.headers)
            return response
        } catch {
            context.logger.error("request failed", metadata: ["error": "\(error)"])
            return JSONResponse.error(.internalServerError, "internal error")
        }
    }
}
