import CCurl
import Foundation
public import Logging
import NIOConcurrencyHelpers
public import ServiceLifecycle

/// Outbound HTTP over libcurl's multi interface, on one dedicated thread so
/// that neither DNS, TLS nor slow targets ever block Swift's cooperative pool.
/// Many requests run at once and share the multi handle's connection cache
/// (keep-alive). Redirects are not followed; TLS peers are verified.
///
/// `run()` drives the thread; requests made before it starts wait for it, and
/// requests still in flight when it stops end as `.cancelled`.
public final class CurlHTTPClient: Service, OutboundHTTP, Sendable {
    public struct Configuration: Sendable {
        /// A PEM file of CA certificates to trust instead of the system's.
        public var caBundlePath: String?
        /// Connect to private, loopback and link-local addresses (development only).
        public var allowInternalAddresses: Bool
        /// `host:port:address` overrides of DNS, as curl's `--resolve`.
        public var resolve: [String]
        /// How much of each response body to keep.
        public var maximumResponseBodyBytes: Int
        /// Idle connections kept open for reuse.
        public var maximumIdleConnections: Int
        public var userAgent: String

        public init(
            caBundlePath: String? = nil,
            allowInternalAddresses: Bool = false,
            resolve: [String] = [],
            maximumResponseBodyBytes: Int = 4096,
            maximumIdleConnections: Int = 256,
            userAgent: String = "harepost/1"
        ) {
            self.caBundlePath = caBundlePath
            self.allowInternalAddresses = allowInternalAddresses
            self.resolve = resolve
            self.maximumResponseBodyBytes = maximumResponseBodyBytes
            self.maximumIdleConnections = maximumIdleConnections
            self.userAgent = userAgent
        }
    }

    /// What callers hand the loop thread.
    struct Inbox {
        var nextID: UInt64 = 0
        var submitted: [CurlTransfer] = []
        var cancelled: [UInt64] = []
        var stopping = false
        var stopped = false
    }

    /// A libcurl handle shared between the loop thread and `curl_multi_wakeup`
    /// (the one multi call documented as safe from any thread).
    struct MultiHandle: @unchecked Sendable {
        let pointer: UnsafeMutableRawPointer
    }

    public let configuration: Configuration
    let logger: Logger
    let inbox = NIOLockedValueBox(Inbox())
    let multi: MultiHandle

    private static let globalInit: CURLcode = hp_curl_global_init()

    public init(configuration: Configuration = Configuration(), logger: Logger) {
        precondition(Self.globalInit == CURLE_OK, "curl_global_init failed")
        self.configuration = configuration
        self.logger = logger
        guard let multi = curl_multi_init() else { fatalError("curl_multi_init failed: out of memory") }
        _ = hp_curl_multi_set_long(multi, CURLMOPT_MAXCONNECTS, configuration.maximumIdleConnections)
        self.multi = MultiHandle(pointer: multi)
    }

    deinit {
        curl_multi_cleanup(multi.pointer)
    }

    /// Runs the request; never throws: every failure is an outcome.
    public func execute(_ request: OutboundRequest) async -> OutboundResult {
        let id = inbox.withLockedValue { inbox in
            defer { inbox.nextID &+= 1 }
            return inbox.nextID
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let transfer = CurlTransfer(
                    id: id,
                    request: request,
                    responseBodyLimit: configuration.maximumResponseBodyBytes,
                    continuation: continuation
                )
                let accepted = inbox.withLockedValue { inbox in
                    // Checked under the lock the cancellation handler takes, so a
                    // cancellation is seen here or finds the transfer submitted.
                    guard !inbox.stopped, !Task.isCancelled else { return false }
                    inbox.submitted.append(transfer)
                    return true
                }
                if accepted {
                    curl_multi_wakeup(multi.pointer)
                } else {
                    continuation.resume(returning: OutboundResult(outcome: .cancelled, error: "request abandoned"))
                }
            }
        } onCancel: {
            inbox.withLockedValue { $0.cancelled.append(id) }
            curl_multi_wakeup(multi.pointer)
        }
    }

    public func run() async throws {
        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                await withCheckedContinuation { (finished: CheckedContinuation<Void, Never>) in
                    let thread = Thread { [self] in
                        var loop = CurlMultiLoop(client: self)
                        loop.run()
                        finished.resume()
                    }
                    thread.name = "harepost-curl"
                    thread.start()
                }
            } onCancel: {
                self.stop()
            }
        } onGracefulShutdown: {
            self.stop()
        }
    }

    /// Ends the loop: in-flight and queued requests end as `.cancelled`.
    func stop() {
        inbox.withLockedValue { $0.stopping = true }
        curl_multi_wakeup(multi.pointer)
    }
}
