import FoundationEssentials
import Glibc
import Synchronization

// The S3 fault-injecting proxy (tests/tools/s3-fault-proxy.py) driven from Swift: start it in
// front of a SeaweedFS server, point the client under test at `endpoint`, add rules, and read
// back which faults fired. The module doc of the Python script describes every fault.

/// One fault rule; see tests/tools/s3-fault-proxy.py for the faults and how rules match.
struct FaultRule: Encodable, Sendable {
    /// slowdown, error500, conflict412, reset_before_headers, reset_after_headers,
    /// reset_mid_body, truncate_body, corrupt_body, stall, ok_error_body, lost_response.
    var fault: String
    /// The HTTP method to match (nil: any).
    var method: String?
    /// A regular expression searched in the request target, path and query (nil: any).
    var path: String?
    /// How many matching requests get the fault; -1 for all of them.
    var times: Int = 1
    /// How many matching requests pass cleanly before the fault starts.
    var skip: Int = 0
    /// `slowdown`: the Retry-After value in seconds (default 1).
    var retryAfter: Int?
    /// `stall`: how long to send nothing (default 30).
    var seconds: Int?

    init(fault: String, method: String? = nil, path: String? = nil, times: Int = 1, skip: Int = 0,
         retryAfter: Int? = nil, seconds: Int? = nil) {
        self.fault = fault
        self.method = method
        self.path = path
        self.times = times
        self.skip = skip
        self.retryAfter = retryAfter
        self.seconds = seconds
    }

    enum CodingKeys: String, CodingKey {
        case fault, method, path, times, skip, retryAfter = "retry_after", seconds
    }
}

/// What the proxy saw since it started (or since `resetStats()`).
struct FaultStats: Decodable, Sendable {
    /// Requests received from clients.
    var requests: Int
    /// The faults that fired, in order.
    var faults: [Fired]
    /// The last 1000 requests.
    var log: [Entry]

    struct Fired: Decodable, Sendable, Equatable {
        var rule: Int
        var fault: String
        var method: String
        var path: String
    }

    struct Entry: Decodable, Sendable {
        var method: String
        var path: String
        /// The status the client received; nil when no status line reached it.
        var status: Int?
        /// What the real server answered; nil when the request was not forwarded.
        var upstreamStatus: Int?
        var fault: String?

        enum CodingKeys: String, CodingKey {
            case method, path, status, upstreamStatus = "upstream_status", fault
        }
    }
}

final class FaultProxy: Sendable {
    /// The traffic port on 127.0.0.1.
    let port: Int
    /// The control API port on 127.0.0.1.
    let controlPort: Int
    /// Where the proxy writes what it did (the faults it fired, upstream errors).
    let logPath: String

    /// The endpoint S3 clients use instead of the server's: `http://127.0.0.1:<port>`.
    var endpoint: String { "http://127.0.0.1:\(port)" }

    private let directory: String
    private let pid: Mutex<pid_t?>

    private static let started = Atomic<Int>(0)

    /// Starts a proxy in front of `127.0.0.1:upstreamPort`, its output in `directory`. It exits
    /// by itself once the process `parent` is gone, and after 30 minutes in any case.
    static func start(upstreamPort: Int, in directory: String, watching parent: pid_t = getpid()) throws -> FaultProxy {
        let base = directory + "/fault-proxy-\(started.add(1, ordering: .relaxed).newValue)"
        let script = Tools.packageRoot + "/tests/tools/s3-fault-proxy.py"
        let process = try spawn(try Tools.python(),
                                [script, "--upstream", "127.0.0.1:\(upstreamPort)", "--parent-pid", "\(parent)", "--max-seconds", "1800"],
                                environment: toolEnvironment.merging(["PYTHONDONTWRITEBYTECODE": "1"]) { $1 },
                                stdinPath: "/dev/null", stdoutPath: base + ".out", stderrPath: base + ".log")
        let deadline = monotonicSeconds() + 15
        while true {
            if let line = try? readText(base + ".out"), line.hasSuffix("\n"),
               let ready = try? JSONDecoder().decode(Ready.self, from: Data(line.utf8)) {
                return FaultProxy(port: ready.port, controlPort: ready.controlPort, pid: process.pid,
                                  directory: directory, logPath: base + ".log")
            }
            var status: Int32 = 0
            if waitpid(process.pid, &status, WNOHANG) == process.pid {
                throw HarnessError("the fault proxy exited while starting (status \(status)):\n\(tail(base + ".log"))")
            }
            if monotonicSeconds() > deadline {
                Glibc.kill(process.pid, SIGKILL)
                waitpid(process.pid, &status, 0)
                throw HarnessError("the fault proxy did not start within 15 s:\n\(tail(base + ".log"))")
            }
            usleep(5_000)
        }
    }

    private struct Ready: Decodable {
        var port: Int
        var controlPort: Int
        enum CodingKeys: String, CodingKey { case port, controlPort = "control_port" }
    }

    private init(port: Int, controlPort: Int, pid: pid_t, directory: String, logPath: String) {
        self.port = port
        self.controlPort = controlPort
        self.pid = Mutex(pid)
        self.directory = directory
        self.logPath = logPath
    }

    deinit { stop() }

    /// Appends rules; they apply to requests from now on.
    func inject(_ rules: [FaultRule]) throws {
        _ = try control("POST", "/rules", body: Array(try JSONEncoder().encode(rules)))
    }

    /// Removes every rule: from now on requests pass cleanly.
    func clear() throws {
        _ = try control("DELETE", "/rules")
    }

    /// The requests seen and the faults fired.
    func stats() throws -> FaultStats {
        try JSONDecoder().decode(FaultStats.self, from: Data(try control("GET", "/stats").body))
    }

    /// Zeroes the request count and empties the fault list and the log.
    func resetStats() throws {
        _ = try control("DELETE", "/stats")
    }

    /// Waits up to `seconds` for the proxy to exit by itself; whether it did.
    func hasEnded(within seconds: Double) -> Bool {
        let deadline = monotonicSeconds() + seconds
        while true {
            let ended = pid.withLock { pid -> Bool in
                guard let current = pid else { return true }
                var status: Int32 = 0
                guard waitpid(current, &status, WNOHANG) == current else { return false }
                pid = nil
                return true
            }
            if ended { return true }
            if monotonicSeconds() > deadline { return false }
            usleep(20_000)
        }
    }

    /// Stops the proxy (SIGTERM; it holds no state worth a grace period). Idempotent.
    func stop() {
        guard let pid = pid.withLock({ pid in
            defer { pid = nil }
            return pid
        }) else { return }
        Glibc.kill(pid, SIGTERM)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
    }

    private func control(_ method: String, _ path: String, body: [UInt8]? = nil) throws -> CurlResponse {
        let response = try curlRequest(method, "http://127.0.0.1:\(controlPort)\(path)", as: nil, body: body,
                                       headers: body == nil ? [] : ["Content-Type: application/json"], maxTime: 10, in: directory)
        guard response.status == 200 else {
            throw HarnessError("fault proxy \(method) \(path): \(response)")
        }
        return response
    }
}
