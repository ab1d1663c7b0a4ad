import CCurl
import Logging
import NIOConcurrencyHelpers

/// The body of the client's thread: adds submitted transfers to the multi
/// handle, drives them, and completes each caller's continuation.
struct CurlMultiLoop {
    let client: CurlHTTPClient
    var transfers: [UnsafeMutableRawPointer: CurlTransfer] = [:]
    var handles: [UInt64: UnsafeMutableRawPointer] = [:]
    /// The `--resolve` entries, alive as long as any transfer may use them.
    let resolve: UnsafeMutablePointer<curl_slist>?

    init(client: CurlHTTPClient) {
        self.client = client
        var list: UnsafeMutablePointer<curl_slist>?
        for entry in client.configuration.resolve { list = curl_slist_append(list, entry) }
        self.resolve = list
    }

    mutating func run() {
        let multi = client.multi.pointer
        defer {
            for easy in Array(transfers.keys) { finish(easy, OutboundResult(outcome: .cancelled, error: "abandoned")) }
            curl_slist_free_all(resolve)
        }
        while true {
            let (submitted, cancelled, stopping) = client.inbox.withLockedValue { inbox in
                defer {
                    inbox.submitted.removeAll()
                    inbox.cancelled.removeAll()
                    if inbox.stopping { inbox.stopped = true }
                }
                return (inbox.submitted, inbox.cancelled, inbox.stopping)
            }
            for transfer in submitted {
                if stopping {
                    transfer.continuation.resume(returning: OutboundResult(outcome: .cancelled, error: "abandoned"))
                } else {
                    start(transfer)
                }
            }
            for id in cancelled {
                if let easy = handles[id] { finish(easy, OutboundResult(outcome: .cancelled, error: "abandoned")) }
            }
            if stopping { return }
            var running: Int32 = 0
            let performed = curl_multi_perform(multi, &running)
            if performed != CURLM_OK {
                client.logger.error(
                    "curl_multi_perform failed",
                    metadata: ["error": "\(String(cString: curl_multi_strerror(performed)))"]
                )
            }
            var queued: Int32 = 0
            while let message = curl_multi_info_read(multi, &queued) {
                guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle else { continue }
                complete(easy, code: hp_curl_message_result(message))
            }
            _ = curl_multi_poll(multi, nil, 0, 1000, nil)
        }
    }

    /// Configures an easy handle for the transfer and adds it to the multi handle.
    mutating func start(_ transfer: CurlTransfer) {
        guard let easy = curl_easy_init() else {
            transfer.continuation.resume(
                returning: OutboundResult(outcome: .connectionError, error: "curl_easy_init failed")
            )
            return
        }
        let configuration = client.configuration
        let request = transfer.request
        var problems: [CURLcode] = []
        func check(_ code: CURLcode) { if code != CURLE_OK { problems.append(code) } }
        check(hp_curl_easy_set_string(easy, CURLOPT_URL, request.url))
        check(hp_curl_easy_set_string(easy, CURLOPT_PROTOCOLS_STR, "http,https"))
        check(hp_curl_easy_set_long(easy, CURLOPT_FOLLOWLOCATION, 0))
        check(hp_curl_easy_set_long(easy, CURLOPT_NOSIGNAL, 1))
        check(hp_curl_easy_set_long(easy, CURLOPT_TIMEOUT_MS, Int(clamping: max(1, request.timeoutMilliseconds))))
        check(hp_curl_easy_set_long(easy, CURLOPT_SSL_VERIFYPEER, 1))
        check(hp_curl_easy_set_long(easy, CURLOPT_SSL_VERIFYHOST, 2))
        check(hp_curl_easy_set_long(easy, CURLOPT_TCP_KEEPALIVE, 1))
        // Never through a proxy from the environment: the guard must see the target's address.
        check(hp_curl_easy_set_string(easy, CURLOPT_PROXY, ""))
        check(hp_curl_easy_set_string(easy, CURLOPT_USERAGENT, configuration.userAgent))
        check(hp_curl_easy_set_pointer(easy, CURLOPT_ERRORBUFFER, transfer.errorBuffer))
        if let path = configuration.caBundlePath { check(hp_curl_easy_set_string(easy, CURLOPT_CAINFO, path)) }
        if let resolve { check(hp_curl_easy_set_slist(easy, CURLOPT_RESOLVE, resolve)) }
        check(hp_curl_easy_set_write_callback(easy, CurlTransfer.bodyCallback, transfer.context))
        check(hp_curl_easy_set_header_callback(easy, CurlTransfer.headerCallback, transfer.context))
        if !configuration.allowInternalAddresses {
            check(hp_curl_easy_set_open_socket_callback(easy, CurlTransfer.openSocketCallback, transfer.context))
        }
        // Headers: the request's, no `Expect: 100-continue` round trip, and no
        // content type curl would invent for a body without one.
        var headers: UnsafeMutablePointer<curl_slist>?
        for header in request.headers { headers = curl_slist_append(headers, "\(header.name): \(header.value)") }
        headers = curl_slist_append(headers, "Expect:")
        if !request.headers.contains(where: { $0.name.lowercased() == "content-type" }) {
            headers = curl_slist_append(headers, "Content-Type:")
        }
        transfer.requestHeaders = headers
        check(hp_curl_easy_set_slist(easy, CURLOPT_HTTPHEADER, headers))
        switch request.method {
        case "GET":
            check(hp_curl_easy_set_long(easy, CURLOPT_HTTPGET, 1))
        case "DELETE" where request.body.isEmpty:
            check(hp_curl_easy_set_string(easy, CURLOPT_CUSTOMREQUEST, "DELETE"))
        default:
            // POST-style with the exact bytes (copied by curl); the method name replaced.
            check(hp_curl_easy_set_off_t(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(request.body.count)))
            request.body.withUnsafeBytes { bytes in
                let empty: StaticString = ""
                let pointer = bytes.baseAddress ?? UnsafeRawPointer(empty.utf8Start)
                check(
                    hp_curl_easy_set_pointer(easy, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: pointer))
                )
            }
            if request.method != "POST" {
                check(hp_curl_easy_set_string(easy, CURLOPT_CUSTOMREQUEST, request.method))
            }
        }
        let added = problems.isEmpty ? curl_multi_add_handle(client.multi.pointer, easy) : CURLM_OK
        guard problems.isEmpty, added == CURLM_OK else {
            let reason =
                problems.first.map { String(cString: curl_easy_strerror($0)) }
                ?? String(cString: curl_multi_strerror(added))
            curl_easy_cleanup(easy)
            transfer.continuation.resume(
                returning: OutboundResult(outcome: .connectionError, error: "cannot set up the request: \(reason)")
            )
            return
        }
        transfers[easy] = transfer
        handles[transfer.id] = easy
    }

    /// A transfer curl finished: reads what happened and completes the caller.
    mutating func complete(_ easy: UnsafeMutableRawPointer, code: CURLcode) {
        guard let transfer = transfers[easy] else { return }
        var status = 0
        _ = hp_curl_easy_get_long(easy, CURLINFO_RESPONSE_CODE, &status)
        var microseconds: curl_off_t = 0
        _ = hp_curl_easy_get_off_t(easy, CURLINFO_TOTAL_TIME_T, &microseconds)
        var address: UnsafePointer<CChar>?
        _ = hp_curl_easy_get_string(easy, CURLINFO_PRIMARY_IP, &address)
        let connected = address.map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 }
        let outcome: OutboundResult.Outcome
        var error: String?
        if code == CURLE_OK {
            outcome = .response(status: status)
        } else if let blocked = transfer.blockedAddress, !transfer.allowedAddressTried {
            outcome = .blocked(address: blocked)
            error = "connection refused by harepost: \(blocked) is a private, loopback or link-local address"
        } else if code == CURLE_OPERATION_TIMEDOUT {
            outcome = .timeout
            error = transfer.errorText(code)
        } else {
            outcome = .connectionError
            error = transfer.errorText(code)
        }
        finish(
            easy,
            OutboundResult(
                outcome: outcome,
                responseHeaders: transfer.responseHeaders,
                responseBody: transfer.responseBody,
                error: error,
                durationMilliseconds: Int64(microseconds / 1000),
                connectedAddress: connected
            )
        )
    }

    /// Removes the transfer from curl and hands `result` to its caller.
    mutating func finish(_ easy: UnsafeMutableRawPointer, _ result: OutboundResult) {
        guard let transfer = transfers.removeValue(forKey: easy) else { return }
        handles.removeValue(forKey: transfer.id)
        curl_multi_remove_handle(client.multi.pointer, easy)
        curl_easy_cleanup(easy)
        transfer.continuation.resume(returning: result)
    }
}
