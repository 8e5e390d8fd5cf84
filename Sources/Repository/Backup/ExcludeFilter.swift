import Glibc

/// Exclude patterns in the style of restic and rsync (docs/COMMANDS.md "Excludes"):
/// - a pattern without `/` matches any path component (`*.o`, `node_modules`, `.cache`);
/// - a pattern with `/` matches the whole absolute path if it starts with `/`
///   (`/var/lib/*/tmp`), otherwise any trailing part of it (`build/*.tmp`);
/// - `*`, `?`, `[...]` do not cross `/`; `**` does.
public struct ExcludeFilter: Sendable {
    public private(set) var patterns: [String]

    public init(patterns: [String]) throws {
        for pattern in patterns where pattern.isEmpty {
            throw RepositoryError(.invalidArgument, "an empty exclude pattern matches nothing; remove it")
        }
        self.patterns = patterns
    }

    /// Reads patterns from a file, one per line; blank lines and lines starting with `#` are skipped.
    public static func patterns(fromFile path: String) throws -> [String] {
        guard let file = fopen(path, "r") else {
            throw RepositoryError(.invalidArgument, "--exclude-file \(path): \(String(cString: strerror(errno)))")
        }
        defer { fclose(file) }
        var patterns: [String] = []
        var line: UnsafeMutablePointer<CChar>?
        var capacity = 0
        defer { free(line) }
        while getline(&line, &capacity, file) > 0, let line {
            var text = String(cString: line)
            while text.last == "\n" || text.last == "\r" { text.removeLast() }
            let trimmed = text.drop { $0 == " " || $0 == "\t" }
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            patterns.append(String(trimmed))
        }
        return patterns
    }

    /// Whether the absolute `path` (whose last component is `name`) is excluded.
    public func excludes(path: [UInt8], name: [UInt8]) -> Bool {
        guard !patterns.isEmpty else { return false }
        let pathString = String(decoding: path, as: UTF8.self)
        let nameString = String(decoding: name, as: UTF8.self)
        for pattern in patterns where Self.matches(pattern: pattern, path: pathString, name: nameString) {
            return true
        }
        return false
    }

    static func matches(pattern: String, path: String, name: String) -> Bool {
        let crossesSlash = pattern.contains("**")
        let glob = crossesSlash ? pattern.replacing("**", with: "*") : pattern
        let flags: Int32 = crossesSlash ? 0 : FNM_PATHNAME
        if !pattern.contains("/") {
            return fnmatch(glob, name, flags) == 0
        }
        if pattern.hasPrefix("/") {
            return fnmatch(glob, path, flags) == 0
        }
        var candidate = Substring(path)
        while let slash = candidate.firstIndex(of: "/") {
            candidate = candidate[candidate.index(after: slash)...]
            if fnmatch(glob, String(candidate), flags) == 0 { return true }
        }
        return false
    }
}
