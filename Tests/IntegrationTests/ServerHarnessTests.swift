import FoundationEssentials
import Glibc
import Testing

// Checks of the S3 test infrastructure itself (SeaweedFS.swift, FaultProxy.swift and
// tests/tools/s3-fault-proxy.py), with the curl CLI as the client: if these pass, a failing
// S3 test points at the product, not at the harness.

@Suite("ServerHarness: SeaweedFS")
struct ServerHarnessSeaweedFSTests {
    @Test("weed mini starts, creates buckets, stores objects and checks signatures")
    func startsAndChecksSignatures() throws {
        let started = monotonicSeconds()
        try withSeaweedFS(buckets: ["harness-plain"]) { server in
            print("SeaweedFS ready in \(Int((monotonicSeconds() - started) * 1000)) ms on \(server.endpoint)")
            let payload = randomBytes(100_000, seed: 1)

            let put = try server.request("PUT", "/harness-plain/dir/object", as: server.backup, body: payload)
            #expect(put.status == 200, "\(put)")
            let get = try server.request("GET", "/harness-plain/dir/object", as: server.backup)
            #expect(get.status == 200, "\(get)")
            #expect(get.body == payload)
            let head = try server.request("HEAD", "/harness-plain/dir/object", as: server.backup)
            #expect(head.headers["content-length"] == "100000")

            let forged = try server.request("GET", "/harness-plain/dir/object", as: (server.backup.accessKey, "not-the-secret"))
            #expect(forged.status == 403)
            #expect(forged.errorCode == "SignatureDoesNotMatch")
            let anonymous = try server.request("GET", "/harness-plain/dir/object", as: nil)
            #expect(anonymous.status == 403)
            #expect(anonymous.errorCode == "AccessDenied")

            // Create-only writes: the server honours If-None-Match.
            let again = try server.request("PUT", "/harness-plain/dir/object", as: server.backup, body: [1, 2, 3],
                                           headers: ["If-None-Match: *"])
            #expect(again.status == 412)
            #expect(again.errorCode == "PreconditionFailed")
            #expect(try server.request("GET", "/harness-plain/dir/object", as: server.backup).body == payload)

            // Only admin makes buckets.
            let denied = try server.request("PUT", "/harness-second", as: server.backup)
            #expect(denied.status == 403)
            #expect(denied.errorCode == "AccessDenied")
            try server.createBucket("harness-second")
            let listing = try server.request("GET", "/", as: server.admin)
            #expect(listing.text.contains("<Name>harness-plain</Name>"))
            #expect(listing.text.contains("<Name>harness-second</Name>"))
            #expect(throws: HarnessError.self) { try server.createBucket("ab") }
        }
    }

    @Test("Object Lock: a version under retention cannot be deleted")
    func objectLock() throws {
        let server = try SeaweedFS.shared()
        let bucket = uniqueBucketName("locked")
        try server.createBucket(bucket, objectLock: true)
        let payload = randomBytes(1000, seed: 2)
        let put = try server.request("PUT", "/\(bucket)/pack", as: server.backup, body: payload, headers: [
            "x-amz-object-lock-mode: GOVERNANCE",
            "x-amz-object-lock-retain-until-date: \(utcTimestamp(secondsFromNow: 86_400))",
        ])
        #expect(put.status == 200, "\(put)")
        let version = try #require(put.headers["x-amz-version-id"])

        for identity in [server.backup, server.admin] {
            let delete = try server.request("DELETE", "/\(bucket)/pack?versionId=\(version)", as: identity)
            #expect(delete.status == 403, "\(delete)")
        }
        let get = try server.request("GET", "/\(bucket)/pack?versionId=\(version)", as: server.backup)
        #expect(get.body == payload)
    }

    @Test("kill() makes the server unreachable; restart() brings it back with its data")
    func killAndRestart() throws {
        try withSeaweedFS(buckets: ["harness-restart"]) { server in
            let payload = randomBytes(5000, seed: 3)
            #expect(try server.request("PUT", "/harness-restart/kept", as: server.backup, body: payload).status == 200)

            server.kill()
            let unreachable = try server.request("GET", "/harness-restart/kept", as: server.backup, maxTime: 5)
            #expect(unreachable.status == 0)
            #expect(unreachable.curlStatus == 7, "\(unreachable)")  // could not connect

            let started = monotonicSeconds()
            try server.restart()
            print("SeaweedFS restarted in \(Int((monotonicSeconds() - started) * 1000)) ms")
            // The S3 gateway answers before the volume server has registered again; until then
            // reads get 500 InternalError (which Lifeboat's client retries). Wait for it, 20 s at most.
            var get = try server.request("GET", "/harness-restart/kept", as: server.backup)
            let deadline = monotonicSeconds() + 20
            while get.status == 500 && monotonicSeconds() < deadline {
                usleep(200_000)
                get = try server.request("GET", "/harness-restart/kept", as: server.backup)
            }
            #expect(get.status == 200, "\(get.status) \(get.errorCode ?? "")")
            #expect(get.body.count == payload.count && get.body == payload, "the data survived the kill")
        }
    }

    @Test("a server whose test process is gone stops by itself")
    func stopsWithoutItsTestProcess() throws {
        try Sandbox.with { sandbox in
            // A stand-in for the test process, ended (and reaped) while the server runs.
            let standIn = try sandbox.start(program: "/bin/sleep", ["600"])
            let server = try SeaweedFS.start(in: sandbox.root, watching: standIn.pid)
            defer { server.stop() }
            #expect(try server.request("GET", "/", as: server.admin).status == 200)

            kill(standIn.pid, SIGKILL)
            _ = try standIn.wait()
            #expect(server.hasEnded(within: 15))
            #expect(try server.request("GET", "/", as: server.admin, maxTime: 5).curlStatus == 7)
        }
    }
}

@Suite("ServerHarness: fault proxy")
struct ServerHarnessFaultProxyTests {
    /// 100 000 bytes, so "half" is 50 000.
    let payload = randomBytes(100_000, seed: 4)

    /// A proxy in front of the shared server, a fresh bucket, and `payload` stored as `object`.
    func withProxy(_ body: (SeaweedFS, FaultProxy, String) throws -> Void) throws {
        let server = try SeaweedFS.shared()
        try Sandbox.with { sandbox in
            let proxy = try FaultProxy.start(upstreamPort: server.s3Port, in: sandbox.root)
            defer { proxy.stop() }
            let bucket = uniqueBucketName("proxy")
            try server.createBucket(bucket)
            let put = try server.request("PUT", "/\(bucket)/object", as: server.backup, body: payload)
            guard put.status == 200 else { throw HarnessError("cannot store the test object: \(put)") }
            try body(server, proxy, bucket)
        }
    }

    @Test("without rules, requests and answers pass unchanged, signatures included")
    func passesCleanly() throws {
        try withProxy { server, proxy, bucket in
            let url = proxy.endpoint + "/\(bucket)/object"
            let get = try server.request("GET", url, as: server.backup)
            #expect(get.status == 200)
            #expect(get.curlStatus == 0)
            #expect(get.body == payload)
            #expect(get.headers["etag"] == (try server.request("HEAD", "/\(bucket)/object", as: server.backup)).headers["etag"])

            let second = randomBytes(3000, seed: 5)
            #expect(try server.request("PUT", url + "-2", as: server.backup, body: second).status == 200)
            #expect(try server.request("GET", "/\(bucket)/object-2", as: server.backup).body == second)
            #expect(try server.request("HEAD", url, as: server.backup).headers["content-length"] == "100000")
            let missing = try server.request("GET", url + "-none", as: server.backup)
            #expect(missing.status == 404)
            #expect(missing.errorCode == "NoSuchKey")
            let forged = try server.request("GET", url, as: (server.backup.accessKey, "not-the-secret"))
            #expect(forged.errorCode == "SignatureDoesNotMatch")

            let stats = try proxy.stats()
            #expect(stats.requests == 5)
            #expect(stats.faults.isEmpty)
            #expect(stats.log.map(\.status) == [200, 200, 200, 404, 403].map(Optional.some))
            #expect(stats.log.map(\.method) == ["GET", "PUT", "HEAD", "GET", "GET"])
        }
    }

    @Test("client keep-alive: several requests on one connection")
    func keepAlive() throws {
        try withProxy { server, proxy, bucket in
            try Sandbox.with { sandbox in
                // One curl process, three URLs: curl reuses its connection.
                try writeFile(sandbox.path("curl.cfg"), "user = \"\(server.backup.accessKey):\(server.backup.secretKey)\"\naws-sigv4 = \"aws:amz:us-east-1:s3\"\n", mode: 0o600)
                let url = proxy.endpoint + "/\(bucket)/object"
                let result = try sandbox.runProgram(try Tools.program("curl"), [
                    "-q", "-sS", "--noproxy", "*", "-K", sandbox.path("curl.cfg"), "-w", "%{http_code} %{num_connects} %{size_download}\n",
                    "-o", sandbox.path("1"), url, "-o", sandbox.path("2"), url, "-o", sandbox.path("3"), url + "-none",
                ])
                #expect(result.status == 0, "\(result)")
                #expect(result.out == "200 1 100000\n200 0 100000\n404 0 \(try readFile(sandbox.path("3")).count)\n")
                #expect(try readFile(sandbox.path("2")) == payload)
            }
        }
    }

    @Test("rules: skip lets requests through first, times limits the faults, then the rule is spent")
    func skipAndTimes() throws {
        try withProxy { server, proxy, bucket in
            try proxy.inject([FaultRule(fault: "error500", method: "GET", path: "/object$", times: 2, skip: 1)])
            let url = proxy.endpoint + "/\(bucket)/object"
            var statuses: [Int] = []
            for _ in 0..<4 { statuses.append(try server.request("GET", url, as: server.backup).status) }
            #expect(statuses == [200, 500, 500, 200])
            // Neither another method nor another path matches.
            #expect(try server.request("HEAD", url, as: server.backup).status == 200)

            try proxy.inject([FaultRule(fault: "error500", times: -1)])
            #expect(try server.request("GET", url, as: server.backup).status == 500)
            #expect(try server.request("GET", url, as: server.backup).status == 500)
            try proxy.clear()
            #expect(try server.request("GET", url, as: server.backup).status == 200)

            let stats = try proxy.stats()
            #expect(stats.faults.map(\.rule) == [0, 0, 1, 1])
            #expect(stats.faults.first == FaultStats.Fired(rule: 0, fault: "error500", method: "GET", path: "/\(bucket)/object"))
            try proxy.resetStats()
            #expect(try proxy.stats().requests == 0)
            #expect(throws: HarnessError.self) { try proxy.inject([FaultRule(fault: "no-such-fault")]) }
            #expect(throws: HarnessError.self) { try proxy.inject([FaultRule(fault: "stall", path: "(")]) }
        }
    }

    @Test("slowdown: 503 SlowDown with Retry-After, not forwarded")
    func slowdown() throws {
        try withProxy { server, proxy, bucket in
            try proxy.inject([FaultRule(fault: "slowdown", method: "PUT", retryAfter: 3)])
            let put = try server.request("PUT", proxy.endpoint + "/\(bucket)/slow", as: server.backup, body: [1, 2, 3])
            #expect(put.status == 503)
            #expect(put.errorCode == "SlowDown")
            #expect(put.headers["retry-after"] == "3")
            #expect(try server.request("HEAD", "/\(bucket)/slow", as: server.backup).status == 404)
            #expect(try proxy.stats().log.first?.upstreamStatus == nil)
        }
    }

    @Test("error500 and conflict412: S3 XML errors, not forwarded")
    func errorAnswers() throws {
        try withProxy { server, proxy, bucket in
            try proxy.inject([FaultRule(fault: "error500", method: "GET"), FaultRule(fault: "conflict412", method: "PUT")])
            let get = try server.request("GET", proxy.endpoint + "/\(bucket)/object", as: server.backup)
            #expect(get.status == 500)
            #expect(get.errorCode == "InternalError")
            let put = try server.request("PUT", proxy.endpoint + "/\(bucket)/new", as: server.backup, body: [1],
                                         headers: ["If-None-Match: *"])
            #expect(put.status == 412)
            #expect(put.errorCode == "PreconditionFailed")
            #expect(try server.request("HEAD", "/\(bucket)/new", as: server.backup).status == 404)
        }
    }

    @Test("reset_before_headers: the client gets a reset, the server never sees the request")
    func resetBeforeHeaders() throws {
        try withProxy { server, proxy, bucket in
            try proxy.inject([FaultRule(fault: "reset_before_headers", method: "PUT")])
            let put = try server.request("PUT", proxy.endpoint + "/\(bucket)/reset", as: server.backup, body: payload)
            #expect(put.status == 0)
            #expect(put.curlStatus == 56, "\(put)")  // failure receiving: connection reset
            #expect(put.error.contains("reset"))
            #expect(try server.request("HEAD", "/\(bucket)/reset", as: server.backup).status == 404)
        }
    }

    @Test("reset_after_headers: the status line and headers arrive, then a reset")
    func resetAfterHeaders() throws {
        try withProxy { server, proxy, bucket in
            try proxy.inject([FaultRule(fault: "reset_after_headers", method: "GET")])
            let get = try server.request("GET", proxy.endpoint + "/\(bucket)/object", as: server.backup)
            #expect(get.status == 200)
            #expect(get.headers["content-length"] == "100000")
            #expect(get.curlStatus == 56, "\(get)")
            #expect(get.body.isEmpty)
        }
    }

    @Test("reset_mid_body: half the body arrives, then a reset")
    func resetMidBody() throws {
        try withProxy { server, proxy, bucket in
            try proxy.inject([FaultRule(fault: "reset_mid_body", method: "GET")])
            let get = try server.request("GET", proxy.endpoint + "/\(bucket)/object", as: server.backup)
            #expect(get.status == 200)
            #expect(get.curlStatus == 56, "\(get)")
            #expect(get.body == Array(payload[..<50_000]))
        }
    }

    @Test("truncate_body: a shorter Content-Length and half the body, a clean end")
    func truncateBody() throws {
        try withProxy { server, proxy, bucket in
            try proxy.inject([FaultRule(fault: "truncate_body", method: "GET")])
            let get = try server.request("GET", proxy.endpoint + "/\(bucket)/object", as: server.backup)
            #expect(get.status == 200)
            #expect(get.curlStatus == 0, "\(get)")
            #expect(get.headers["content-length"] == "50000")
            #expect(get.body == Array(payload[..<50_000]))
        }
    }

    @Test("corrupt_body: same length, exactly one byte flipped, in the middle")
    func corruptBody() throws {
        try withProxy { server, proxy, bucket in
            try proxy.inject([FaultRule(fault: "corrupt_body", method: "GET")])
            let get = try server.request("GET", proxy.endpoint + "/\(bucket)/object", as: server.backup)
            #expect(get.status == 200)
            #expect(get.curlStatus == 0)
            #expect(get.body.count == payload.count)
            let differences = get.body.indices.filter { get.body[$0] != payload[$0] }
            #expect(differences == [50_000])
            #expect(get.body[50_000] == payload[50_000] ^ 0xFF)
            // The next request is clean.
            #expect(try server.request("GET", proxy.endpoint + "/\(bucket)/object", as: server.backup).body == payload)
        }
    }

    @Test("stall: headers and half the body, then silence; curl --max-time gives up")
    func stall() throws {
        try withProxy { server, proxy, bucket in
            try proxy.inject([FaultRule(fault: "stall", method: "GET", seconds: 20)])
            let started = monotonicSeconds()
            let get = try server.request("GET", proxy.endpoint + "/\(bucket)/object", as: server.backup, maxTime: 2)
            let elapsed = monotonicSeconds() - started
            #expect(get.status == 200)
            #expect(get.curlStatus == 28, "\(get)")  // operation timed out
            #expect(get.body == Array(payload[..<50_000]))
            #expect(elapsed >= 1.9 && elapsed < 6, "took \(elapsed) s")
        }
    }

    @Test("ok_error_body: the server did the work, the client gets 200 with an error body")
    func okErrorBody() throws {
        try withProxy { server, proxy, bucket in
            try proxy.inject([FaultRule(fault: "ok_error_body", method: "PUT")])
            let body = randomBytes(2000, seed: 6)
            let put = try server.request("PUT", proxy.endpoint + "/\(bucket)/copied", as: server.backup, body: body)
            #expect(put.status == 200)
            #expect(put.errorCode == "InternalError")
            #expect(try server.request("GET", "/\(bucket)/copied", as: server.backup).body == body)
        }
    }

    @Test("lost_response: the write happened, the client saw a reset; its retry meets 412 from the real server")
    func lostResponse() throws {
        try withProxy { server, proxy, bucket in
            try proxy.inject([FaultRule(fault: "lost_response", method: "PUT", path: "/snapshot$")])
            let body = randomBytes(4000, seed: 7)
            let url = proxy.endpoint + "/\(bucket)/snapshot"
            let first = try server.request("PUT", url, as: server.backup, body: body, headers: ["If-None-Match: *"])
            #expect(first.status == 0, "\(first)")
            #expect(first.curlStatus == 56, "\(first)")
            #expect(try server.request("GET", "/\(bucket)/snapshot", as: server.backup).body == body)

            let retry = try server.request("PUT", url, as: server.backup, body: body, headers: ["If-None-Match: *"])
            #expect(retry.status == 412)
            #expect(retry.errorCode == "PreconditionFailed")

            let log = try proxy.stats().log
            #expect(log.count == 2)
            #expect(log.first?.status == nil)
            #expect(log.first?.upstreamStatus == 200)
            #expect(log.first?.fault == "lost_response")
            #expect(log.last?.upstreamStatus == 412)
        }
    }

    @Test("a proxy whose test process is gone exits by itself")
    func exitsWithoutItsTestProcess() throws {
        try Sandbox.with { sandbox in
            let standIn = try sandbox.start(program: "/bin/sleep", ["600"])
            let proxy = try FaultProxy.start(upstreamPort: 9, in: sandbox.root, watching: standIn.pid)
            defer { proxy.stop() }
            #expect(try proxy.stats().requests == 0)
            kill(standIn.pid, SIGKILL)
            _ = try standIn.wait()
            #expect(proxy.hasEnded(within: 5))
        }
    }
}

// MARK: - Helpers

/// A bucket name no other test uses: `<prefix>-<12 random hex digits>`.
func uniqueBucketName(_ prefix: String) -> String {
    let digits = Array("0123456789abcdef")
    return prefix + "-" + String((0..<12).map { _ in digits[Int.random(in: 0..<16)] })
}

/// `now + seconds` as an ISO 8601 UTC timestamp (`2030-01-01T00:00:00Z`), as S3 headers want.
func utcTimestamp(secondsFromNow seconds: Int) -> String {
    var time = Glibc.time(nil) + seconds
    var parts = tm()
    gmtime_r(&time, &parts)
    var buffer = [CChar](repeating: 0, count: 32)
    let count = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%SZ", &parts)
    return String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
