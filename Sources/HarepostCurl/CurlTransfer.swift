import CCurl
import HarepostNetworkPolicy

#if canImport(Glibc)
    import Glibc
#endif

/// One request on its way through curl: the easy handle's options point at
/// this object's storage, and curl's callbacks fill in the response. Touched
/// only by the multi loop's thread once submitted.
final class CurlTransfer: @unchecked Sendable {
    let id: UInt64
    let request: OutboundRequest
    let continuation: CheckedContinuation<OutboundResult, Never>
    let responseBodyLimit: Int
    var requestHeaders: UnsafeMutablePointer<curl_slist>?
    var responseHeaders: [(name: String, value: String)] = []
    var responseBody: [UInt8] = []
    /// An internal address the connect-time guard refused.
    var blockedAddress: String?
    /// Whether the guard let any address through.
    var allowedAddressTried = false
    let errorBuffer: UnsafeMutablePointer<CChar>

    static let maximumResponseHeaders = 100
    static let maximumResponseHeaderBytes = 8192

    init(
        id: UInt64,
        request: OutboundRequest,
        responseBodyLimit: Int,
        continuation: CheckedContinuation<OutboundResult, Never>
    ) {
        self.id = id
        self.request = request
        self.responseBodyLimit = responseBodyLimit
        self.continuation = continuation
        self.errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE))
        self.errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE))
    }

    deinit {
        curl_slist_free_all(requestHeaders)
        errorBuffer.deallocate()
    }

    var context: UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() }

    static func from(_ context: UnsafeMutableRawPointer?) -> CurlTransfer? {
        context.map { Unmanaged<CurlTransfer>.fromOpaque($0).takeUnretainedValue() }
    }

    /// curl's error text for the transfer, or the code's generic text.
    func errorText(_ code: CURLcode) -> String {
        if errorBuffer.pointee != 0 { return String(cString: errorBuffer) }
        return String(cString: curl_easy_strerror(code))
    }

    // MARK: curl callbacks (C function pointers: no captures)

    /// Keeps the first `responseBodyLimit` bytes of the body and discards the rest.
    static let bodyCallback: hp_curl_data_callback = { data, size, count, context in
        let length = size * count
        guard let transfer = from(context), let data else { return length }
        let room = transfer.responseBodyLimit - transfer.responseBody.count
        if room > 0 {
            transfer.responseBody.append(
                contentsOf: UnsafeRawBufferPointer(start: data, count: min(room, length))
            )
        }
        return length
    }

    /// One header line at a time; a status line starts a new response
    /// (after a `100 Continue`), so only the final response's headers remain.
    static let headerCallback: hp_curl_data_callback = { data, size, count, context in
        let length = size * count
        guard let transfer = from(context), let data else { return length }
        let line = UnsafeRawBufferPointer(start: data, count: length)
        if line.starts(with: "HTTP/".utf8) {
            transfer.responseHeaders.removeAll()
            return length
        }
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")),
            transfer.responseHeaders.count < maximumResponseHeaders
        else { return length }
        func trimmed(_ bytes: UnsafeRawBufferPointer.SubSequence) -> String {
            let whitespace: Set<UInt8> = [32, 9, 13, 10]
            let start = bytes.firstIndex { !whitespace.contains($0) } ?? bytes.endIndex
            let end = bytes.lastIndex { !whitespace.contains($0) }.map { $0 + 1 } ?? start
            return String(decoding: bytes[start..<max(start, end)].prefix(maximumResponseHeaderBytes), as: UTF8.self)
        }
        transfer.responseHeaders.append((trimmed(line[..<colon]), trimmed(line[(colon + 1)...])))
        return length
    }

    /// The connect-time SSRF guard: called for every address curl is about to
    /// connect to (after DNS, so a rebinding answer is caught here).
    static let openSocketCallback: hp_curl_open_socket_callback = { context, _, address in
        guard let transfer = from(context), let address else { return CURL_SOCKET_BAD }
        var text = [CChar](repeating: 0, count: 64)
        let formatted = hp_curl_sockaddr_text(address, &text, text.count) == 0
        let host = formatted ? String(cString: text) : "unknown"
        if !formatted || TargetAddressPolicy.isInternal(host) {
            transfer.blockedAddress = host
            return CURL_SOCKET_BAD
        }
        transfer.allowedAddressTried = true
        return socket(address.pointee.family, address.pointee.socktype, address.pointee.protocol)
    }
}
