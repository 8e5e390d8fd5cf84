import Glibc
import ObjectStore
import Testing

// S3 over HTTPS with a private CA, against a real SeaweedFS serving a certificate from a
// throwaway CA (SeaweedFS.swift, `tls`). Verification is always on: the CA comes from
// `?ca-bundle=FILE` or AWS_CA_BUNDLE, and a server the store cannot verify is refused at once.

@Suite("S3 over TLS")
struct S3TLSTests {
    /// A store for `bucket/repo` on the server's HTTPS endpoint, with the backup identity's keys
    /// and `variables` added to its environment.
    static func store(_ server: SeaweedFS, bucket: String, options: String = "",
                      variables: [String: String] = [:]) throws -> S3Store {
        let endpoint = try #require(server.httpsEndpoint)
        let keys = ["AWS_ACCESS_KEY_ID": server.backup.accessKey, "AWS_SECRET_ACCESS_KEY": server.backup.secretKey]
        let environment = S3Environment(variables: keys.merging(variables) { _, added in added }, homeDirectory: nil)
        return S3Store(configuration: try S3Configuration.parse("s3://\(bucket)/repo?endpoint=\(endpoint)\(options)",
                                                                environment: environment))
    }

    /// The shared HTTPS server with a fresh bucket on it.
    static func serverWithBucket(_ prefix: String) throws -> (server: SeaweedFS, bucket: String) {
        let server = try SeaweedFS.shared(tls: true)
        let bucket = uniqueBucketName(prefix)
        try server.createBucket(bucket)
        return (server, bucket)
    }

    /// Writes, reads back, lists and deletes through `store`.
    static func roundTrip(_ store: S3Store, seed: UInt64) throws {
        let bytes = randomBytes(200_000, seed: seed)
        try store.put(bytes, as: "data/0f/object")
        #expect(try store.get("data/0f/object") == bytes)
        #expect(try store.get("data/0f/object", range: 500..<4000) == Array(bytes[500..<4000]))
        #expect(try store.list(prefix: "data/") == [ObjectInfo(key: "data/0f/object", size: bytes.count)])
        try store.delete("data/0f/object")
        #expect(try store.size(of: "data/0f/object") == nil)
    }

    /// Runs `operation`, which must fail with `.io` at once (no retries); returns the message.
    static func refusal(_ what: String, _ operation: () throws -> Void) throws -> String {
        let started = monotonicSeconds()
        do {
            try operation()
        } catch let error as ObjectStoreError {
            let elapsed = monotonicSeconds() - started
            #expect(error.code == .io, "\(what): \(error)")
            // With retries=12 a retried request would back off for tens of seconds.
            #expect(elapsed < 3, "\(what) took \(elapsed) s: it was retried")
            #expect(!error.message.contains("attempts"), "\(what) was retried: \(error.message)")
            return error.message
        }
        Issue.record("\(what) succeeded")
        return ""
    }

    @Test("with the CA from ?ca-bundle=FILE, objects round-trip over HTTPS")
    func caBundleOption() throws {
        let (server, bucket) = try Self.serverWithBucket("tls-option")
        let caBundle = try #require(server.caBundlePath)
        let store = try Self.store(server, bucket: bucket, options: "&ca-bundle=\(caBundle)")
        #expect(store.configuration.caBundle == caBundle)
        #expect(store.configuration.endpoint.hasPrefix("https://"))
        try Self.roundTrip(store, seed: 51)
    }

    @Test("with the CA from AWS_CA_BUNDLE, objects round-trip over HTTPS")
    func caBundleEnvironment() throws {
        let (server, bucket) = try Self.serverWithBucket("tls-env")
        let caBundle = try #require(server.caBundlePath)
        let store = try Self.store(server, bucket: bucket, variables: ["AWS_CA_BUNDLE": caBundle])
        #expect(store.configuration.caBundle == caBundle)
        try Self.roundTrip(store, seed: 52)
    }

    @Test("without the CA, the server is refused at once with a message that names the fix")
    func untrusted() throws {
        let (server, bucket) = try Self.serverWithBucket("tls-none")
        let store = try Self.store(server, bucket: bucket, options: "&retries=12")
        #expect(store.configuration.caBundle == nil)
        for (what, operation) in [("put", { try store.put([1, 2, 3], as: "config") }),
                                  ("get", { _ = try store.get("config") })] as [(String, () throws -> Void)] {
            let message = try Self.refusal(what, operation)
            #expect(message.contains("s3://\(bucket)/repo"), "\(message)")
            #expect(message.contains("certificate is not trusted"), "\(message)")
            #expect(message.contains("?ca-bundle=FILE"), "\(message)")
            #expect(message.contains("AWS_CA_BUNDLE"), "\(message)")
        }
        // Nothing got through: the object is not there.
        #expect(try server.request("HEAD", "/\(bucket)/repo/config", as: server.admin).status == 404)
    }

    @Test("a CA bundle of another CA is refused the same way")
    func otherAuthority() throws {
        let (server, bucket) = try Self.serverWithBucket("tls-other")
        let directory = try temporaryDirectory(prefix: "lifeboat-tls-other")
        defer { removeTree(directory) }
        let other = try makeCertificateAuthority(in: directory, name: "Some other CA")
        #expect(try readFile(other.certificate) != readFile(try #require(server.caBundlePath)))
        let store = try Self.store(server, bucket: bucket, options: "&ca-bundle=\(other.certificate)&retries=12")
        let message = try Self.refusal("put") { try store.put([1, 2, 3], as: "config") }
        #expect(message.contains("certificate is not trusted"), "\(message)")
        #expect(message.contains("?ca-bundle=FILE"), "\(message)")
        #expect(try server.request("HEAD", "/\(bucket)/repo/config", as: server.admin).status == 404)
    }

    @Test("a ca-bundle that does not exist, or holds no certificate, is an error naming the file")
    func unusableBundle() throws {
        let (server, bucket) = try Self.serverWithBucket("tls-missing")
        let directory = try temporaryDirectory(prefix: "lifeboat-tls-unusable")
        defer { removeTree(directory) }
        let garbage = directory + "/not-a-bundle.pem"
        try writeFile(garbage, "this is no PEM certificate\n")
        for bundle in [directory + "/absent/private-ca.pem", garbage] {
            let store = try Self.store(server, bucket: bucket, options: "&ca-bundle=\(bundle)&retries=12")
            let message = try Self.refusal("get with \(bundle)") { _ = try store.get("config") }
            #expect(message.contains("cannot load the CA bundle \(bundle) (from ?ca-bundle="), "\(message)")
            #expect(message.contains("holds PEM certificates"), "\(message)")
            #expect(!message.contains("certificate is not trusted"), "\(message)")
        }
    }

    @Test("lifeboat init, backup and restore over HTTPS with ?ca-bundle=; without it the CLI names the fix")
    func commandLine() throws {
        let (server, bucket) = try Self.serverWithBucket("tls-cli")
        let endpoint = try #require(server.httpsEndpoint)
        let caBundle = try #require(server.caBundlePath)
        try Sandbox.with { sandbox in
            let env = S3RepositoryTests.environment(server, url: "s3://\(bucket)/cli?endpoint=\(endpoint)&ca-bundle=\(caBundle)")
            let source = sandbox.path("source")
            try S3RepositoryTests.makeTree(at: source, seed: 53)
            let initialised = try sandbox.run(["init", "--kdf-log-n", "14"], env: env)
            #expect(initialised.status == 0, "\(initialised)")
            let summary = try sandbox.backup([source], env: env)
            #expect(summary.filesNew == 3)
            let restored = sandbox.path("restored")
            let restore = try sandbox.run(["restore", "latest", "--target", restored], env: env)
            #expect(restore.status == 0, "\(restore)")
            #expect(try treeDifferences(source, restored + source) == [])
            // The objects are really in the bucket (read over plain HTTP, as the admin).
            #expect(try server.request("HEAD", "/\(bucket)/cli/config", as: server.admin).status == 200)

            let untrusted = S3RepositoryTests.environment(server, url: "s3://\(bucket)/cli?endpoint=\(endpoint)")
            let refused = try sandbox.run(["snapshots"], env: untrusted)
            #expect(refused.status == 1, "\(refused)")
            #expect(refused.err.contains("certificate is not trusted"), "\(refused)")
            #expect(refused.err.contains("?ca-bundle=FILE"), "\(refused)")
        }
    }
}

/// The harness's HTTPS mode itself, with the curl CLI as the client.
@Suite("ServerHarness: SeaweedFS over HTTPS")
struct S3TLSHarnessTests {
    @Test("weed serves S3 over HTTPS with a certificate for 127.0.0.1 and localhost from its CA, and plain HTTP beside it")
    func servesHTTPS() throws {
        let server = try SeaweedFS.shared(tls: true)
        let endpoint = try #require(server.httpsEndpoint)
        let caBundle = try #require(server.caBundlePath)
        #expect(endpoint == "https://127.0.0.1:\(try #require(server.httpsPort))")
        #expect(server.httpsPort != server.s3Port)

        let trusted = try server.request("GET", endpoint + "/", as: server.admin)
        #expect(trusted.status == 200, "\(trusted)")
        #expect(trusted.text.contains("<ListAllMyBucketsResult"), "\(trusted)")
        let byName = try server.request("GET", endpoint.replacing("127.0.0.1", with: "localhost") + "/", as: server.admin)
        #expect(byName.status == 200, "\(byName)")
        let plain = try server.request("GET", "/", as: server.admin)
        #expect(plain.status == 200, "\(plain)")

        // curl without the CA: peer certificate cannot be authenticated (60).
        let unverified = try curlRequest("GET", endpoint + "/", as: server.admin, in: server.home)
        #expect(unverified.curlStatus == 60, "\(unverified)")
        #expect(unverified.status == 0)
        #expect(try readText(caBundle).hasPrefix("-----BEGIN CERTIFICATE-----"))
    }

    @Test("a plain (non-TLS) server has no HTTPS endpoint")
    func plainHasNoHTTPS() throws {
        let server = try SeaweedFS.shared()
        #expect(server.httpsPort == nil)
        #expect(server.httpsEndpoint == nil)
        #expect(server.caBundlePath == nil)
    }
}
