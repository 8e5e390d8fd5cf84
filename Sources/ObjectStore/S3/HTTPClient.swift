import CCurl
import Glibc
import Synchronization

/// One HTTP/1.1 exchange, as the S3 client needs it: the whole body in memory both ways
/// (objects are packs of at most 128 MiB, and multipart parts are smaller still).
struct HTTPRequest {
    var method: String
    var url: String
    var headers: [(name: String, value: String)]
}

struct HTTPResponse {
    var status: Int
    /// Header names in lower case, in the order received.
    var headers: [(name: String, value: String)]
    var body: [UInt8]

    func header(_ name: String) -> String? {
        headers.last(where: { $0.name == name })?.value
    }

    var bodyText: String { String(decoding: body, as: UTF8.self) }
}

/// A failure below HTTP: connecting, TLS, a reset, a stall, a short body.
struct TransportError: Error, CustomStringConvertible {
    var code: CURLcode
    var message: String

    var description: String { message }

    /// Worth another attempt: the network or the server may do better next time.
    var isTransient: Bool {
        switch code {
        case CURLE_SSL_CACERT_BADFILE, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM,
             CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL, CURLE_OUT_OF_MEMORY, CURLE_ABORTED_BY_CALLBACK:
            return false
        default:
            return true
        }
    }

    /// The server could not be reached at all (as opposed to a transfer that broke).
    var isUnreachable: Bool {
        [CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY].contains(code)
    }

    var isTLSVerification: Bool {
        [CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_CERTPROBLEM].contains(code)
    }
}

/// Transfer settings shared by every request of one store.
struct HTTPSettings: Sendable {
    var connectTimeout = 15
    /// Seconds with no byte moving before a transfer is abandoned (and retried).
    var stallTimeout = 60
    var caBundle: String?
    /// Shared by every transfer of the store, so the limits hold for all of them together.
    var uploadLimiter: BandwidthLimiter?
    var downloadLimiter: BandwidthLimiter?
}

/// A libcurl easy handle. Its connection stays open between requests, so a store keeps a pool of
/// them and lends each to one thread at a time.
final class CurlHandle: @unchecked Sendable {
    // @unchecked: a handle is only ever used by the one thread that took it from the pool, and the
    // pool's mutex orders the hand-over.
    private let handle: UnsafeMutableRawPointer

    init() throws {
        _ = HTTPClient.globalInitialisation
        guard let handle = curl_easy_init() else {
            throw TransportError(code: CURLE_FAILED_INIT, message: "libcurl could not create a handle (out of memory?)")
        }
        self.handle = handle
    }

    deinit {
        curl_easy_cleanup(handle)
    }

    /// Runs one request, sending `body` (for PUT and POST) and collecting the response.
    func perform(_ request: HTTPRequest, body: UnsafeRawBufferPointer?, settings: HTTPSettings) throws -> HTTPResponse {
        curl_easy_reset(handle)  // keeps the open connection and the DNS cache
        let transfer = Transfer(upload: body, uploadLimiter: settings.uploadLimiter, downloadLimiter: settings.downloadLimiter)
        let context = Unmanaged.passUnretained(transfer).toOpaque()
        var headerList: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(headerList) }
        for header in request.headers {
            headerList = curl_slist_append(headerList, "\(header.name): \(header.value)")
        }
        // curl would wait for "100 Continue" before large bodies; S3 servers answer fine without.
        headerList = curl_slist_append(headerList, "Expect:")
        headerList = curl_slist_append(headerList, "Accept:")

        var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        let code: CURLcode = errorBuffer.withUnsafeMutableBytes { errorBytes in
            CCurl_setopt_string(handle, CURLOPT_URL, request.url)
            CCurl_setopt_pointer(handle, CURLOPT_HTTPHEADER, UnsafeMutableRawPointer(headerList))
            CCurl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorBytes.baseAddress)
            CCurl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
            CCurl_setopt_long(handle, CURLOPT_HTTP_VERSION, Int(CURL_HTTP_VERSION_1_1))
            CCurl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT, settings.connectTimeout)
            CCurl_setopt_long(handle, CURLOPT_LOW_SPEED_LIMIT, 1)
            CCurl_setopt_long(handle, CURLOPT_LOW_SPEED_TIME, settings.stallTimeout)
            CCurl_setopt_long(handle, CURLOPT_TCP_KEEPALIVE, 1)
            CCurl_setopt_long(handle, CURLOPT_SSL_VERIFYPEER, 1)
            CCurl_setopt_long(handle, CURLOPT_SSL_VERIFYHOST, 2)
            CCurl_setopt_long(handle, CURLOPT_PROTOCOLS, Int(CURLPROTO_HTTP | CURLPROTO_HTTPS))
            if let caBundle = settings.caBundle {
                CCurl_setopt_string(handle, CURLOPT_CAINFO, caBundle)
            }
            CCurl_setopt_data_callback(handle, CURLOPT_HEADERFUNCTION, receiveHeader)
            CCurl_setopt_pointer(handle, CURLOPT_HEADERDATA, context)
            CCurl_setopt_data_callback(handle, CURLOPT_WRITEFUNCTION, receiveBody)
            CCurl_setopt_pointer(handle, CURLOPT_WRITEDATA, context)
            switch request.method {
            case "HEAD":
                CCurl_setopt_long(handle, CURLOPT_NOBODY, 1)
            case "GET":
                break
            case "PUT", "POST":
                // UPLOAD sends the body with a Content-Length; the method string is set below.
                CCurl_setopt_long(handle, CURLOPT_UPLOAD, 1)
                CCurl_setopt_offset(handle, CURLOPT_INFILESIZE_LARGE, curl_off_t(body?.count ?? 0))
                CCurl_setopt_data_callback(handle, CURLOPT_READFUNCTION, sendBody)
                CCurl_setopt_pointer(handle, CURLOPT_READDATA, context)
                CCurl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, request.method)
            default:
                CCurl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, request.method)
            }
            // The callbacks reach `transfer` through an unretained pointer: keep it alive.
            return withExtendedLifetime(transfer) { curl_easy_perform(handle) }
        }
        guard code == CURLE_OK else {
            let detail = String(decoding: errorBuffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let reason = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
            throw TransportError(code: code, message: reason)
        }
        var status = 0
        CCurl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        return HTTPResponse(status: status, headers: transfer.headers, body: transfer.body)
    }
}

/// The state one transfer's callbacks share; it lives for the duration of `perform`.
private final class Transfer {
    let upload: UnsafeRawBufferPointer?
    let uploadLimiter: BandwidthLimiter?
    let downloadLimiter: BandwidthLimiter?
    var uploaded = 0
    var headers: [(name: String, value: String)] = []
    var body: [UInt8] = []

    init(upload: UnsafeRawBufferPointer?, uploadLimiter: BandwidthLimiter?, downloadLimiter: BandwidthLimiter?) {
        self.upload = upload
        self.uploadLimiter = uploadLimiter
        self.downloadLimiter = downloadLimiter
    }
}

private func receiveHeader(_ buffer: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ context: UnsafeMutableRawPointer?) -> Int {
    let length = size * count
    guard let buffer, let context else { return length }
    let transfer = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
    let line = String(decoding: UnsafeRawBufferPointer(start: buffer, count: length), as: UTF8.self)
    if line.hasPrefix("HTTP/") {
        transfer.headers.removeAll()  // a new response (after "100 Continue" or similar)
    } else if let colon = line.firstIndex(of: ":") {
        let name = line[..<colon].lowercased()
        let value = line[line.index(after: colon)...].trimmingCharacters(in: " \t\r\n")
        transfer.headers.append((name: name, value: value))
        if name == "content-length", let expected = Int(value), expected > 0, expected <= 1 << 31 {
            transfer.body.reserveCapacity(expected)
        }
    }
    return length
}

private func receiveBody(_ buffer: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ context: UnsafeMutableRawPointer?) -> Int {
    let length = size * count
    guard let buffer, let context else { return length }
    let transfer = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
    transfer.body.append(contentsOf: UnsafeRawBufferPointer(start: buffer, count: length))
    // Waiting here leaves the socket unread, which slows the sender down through TCP.
    transfer.downloadLimiter?.take(length)
    return length
}

private func sendBody(_ buffer: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ context: UnsafeMutableRawPointer?) -> Int {
    guard let buffer, let context else { return 0 }
    let transfer = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
    guard let upload = transfer.upload, let base = upload.baseAddress else { return 0 }
    let length = min(size * count, upload.count - transfer.uploaded)
    transfer.uploadLimiter?.take(length)
    UnsafeMutableRawPointer(buffer).copyMemory(from: base + transfer.uploaded, byteCount: length)
    transfer.uploaded += length
    return length
}

extension StringProtocol {
    fileprivate func trimmingCharacters(in set: String) -> String {
        let characters = Set(set)
        var slice = Substring(self)
        while let first = slice.first, characters.contains(first) { slice.removeFirst() }
        while let last = slice.last, characters.contains(last) { slice.removeLast() }
        return String(slice)
    }
}

/// A pool of curl handles: requests borrow one, so connections are reused across requests
/// and no two threads share a handle.
final class HTTPClient: Sendable {
    let settings: HTTPSettings
    private let idle = Mutex<[CurlHandle]>([])

    /// libcurl's global set-up, done once before any handle exists (it is not thread-safe).
    static let globalInitialisation: Void = {
        curl_global_init(Int(CURL_GLOBAL_ALL))
    }()

    init(settings: HTTPSettings) {
        self.settings = settings
        _ = HTTPClient.globalInitialisation
    }

    func perform(_ request: HTTPRequest, body: UnsafeRawBufferPointer? = nil) throws -> HTTPResponse {
        let handle = try idle.withLock { $0.popLast() } ?? CurlHandle()
        // A handle whose transfer failed may hold a broken connection: only a success returns it.
        let response = try handle.perform(request, body: body, settings: settings)
        idle.withLock { $0.append(handle) }
        return response
    }
}

/// A token bucket over all of a store's transfers: `take` waits until `bytes` fit in the rate.
final class BandwidthLimiter: Sendable {
    let bytesPerSecond: Double
    /// What may pass at once after a pause: a quarter of a second's worth.
    private let burst: Double
    private let state: Mutex<(tokens: Double, time: Double)>

    init(bytesPerSecond: Int) {
        self.bytesPerSecond = Double(bytesPerSecond)
        burst = max(64 * 1024, Double(bytesPerSecond) / 4)
        state = Mutex((burst, BandwidthLimiter.seconds()))
    }

    func take(_ bytes: Int) {
        let wait: Double = state.withLock { state in
            let now = BandwidthLimiter.seconds()
            state.tokens = min(burst, state.tokens + (now - state.time) * bytesPerSecond) - Double(bytes)
            state.time = now
            return state.tokens < 0 ? -state.tokens / bytesPerSecond : 0
        }
        RetryPolicy.sleep(seconds: wait)
    }

    private static func seconds() -> Double {
        var clock = timespec()
        clock_gettime(CLOCK_MONOTONIC, &clock)
        return Double(clock.tv_sec) + Double(clock.tv_nsec) / 1e9
    }
}
