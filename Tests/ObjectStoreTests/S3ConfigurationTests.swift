import ObjectStore
import Testing

/// Repository URLs: what `s3://bucket/prefix?…` means, and the errors for what it can't mean.
@Suite("S3 configuration")
struct S3ConfigurationTests {
    static let environment = S3Environment(variables: ["AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI"],
                                           homeDirectory: nil)

    static func parse(_ url: String, _ variables: [String: String] = [:]) throws -> S3Configuration {
        var environment = Self.environment
        environment.variables.merge(variables) { $1 }
        return try S3Configuration.parse(url, environment: environment)
    }

    /// The message of the error parsing `url` throws (its code must be `.invalidLocation`).
    static func message(_ url: String) -> String {
        do {
            _ = try parse(url)
            return "parsed"
        } catch let error as ObjectStoreError {
            return error.code == .invalidLocation ? error.message : "code \(error.code): \(error.message)"
        } catch {
            return "\(error)"
        }
    }

    @Test("defaults: AWS in us-east-1, virtual-hosted, 8 connections, no lock")
    func defaults() throws {
        let configuration = try Self.parse("s3://my-bucket/some/prefix/")
        #expect(configuration.bucket == "my-bucket")
        #expect(configuration.prefix == "some/prefix")
        #expect(configuration.location == "s3://my-bucket/some/prefix")
        #expect(configuration.endpoint == "https://s3.us-east-1.amazonaws.com")
        #expect(configuration.region == "us-east-1")
        #expect(configuration.style == .virtual)
        #expect(configuration.connections == 8)
        #expect(configuration.objectLock == nil)
        #expect(configuration.credentials.accessKeyID == "AKIDEXAMPLE")
    }

    @Test("options, and the environment's endpoint and region")
    func options() throws {
        let configuration = try Self.parse(
            "s3://b-1/p?endpoint=http://127.0.0.1:8333/&region=eu-west-3&connections=3&upload-limit=100&lock-mode=compliance&lock-days=30&multipart-threshold=8&part-size=6&stall-timeout=5&retries=2")
        #expect(configuration.endpoint == "http://127.0.0.1:8333")
        #expect(configuration.style == .path, "custom endpoints default to path style")
        #expect(configuration.region == "eu-west-3")
        #expect(configuration.connections == 3)
        #expect(configuration.uploadLimit == 100 * 1024)
        #expect(configuration.objectLock == S3Configuration.ObjectLock(mode: .compliance, days: 30))
        #expect(configuration.multipartThreshold == 8 << 20 && configuration.partSize == 6 << 20)
        #expect(configuration.stallTimeout == 5 && configuration.maximumAttempts == 2)

        let fromEnvironment = try Self.parse("s3://b-1", ["AWS_ENDPOINT_URL": "https://minio.example:9000", "AWS_REGION": "ap-south-1"])
        #expect(fromEnvironment.endpoint == "https://minio.example:9000")
        #expect(fromEnvironment.region == "ap-south-1")
        #expect(fromEnvironment.prefix == "")
    }

    @Test("option values: %XX escapes are decoded; a + and a malformed escape stay as written")
    func optionValues() throws {
        #expect(try Self.parse("s3://b-1/p?ca-bundle=/etc/ssl/a+b%20c.pem").caBundle == "/etc/ssl/a+b c.pem")
        #expect(try Self.parse("s3://b-1/p?ca-bundle=/etc/100%zz.pem").caBundle == "/etc/100%zz.pem")
        #expect(try Self.parse("s3://b-1/p?ca-bundle=/etc/x%2").caBundle == "/etc/x%2")
    }

    @Test("credentials in the URL are refused, and never echoed", arguments: [
        "s3://b-1/p?secret=TOPSECRET", "s3://b-1/p?aws_secret_access_key=TOPSECRET", "s3://b-1/p?SecretKey=TOPSECRET",
        "s3://b-1/p?access_key=TOPSECRET", "s3://b-1/p?aws_session_token=TOPSECRET", "s3://AK:TOPSECRET@b-1/p",
        "s3://b-1/p?endpoint=http://AK:TOPSECRET@127.0.0.1:8333",
    ])
    func credentialsRefused(url: String) {
        let message = Self.message(url)
        #expect(message.contains("credentials never go in the repository URL"), "\(message)")
        #expect(!message.contains("TOPSECRET"))
    }

    @Test("bad URLs name the location, the problem and the fix", arguments: [
        ("s3://b-1/p?endpont=http://x", "unknown option 'endpont'"),
        ("s3://b-1/p?region=a&region=b", "option 'region' is given twice"),
        ("s3://b-1/p?region=", "option 'region' needs a value"),
        ("s3://b-1/p?style=sideways", "style must be 'path' or 'virtual'"),
        ("s3://b-1/p?endpoint=http://127.0.0.1:8333&style=virtual", "needs a DNS name endpoint"),
        ("s3://b-1/p?lock-mode=governance", "needs both lock-mode"),
        ("s3://b-1/p?lock-mode=forever&lock-days=3", "lock-mode must be 'governance' or 'compliance'"),
        ("s3://b-1/p?connections=0", "connections must be a whole number from 1 to 64"),
        ("s3://b-1/p?endpoint=s3.example.com", "is not a URL like https://host[:port]"),
        ("s3://b-1/p?endpoint=https://s3.example.com/base", "is not a URL like https://host[:port]"),
        ("s3://B_1/p", "is not a valid bucket name"),
        ("s3://b-1/a//b", "has an empty, '.' or '..' part"),
        ("s3://b-1/a/../b", "has an empty, '.' or '..' part"),
    ])
    func badURLs(url: String, expected: String) {
        let message = Self.message(url)
        #expect(message.contains(expected), "\(message)")
        #expect(message.hasPrefix("s3://"), "the message names the location")
        if expected.hasPrefix("unknown option") {
            #expect(!message.contains("http://x"), "an unknown option's value is not echoed: \(message)")
        }
    }
}
