import HarepostContracts
import HarepostJSON
import HarepostMetrics
import HarepostProto
import HarepostRPC
public import HarepostTime
public import Logging
import NIOCore
import NIOHTTP1

/// The public HTTP listener.
///
/// It serves `/healthz` (the process is up), `/readyz` (every backend answers
/// its health RPC as serving) and every route of the ``RouteMap`` through the
/// generic ``RouteBridge``. Every error is `{"error": …}` JSON.
public enum GatewayApplication {
    public struct Configuration: Sendable {
        public var host: String
        public var port: Int
        /// What one client may take: body size, connections, timeouts.
        public var http: GatewayHTTPLimits
        /// Deadline of each backend call (504 when missed).
        public var backendTimeout: Duration
        /// How long an API key's principal is reused before asking auth again.
        public var authenticationCacheTTL: Duration
        /// The time of day, for rate-limit windows.
        public var clock: any WallClock

        public init(
            host: String = "127.0.0.1",
            port: Int = 8080,
            http: GatewayHTTPLimits = .init(),
            backendTimeout: Duration = .seconds(10),
            authenticationCacheTTL: Duration = .seconds(5),
            clock: any WallClock = SystemWallClock()
        ) {
            self.host = host
            self.port = port
            self.http = http
            self.backendTimeout = backendTimeout
            self.authenticationCacheTTL = authenticationCacheTTL
            self.clock = clock
        }
    }

    /// - Parameter metrics: this process's own metrics in the Prometheus text
    ///   format, merged into `/metrics` with every component's.
    public static func make(
        configuration: Configuration,
        routes: RouteMap,
        backends: GatewayBackends,
        metrics: (@Sendable () -> String)? = nil,
        logger: Logger
    ) -> GatewayHTTPServer {
        let bridge = RouteBridge(
            map: routes,
            backends: backends,
            authenticator: Authenticator(
                auth: backends.auth,
                timeToLive: configuration.authenticationCacheTTL,
                timeout: configuration.backendTimeout
            ),
            limiter: RateLimiter(),
            requests: MetricFamily(
                "harepost_http_request_duration_seconds",
                dimensionNames: ["route", "status"],
                labelValues: { [$0.name, "\($0.status)"] }
            ),
            configuration: configuration,
            logger: logger
        )
        return GatewayHTTPServer(
            host: configuration.host,
            port: configuration.port,
            responder: GatewayResponder(bridge: bridge, backends: backends, metrics: metrics),
            limits: configuration.http,
            logger: logger
        )
    }

    /// Every component's metrics (each asked over its Metrics RPC), merged.
    static func mergedMetrics(own: (@Sendable () -> String)?, backends: GatewayBackends) async -> GatewayResponse {
        let scraped = await withTaskGroup(of: MetricsExposition.Source.self) { group in
            for (name, client) in backends.components {
                group.addTask {
                    let answer = try? await client.call(
                        RPCV1.Metrics.Scrape.self,
                        RPCV1.MetricsScrapeRequest(),
                        options: RPCCallOptions(timeout: .seconds(2), idempotent: true)
                    )
                    return MetricsExposition.Source(component: name, text: answer?.text)
                }
            }
            var sources: [MetricsExposition.Source] = []
            for await source in group { sources.append(source) }
            return sources.sorted { $0.component < $1.component }
        }
        let sources = (own.map { [MetricsExposition.Source(component: "gateway", text: $0())] } ?? []) + scraped
        return GatewayResponse(
            status: .ok,
            headers: ["content-type": "text/plain; version=0.0.4; charset=utf-8"],
            body: ByteBuffer(string: MetricsExposition.merge(sources))
        )
    }

    /// 200 when every backend is serving, else 503; lists each backend's state.
    static func readiness(of backends: GatewayBackends) async -> GatewayResponse {
        let states = await withTaskGroup(of: (String, String).self) { group in
            for (name, client) in backends.all {
                group.addTask {
                    do throws(RPCError) {
                        let health = try await client.checkHealth(timeout: .seconds(1))
                        return (name, health.status.jsonName)
                    } catch {
                        return (name, error.code == .deadlineExceeded ? "timeout" : "unavailable")
                    }
                }
            }
            var states: [String: String] = [:]
            for await (name, state) in group { states[name] = state }
            return states
        }
        let ready = states.values.allSatisfy { $0 == RPCV1.ServingStatus.serving.jsonName }
        let backendsJSON = JSONValue.object(
            states.sorted { $0.key < $1.key }.map { (key: $0.key, value: JSONValue.string($0.value)) }
        )
        var response = JSONResponse.make(
            ready ? .ok : .serviceUnavailable,
            .object([("status", .string(ready ? "ready" : "not_ready")), ("backends", backendsJSON)])
        )
        if !ready { response.headers.add(name: "retry-after", value: "1") }
        return response
    }
}

/// Answers every request: the health, readiness and metrics endpoints, the
/// route map's routes, and a JSON 404 for anything else.
struct GatewayResponder: GatewayResponding {
    let bridge: RouteBridge
    let backends: GatewayBackends
    let metrics: (@Sendable () -> String)?

    func respond(to request: GatewayRequest) async -> GatewayResponse {
        if request.method == .GET {
            switch request.path {
            case "/healthz": return JSONResponse.make(.ok, .object([("status", .string("ok"))]))
            case "/readyz": return await GatewayApplication.readiness(of: backends)
            case "/metrics": return await GatewayApplication.mergedMetrics(own: metrics, backends: backends)
            default: break
            }
        }
        return await bridge.respond(to: request) ?? JSONResponse.error(.notFound, "not found")
    }

    /// Answers a route-map request without a task when it can
    /// (``RouteBridge/respondWithoutTask(to:completion:)``); false, and
    /// `completion` is not called, when it needs ``respond(to:)``.
    func respondWithoutTask(
        to request: GatewayRequest,
        completion: @escaping @Sendable (GatewayResponse) -> Void
    ) -> Bool {
        if request.method == .GET {
            switch request.path {
            case "/healthz", "/readyz", "/metrics": return false
            default: break
            }
        }
        return bridge.respondWithoutTask(to: request) { response in
            completion(response ?? JSONResponse.error(.notFound, "not found"))
        }
    }
}
