import Glibc
import Testing
import ObjectStore

@Suite("S3 credentials and config resolution")
struct S3CredentialsTests {
    // Recognisable fake secrets: no message or description may ever contain them.
    static let fileSecret = "fileSECRETfileSECRETfileSECRET0000000000"
    static let otherSecret = "otherSECRETotherSECRETotherSECRET00000000"
    static let environmentSecret = "envSECRETenvSECRETenvSECRETenvSECRET0000"
    static let token = "TOKENtokenTOKENtoken"

    /// A home directory with `~/.aws/credentials` and `~/.aws/config` holding `credentials` and
    /// `config` (omitted when nil).
    private func withHome(credentials: String?, config: String?,
                          _ body: (_ home: String) throws -> Void) throws {
        try withTemporaryDirectory { home in
            #expect(mkdir(home + "/.aws", 0o700) == 0)
            if let credentials { try writeFile(home + "/.aws/credentials", Array(credentials.utf8)) }
            if let config { try writeFile(home + "/.aws/config", Array(config.utf8)) }
            try body(home)
        }
    }

    private func environment(_ home: String?, _ variables: [String: String] = [:]) -> S3Environment {
        S3Environment(variables: variables, homeDirectory: home)
    }

    private func expectNoSecrets(in text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        for secret in [Self.fileSecret, Self.otherSecret, Self.environmentSecret, Self.token] {
            #expect(!text.contains(secret), "'\(text)' shows a secret", sourceLocation: sourceLocation)
        }
    }

    // MARK: - Where the keys come from

    @Test("the environment's keys, with a session token, and no files at all")
    func environmentOnly() throws {
        try withTemporaryDirectory { home in
            let resolved = try S3CredentialResolver.resolve(profile: nil, environment: environment(home, [
                "AWS_ACCESS_KEY_ID": "AKIAENVIRONMENT", "AWS_SECRET_ACCESS_KEY": Self.environmentSecret,
                "AWS_SESSION_TOKEN": Self.token,
            ]))
            #expect(resolved.credentials == S3Credentials(accessKeyID: "AKIAENVIRONMENT", secretAccessKey: Self.environmentSecret,
                                                          sessionToken: Self.token))
            #expect(resolved.region == nil)
            #expect(resolved.endpointURL == nil)
            #expect(resolved.caBundle == nil)
        }
    }

    @Test("the default profile of ~/.aws/credentials, with comments, spacing and key case")
    func defaultProfileFromFiles() throws {
        let credentials = """
            # a comment
            ; another comment
            [other]
            aws_access_key_id = AKIAOTHER
            aws_secret_access_key = \(Self.otherSecret)

            [ default ]
              AWS_Access_Key_ID=AKIAFILE   # trailing comment
              aws_secret_access_key   =   \(Self.fileSecret)
              aws_session_token = \(Self.token)
            """
        let config = """
            [default]
            region = eu-central-1
            s3 =
                addressing_style = path
                region = nested-value-ignored
            endpoint_url = https://s3.example.net:9000
            ca_bundle = ~/ca.pem
            """
        try withHome(credentials: credentials, config: config) { home in
            let resolved = try S3CredentialResolver.resolve(profile: nil, environment: environment(home))
            #expect(resolved.credentials == S3Credentials(accessKeyID: "AKIAFILE", secretAccessKey: Self.fileSecret,
                                                          sessionToken: Self.token))
            #expect(resolved.region == "eu-central-1")
            #expect(resolved.endpointURL == "https://s3.example.net:9000")
            #expect(resolved.caBundle == home + "/ca.pem")
        }
    }

    @Test("the environment's keys win over the default profile; the profile still gives the region")
    func environmentWinsOverFiles() throws {
        try withHome(credentials: "[default]\naws_access_key_id=AKIAFILE\naws_secret_access_key=\(Self.fileSecret)\n",
                     config: "[default]\nregion = ap-south-1\n") { home in
            let resolved = try S3CredentialResolver.resolve(profile: nil, environment: environment(home, [
                "AWS_ACCESS_KEY_ID": "AKIAENVIRONMENT", "AWS_SECRET_ACCESS_KEY": Self.environmentSecret,
            ]))
            #expect(resolved.credentials.accessKeyID == "AKIAENVIRONMENT")
            #expect(resolved.credentials.sessionToken == nil)
            #expect(resolved.region == "ap-south-1")
        }
    }

    @Test("AWS_PROFILE picks the profile, in both files")
    func profileFromEnvironmentVariable() throws {
        let credentials = """
            [default]
            aws_access_key_id = AKIAFILE
            aws_secret_access_key = \(Self.fileSecret)
            [work]
            aws_access_key_id = AKIAWORK
            aws_secret_access_key = \(Self.otherSecret)
            """
        try withHome(credentials: credentials, config: "[profile work]\nregion = us-west-2\n[default]\nregion = eu-west-1\n") { home in
            let resolved = try S3CredentialResolver.resolve(profile: nil, environment: environment(home, ["AWS_PROFILE": "work"]))
            #expect(resolved.credentials.accessKeyID == "AKIAWORK")
            #expect(resolved.credentials.secretAccessKey == Self.otherSecret)
            #expect(resolved.region == "us-west-2")
        }
    }

    @Test("an explicit profile ignores the environment's keys and AWS_PROFILE")
    func explicitProfile() throws {
        let credentials = """
            [backup]
            aws_access_key_id = AKIABACKUP
            aws_secret_access_key = \(Self.fileSecret)
            [work]
            aws_access_key_id = AKIAWORK
            aws_secret_access_key = \(Self.otherSecret)
            """
        try withHome(credentials: credentials, config: nil) { home in
            let resolved = try S3CredentialResolver.resolve(profile: "backup", environment: environment(home, [
                "AWS_ACCESS_KEY_ID": "AKIAENVIRONMENT", "AWS_SECRET_ACCESS_KEY": Self.environmentSecret,
                "AWS_PROFILE": "work",
            ]))
            #expect(resolved.credentials == S3Credentials(accessKeyID: "AKIABACKUP", secretAccessKey: Self.fileSecret))
        }
    }

    @Test("keys in the config file's [profile x] section; [x] without 'profile' is not a config profile")
    func configFileProfile() throws {
        let config = """
            [profile minio]
            aws_access_key_id = AKIAMINIO
            aws_secret_access_key = \(Self.fileSecret)
            region = local
            [plain]
            aws_access_key_id = AKIAPLAIN
            aws_secret_access_key = \(Self.otherSecret)
            """
        try withHome(credentials: nil, config: config) { home in
            let resolved = try S3CredentialResolver.resolve(profile: "minio", environment: environment(home))
            #expect(resolved.credentials == S3Credentials(accessKeyID: "AKIAMINIO", secretAccessKey: Self.fileSecret))
            #expect(resolved.region == "local")

            let error = #expect(throws: ObjectStoreError.self) {
                try S3CredentialResolver.resolve(profile: "plain", environment: environment(home))
            }
            #expect(error?.code == .permissionDenied)
            #expect(error?.message.contains("profile 'plain' not found in \(home)/.aws/credentials or \(home)/.aws/config") == true)

            let profile = try S3CredentialResolver.profile(named: "minio", environment: environment(home))
            #expect(profile?.credentials?.accessKeyID == "AKIAMINIO")
            #expect(profile?.region == "local")
            #expect(try S3CredentialResolver.profile(named: "plain", environment: environment(home)) == nil)
        }
    }

    @Test("the credentials file wins over keys in the config file")
    func credentialsFileFirst() throws {
        try withHome(credentials: "[default]\naws_access_key_id=AKIAFILE\naws_secret_access_key=\(Self.fileSecret)\n",
                     config: "[default]\naws_access_key_id=AKIACONFIG\naws_secret_access_key=\(Self.otherSecret)\n") { home in
            let resolved = try S3CredentialResolver.resolve(profile: nil, environment: environment(home))
            #expect(resolved.credentials.accessKeyID == "AKIAFILE")
        }
    }

    @Test("AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE replace the ~/.aws files")
    func fileOverrides() throws {
        try withHome(credentials: "[default]\naws_access_key_id=AKIAHOME\naws_secret_access_key=\(Self.otherSecret)\n",
                     config: "[default]\nregion = home-region\n") { home in
            try writeFile(home + "/creds", Array("[default]\naws_access_key_id=AKIAOVERRIDE\naws_secret_access_key=\(Self.fileSecret)\n".utf8))
            try writeFile(home + "/conf", Array("[default]\nregion = override-region\n".utf8))
            let resolved = try S3CredentialResolver.resolve(profile: nil, environment: environment(home, [
                "AWS_SHARED_CREDENTIALS_FILE": home + "/creds", "AWS_CONFIG_FILE": "~/conf",
            ]))
            #expect(resolved.credentials.accessKeyID == "AKIAOVERRIDE")
            #expect(resolved.region == "override-region")
        }
    }

    // MARK: - Region, endpoint and CA bundle

    @Test("region, endpoint and CA bundle: environment first, then the profile")
    func settingsPrecedence() throws {
        let config = """
            [default]
            region = profile-region
            endpoint_url = https://profile.example
            ca_bundle = /profile/ca.pem
            """
        try withHome(credentials: "[default]\naws_access_key_id=AKIAFILE\naws_secret_access_key=\(Self.fileSecret)\n",
                     config: config) { home in
            func resolve(_ variables: [String: String]) throws -> [String?] {
                let resolved = try S3CredentialResolver.resolve(profile: nil, environment: environment(home, variables))
                return [resolved.region, resolved.endpointURL, resolved.caBundle]
            }
            try #expect(resolve([:]) == ["profile-region", "https://profile.example", "/profile/ca.pem"])
            try #expect(resolve(["AWS_DEFAULT_REGION": "default-region", "AWS_ENDPOINT_URL": "https://generic.example",
                                 "AWS_CA_BUNDLE": "/env/ca.pem"])
                    == ["default-region", "https://generic.example", "/env/ca.pem"])
            try #expect(resolve(["AWS_REGION": "region", "AWS_DEFAULT_REGION": "default-region",
                                 "AWS_ENDPOINT_URL_S3": "https://s3only.example", "AWS_ENDPOINT_URL": "https://generic.example"])
                    == ["region", "https://s3only.example", "/profile/ca.pem"])
            try #expect(resolve(["AWS_REGION": "", "AWS_ENDPOINT_URL": "https://generic.example",
                                 "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"])
                    == ["profile-region", nil, "/profile/ca.pem"])
        }
    }

    // MARK: - Errors

    @Test("no credentials anywhere: the message says what was tried and shows no secret")
    func missingProfileMessage() throws {
        try withHome(credentials: "[other]\naws_access_key_id=AKIAOTHER\naws_secret_access_key=\(Self.otherSecret)\n",
                     config: nil) { home in
            let implicit = #expect(throws: ObjectStoreError.self) {
                try S3CredentialResolver.resolve(profile: nil, environment: environment(home))
            }
            #expect(implicit?.code == .permissionDenied)
            #expect(implicit?.message == "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE "
                + "with ~/.aws/credentials (profile 'default' not found in \(home)/.aws/credentials or \(home)/.aws/config)")

            let named = #expect(throws: ObjectStoreError.self) {
                try S3CredentialResolver.resolve(profile: nil, environment: environment(home, ["AWS_PROFILE": "x"]))
            }
            #expect(named?.message.contains("AWS_PROFILE") == true)
            #expect(named?.message.contains("profile 'x' not found in \(home)/.aws/credentials") == true)

            let explicit = #expect(throws: ObjectStoreError.self) {
                try S3CredentialResolver.resolve(profile: "x", environment: environment(home, [
                    "AWS_ACCESS_KEY_ID": "AKIAENVIRONMENT", "AWS_SECRET_ACCESS_KEY": Self.environmentSecret,
                ]))
            }
            #expect(explicit?.code == .permissionDenied)
            #expect(explicit?.message.contains("profile 'x' not found") == true)
            #expect(explicit?.message.contains("repository URL") == true)
            for error in [implicit, named, explicit] {
                expectNoSecrets(in: error.map { "\($0)" } ?? "")
            }
        }
    }

    @Test("no HOME and no files: the message says so")
    func noHome() {
        let error = #expect(throws: ObjectStoreError.self) {
            try S3CredentialResolver.resolve(profile: nil, environment: S3Environment(variables: [:], homeDirectory: nil))
        }
        #expect(error?.message.contains("~/.aws/credentials (HOME is not set)") == true)
    }

    @Test("a profile with only one of the two keys says which is missing")
    func partialProfile() throws {
        try withHome(credentials: "[default]\naws_access_key_id = AKIAHALF\n[secretonly]\naws_secret_access_key = \(Self.fileSecret)\n",
                     config: nil) { home in
            let noSecret = #expect(throws: ObjectStoreError.self) {
                try S3CredentialResolver.resolve(profile: nil, environment: environment(home))
            }
            #expect(noSecret?.code == .permissionDenied)
            #expect(noSecret?.message == "profile 'default' in \(home)/.aws/credentials has aws_access_key_id but no "
                + "aws_secret_access_key; add the secret key to that profile")

            let noAccessKey = #expect(throws: ObjectStoreError.self) {
                try S3CredentialResolver.resolve(profile: "secretonly", environment: environment(home))
            }
            #expect(noAccessKey?.message.contains("has aws_secret_access_key but no aws_access_key_id") == true)
            expectNoSecrets(in: noAccessKey?.message ?? "")
        }
    }

    @Test("a profile without keys (e.g. SSO) is reported as such")
    func profileWithoutKeys() throws {
        try withHome(credentials: nil, config: "[profile sso]\nsso_session = corp\nregion = eu-west-1\n") { home in
            let error = #expect(throws: ObjectStoreError.self) {
                try S3CredentialResolver.resolve(profile: "sso", environment: environment(home))
            }
            #expect(error?.message.contains("profile 'sso' has no aws_access_key_id and aws_secret_access_key") == true)
        }
    }

    @Test("only half of the environment's keys is an error naming the missing variable")
    func partialEnvironment() throws {
        try withTemporaryDirectory { home in
            let error = #expect(throws: ObjectStoreError.self) {
                try S3CredentialResolver.resolve(profile: nil, environment: environment(home, ["AWS_ACCESS_KEY_ID": "AKIAENVIRONMENT"]))
            }
            #expect(error?.code == .permissionDenied)
            #expect(error?.message.hasPrefix("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not") == true)
        }
    }

    @Test("an existing but unreadable credentials file is an error naming it")
    func unreadableFile() throws {
        try withTemporaryDirectory { home in
            // A directory where the file should be: open succeeds, read fails (even for root).
            #expect(mkdir(home + "/.aws", 0o700) == 0)
            #expect(mkdir(home + "/.aws/credentials", 0o700) == 0)
            let error = #expect(throws: ObjectStoreError.self) {
                try S3CredentialResolver.resolve(profile: nil, environment: environment(home, [
                    "AWS_ACCESS_KEY_ID": "AKIAENVIRONMENT", "AWS_SECRET_ACCESS_KEY": Self.environmentSecret,
                ]))
            }
            #expect(error?.message.contains("cannot read the AWS file \(home)/.aws/credentials") == true)
            expectNoSecrets(in: error?.message ?? "")
        }
    }

    // MARK: - Redaction

    @Test("descriptions show the first four characters of the access key and nothing secret")
    func redaction() {
        let credentials = S3Credentials(accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: Self.fileSecret, sessionToken: Self.token)
        #expect(credentials.description == "access key AKIA… with a session token")
        #expect(S3Credentials(accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: Self.fileSecret).description == "access key AKIA…")
        var dumped = ""
        dump(credentials, to: &dumped)
        for text in ["\(credentials)", String(reflecting: credentials), dumped, "\([credentials])"] {
            expectNoSecrets(in: text)
            #expect(!text.contains("AKIAIOSFODNN7EXAMPLE"), "'\(text)' shows the whole access key")
        }
    }

    @Test("S3Environment.current() reads this process's environment")
    func currentEnvironment() {
        let current = S3Environment.current()
        #expect(current.variables["PATH"] == getenv("PATH").map { String(cString: $0) })
        #expect(current.homeDirectory?.isEmpty == false)
    }
}
