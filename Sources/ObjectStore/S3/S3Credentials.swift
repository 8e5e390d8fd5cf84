import FoundationEssentials
import Glibc

/// An AWS access key: what signs S3 requests.
///
/// Its ``description`` (and what `dump` or string interpolation shows) never contains the secret
/// key or the session token, only the first four characters of the access key id.
public struct S3Credentials: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var accessKeyID: String
    public var secretAccessKey: String
    /// The token of temporary (STS) credentials; nil for long-term keys.
    public var sessionToken: String?

    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }

    /// `access key AKIA…`, plus ` with a session token` for temporary credentials.
    public var description: String {
        "access key \(accessKeyID.prefix(4))…" + (sessionToken == nil ? "" : " with a session token")
    }

    public var debugDescription: String { description }

    public var customMirror: Mirror {
        Mirror(self, children: ["accessKeyID": "\(accessKeyID.prefix(4))…"], displayStyle: .struct)
    }
}

/// What credential resolution reads from the outside world; tests pass their own.
public struct S3Environment: Sendable {
    /// The process environment.
    public var variables: [String: String]
    /// The user's home directory, for `~/.aws/…`; nil if unknown.
    public var homeDirectory: String?

    public init(variables: [String: String], homeDirectory: String?) {
        self.variables = variables
        self.homeDirectory = homeDirectory
    }

    /// The environment of this process; the home directory from `HOME`, else the password database.
    public static func current() -> S3Environment {
        let variables = ProcessInfo.processInfo.environment
        var home = variables["HOME"].flatMap { $0.isEmpty ? nil : $0 }
        if home == nil, let entry = getpwuid(getuid()), let directory = entry.pointee.pw_dir {
            home = String(cString: directory)
        }
        return S3Environment(variables: variables, homeDirectory: home)
    }

    /// The variable's value, nil when it is unset or empty (as the AWS tools treat empty ones).
    func value(_ name: String) -> String? {
        guard let value = variables[name], !value.isEmpty else { return nil }
        return value
    }

    /// `path` with a leading `~/` replaced by the home directory.
    func expandingTilde(_ path: String) -> String {
        guard path == "~" || path.hasPrefix("~/"), let home = homeDirectory else { return path }
        return home + path.dropFirst()
    }
}

/// The settings of one profile of the shared AWS files that matter to S3.
public struct S3Profile: Sendable {
    public var credentials: S3Credentials?
    public var region: String?
    public var endpointURL: String?
    public var caBundle: String?

    public init(credentials: S3Credentials? = nil, region: String? = nil, endpointURL: String? = nil, caBundle: String? = nil) {
        self.credentials = credentials
        self.region = region
        self.endpointURL = endpointURL
        self.caBundle = caBundle
    }
}

/// Finds S3 credentials and settings the way the AWS CLI does.
///
/// Credentials: a profile named explicitly (in the repository URL) is read from the shared files
/// and the environment's keys are ignored. Otherwise `AWS_ACCESS_KEY_ID` with
/// `AWS_SECRET_ACCESS_KEY` (and `AWS_SESSION_TOKEN`) win, and failing those the profile named by
/// `AWS_PROFILE` (or `default`) is read. A profile's keys come from the credentials file
/// (`AWS_SHARED_CREDENTIALS_FILE`, default `~/.aws/credentials`, section `[name]`), else from the
/// config file (`AWS_CONFIG_FILE`, default `~/.aws/config`, section `[profile name]` or
/// `[default]`).
///
/// Settings: region from `AWS_REGION`, `AWS_DEFAULT_REGION`, then the profile's `region`;
/// endpoint from `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`, then the profile's `endpoint_url`
/// (none of them if `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS` is `true`); CA bundle from
/// `AWS_CA_BUNDLE`, then the profile's `ca_bundle`.
///
/// SSO, assume-role, `credential_process` and instance-metadata credentials are not supported;
/// a profile that uses them is reported as having no keys.
public enum S3CredentialResolver {
    /// Resolves credentials and settings for `profile` (explicit, or nil for `AWS_PROFILE`, then
    /// `default`).
    ///
    /// Throws ``ObjectStoreError`` `.permissionDenied` when no credentials are found (the message
    /// says what was tried), when a profile has only one of the two keys, or when a shared file
    /// exists but cannot be read. Messages never contain a secret.
    public static func resolve(profile: String?, environment: S3Environment) throws
        -> (credentials: S3Credentials, region: String?, endpointURL: String?, caBundle: String?) {
        let origin: SharedFiles.Origin
        let profileName: String
        if let profile {
            (origin, profileName) = (.explicit, profile)
        } else if let named = environment.value("AWS_PROFILE") {
            (origin, profileName) = (.environmentVariable, named)
        } else {
            (origin, profileName) = (.implicitDefault, "default")
        }

        let files = try SharedFiles(environment: environment)
        let found = files.settings(of: profileName)
        // An explicitly named profile is used as it is: the environment's keys do not apply.
        let environmentKeys = origin == .explicit ? nil : try environmentCredentials(environment)
        guard let credentials = try environmentKeys ?? files.keys(of: profileName) else {
            throw files.noCredentials(profile: profileName, origin: origin)
        }

        let region = environment.value("AWS_REGION") ?? environment.value("AWS_DEFAULT_REGION") ?? found.region
        var endpoint = environment.value("AWS_ENDPOINT_URL_S3") ?? environment.value("AWS_ENDPOINT_URL") ?? found.endpointURL
        if environment.value("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")?.lowercased() == "true" {
            endpoint = nil
        }
        let caBundle = (environment.value("AWS_CA_BUNDLE") ?? found.caBundle).map(environment.expandingTilde)
        return (credentials, region, endpoint, caBundle)
    }

    /// The settings of profile `name` in the shared files alone (no environment variables), or
    /// nil if neither file has it.
    ///
    /// Throws if a file exists but cannot be read, or if the profile has only one of the two keys.
    public static func profile(named name: String, environment: S3Environment) throws -> S3Profile? {
        let files = try SharedFiles(environment: environment)
        guard files.contains(name) else { return nil }
        var profile = files.settings(of: name)
        profile.credentials = try files.keys(of: name)
        return profile
    }

    /// Keys from `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`; nil if neither is set.
    private static func environmentCredentials(_ environment: S3Environment) throws -> S3Credentials? {
        let accessKey = environment.value("AWS_ACCESS_KEY_ID")
        let secretKey = environment.value("AWS_SECRET_ACCESS_KEY")
        switch (accessKey, secretKey) {
        case (let accessKey?, let secretKey?):
            return S3Credentials(accessKeyID: accessKey, secretAccessKey: secretKey,
                                 sessionToken: environment.value("AWS_SESSION_TOKEN"))
        case (nil, nil):
            return nil
        case (_?, nil):
            throw ObjectStoreError(.permissionDenied,
                "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not; set both, or unset AWS_ACCESS_KEY_ID to use the shared credentials files")
        case (nil, _?):
            throw ObjectStoreError(.permissionDenied,
                "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not; set both, or unset AWS_SECRET_ACCESS_KEY to use the shared credentials files")
        }
    }
}

// MARK: - Shared files

/// The parsed credentials and config files (a missing file reads as empty).
private struct SharedFiles {
    /// How the profile was chosen, for messages.
    enum Origin {
        case explicit, environmentVariable, implicitDefault
    }

    /// A file's path as messages show it (`~/.aws/…` spelled out, or a note that HOME is unknown).
    let credentialsPath: String
    let configPath: String
    private let credentialsSections: [String: [String: String]]
    private let configSections: [String: [String: String]]

    init(environment: S3Environment) throws {
        let credentials = Self.locate(variable: "AWS_SHARED_CREDENTIALS_FILE", defaultName: "credentials", environment)
        let config = Self.locate(variable: "AWS_CONFIG_FILE", defaultName: "config", environment)
        credentialsPath = credentials.shown
        configPath = config.shown
        credentialsSections = try credentials.path.flatMap(readFileIfPresent).map(INIFile.parse) ?? [:]
        configSections = try config.path.flatMap(readFileIfPresent).map(INIFile.parse) ?? [:]
    }

    private static func locate(variable: String, defaultName: String, _ environment: S3Environment) -> (shown: String, path: String?) {
        if let path = environment.value(variable) {
            let expanded = environment.expandingTilde(path)
            return (expanded, expanded)
        }
        guard let home = environment.homeDirectory else {
            return ("~/.aws/\(defaultName) (HOME is not set)", nil)
        }
        let path = (home.hasSuffix("/") ? home : home + "/") + ".aws/" + defaultName
        return (path, path)
    }

    /// Profile `name`'s section in the credentials file (`[name]`).
    private func credentialsSection(_ name: String) -> [String: String]? {
        credentialsSections[name]
    }

    /// Profile `name`'s section in the config file: `[profile name]`, or `[default]` for the default.
    private func configSection(_ name: String) -> [String: String]? {
        if name == "default", let section = configSections["default"] {
            return section
        }
        return configSections["profile " + name]
    }

    func contains(_ name: String) -> Bool {
        credentialsSection(name) != nil || configSection(name) != nil
    }

    /// Region, endpoint and CA bundle of profile `name` (from the config file, else the credentials file).
    func settings(of name: String) -> S3Profile {
        let config = configSection(name)
        let credentials = credentialsSection(name)
        return S3Profile(region: config?["region"] ?? credentials?["region"],
                         endpointURL: config?["endpoint_url"] ?? credentials?["endpoint_url"],
                         caBundle: config?["ca_bundle"] ?? credentials?["ca_bundle"])
    }

    /// The keys of profile `name`: from the credentials file, else the config file; nil if
    /// neither has any. Throws if the section that has keys has only one of the two.
    func keys(of name: String) throws -> S3Credentials? {
        try keys(in: credentialsSection(name), file: credentialsPath, profile: name)
            ?? keys(in: configSection(name), file: configPath, profile: name)
    }

    private func keys(in section: [String: String]?, file: String, profile: String) throws -> S3Credentials? {
        guard let section else { return nil }
        let accessKey = section["aws_access_key_id"].flatMap { $0.isEmpty ? nil : $0 }
        let secretKey = section["aws_secret_access_key"].flatMap { $0.isEmpty ? nil : $0 }
        switch (accessKey, secretKey) {
        case (let accessKey?, let secretKey?):
            let token = section["aws_session_token"].flatMap { $0.isEmpty ? nil : $0 }
            return S3Credentials(accessKeyID: accessKey, secretAccessKey: secretKey, sessionToken: token)
        case (nil, nil):
            return nil
        case (_?, nil):
            throw ObjectStoreError(.permissionDenied,
                "profile '\(profile)' in \(file) has aws_access_key_id but no aws_secret_access_key; add the secret key to that profile")
        case (nil, _?):
            throw ObjectStoreError(.permissionDenied,
                "profile '\(profile)' in \(file) has aws_secret_access_key but no aws_access_key_id; add the access key id to that profile")
        }
    }

    /// The error for a profile without keys, naming what was tried.
    func noCredentials(profile name: String, origin: Origin) -> ObjectStoreError {
        let problem: String
        if contains(name) {
            problem = "profile '\(name)' has no aws_access_key_id and aws_secret_access_key; "
                + "SSO, role and credential_process profiles are not supported"
        } else {
            problem = "profile '\(name)' not found in \(credentialsPath) or \(configPath)"
        }
        switch origin {
        case .explicit:
            return ObjectStoreError(.permissionDenied,
                "no S3 credentials for the profile named in the repository URL (\(problem)); add its keys to "
                + "\(credentialsPath), or remove profile= from the URL to use AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
        case .environmentVariable:
            return ObjectStoreError(.permissionDenied,
                "no S3 credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set and AWS_PROFILE names "
                + "a profile without keys (\(problem))")
        case .implicitDefault:
            return ObjectStoreError(.permissionDenied,
                "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE with ~/.aws/credentials (\(problem))")
        }
    }
}

/// The contents of `path`, nil if it does not exist; throws if it exists and cannot be read.
private func readFileIfPresent(_ path: String) throws -> String? {
    let descriptor = open(path, O_RDONLY | O_CLOEXEC)
    if descriptor < 0 {
        let error = errno
        if error == ENOENT || error == ENOTDIR { return nil }
        throw unreadable(path, error)
    }
    defer { close(descriptor) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 16 * 1024)
    while true {
        let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        if count < 0 {
            if errno == EINTR { continue }
            throw unreadable(path, errno)
        }
        if count == 0 { break }
        bytes.append(contentsOf: buffer[0..<count])
    }
    return String(decoding: bytes, as: UTF8.self)
}

private func unreadable(_ path: String, _ error: CInt) -> ObjectStoreError {
    let reason = String(cString: strerror(error))
    let code: ObjectStoreError.Code = (error == EACCES || error == EPERM) ? .permissionDenied : .io
    return ObjectStoreError(code, "cannot read the AWS file \(path): \(reason); fix its permissions or point "
        + "AWS_SHARED_CREDENTIALS_FILE / AWS_CONFIG_FILE elsewhere")
}

// MARK: - INI parsing

/// The AWS flavour of INI: `[section]` headers, `key = value` lines, `#` and `;` comments
/// (whole lines, or after white space at the end of a value), case-insensitive keys, and nested
/// sub-sections (`s3 =` followed by more deeply indented lines) that are skipped.
private enum INIFile {
    /// Sections by name (trimmed, inner runs of white space as one space), each a dictionary of
    /// lower-cased keys. A repeated section merges into the first; a repeated key keeps the last value.
    static func parse(_ text: String) -> [String: [String: String]] {
        var sections: [String: [String: String]] = [:]
        var current: String?
        var keyIndent: Int?
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }) {
            let indent = rawLine.prefix(while: { $0 == " " || $0 == "\t" }).count
            let line = rawLine.drop(while: { $0 == " " || $0 == "\t" })
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            // Lines indented deeper than the key before them continue it: a nested sub-section.
            if let keyIndent, indent > keyIndent { continue }
            keyIndent = nil
            if line.hasPrefix("[") {
                guard let close = line.lastIndex(of: "]") else {
                    current = nil
                    continue
                }
                let name = line[line.index(after: line.startIndex)..<close]
                    .split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
                current = name
                if sections[name] == nil { sections[name] = [:] }
                continue
            }
            guard let section = current, let equals = line.firstIndex(where: { $0 == "=" || $0 == ":" }) else { continue }
            let key = trimmed(line[..<equals]).lowercased()
            let value = trimmed(strippingComment(line[line.index(after: equals)...]))
            guard !key.isEmpty else { continue }
            sections[section, default: [:]][key] = value
            keyIndent = indent
        }
        return sections
    }

    /// The value up to a `#` or `;` that follows white space.
    private static func strippingComment(_ value: Substring) -> Substring {
        var previousIsSpace = true
        for index in value.indices {
            let character = value[index]
            if (character == "#" || character == ";") && previousIsSpace {
                return value[..<index]
            }
            previousIsSpace = character == " " || character == "\t"
        }
        return value
    }

    private static func trimmed(_ text: Substring) -> String {
        String(text.drop(while: { $0 == " " || $0 == "\t" }).reversed().drop(while: { $0 == " " || $0 == "\t" }).reversed())
    }
}
