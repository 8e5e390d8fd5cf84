import Chunking
import Glibc
import Repository
import Sealing

/// `lifeboat debug`: measurements and internals for developers; not needed for backups.
enum DebugCommand: Command {
    static let name = "debug"
    static let summary = "developer tools (chunk-speed)"
    static let usage = "lifeboat debug SUBCOMMAND [options] ..."
    static let details = """
    Subcommands:
      chunk-speed FILE [--bytes N]
          Reads FILE (or its first N bytes; at most 2 GiB) into memory once, then times the
          FastCDC chunker with the default sizes and a random key over it on one thread, and
          prints 'chunker: X.XX GB/s (N chunks, mean M bytes)'. N takes a K, M or G suffix
          (powers of 1024). No repository is needed.

    Example:
      lifeboat debug chunk-speed /var/lib/postgresql/15/main/base/16384/16397 --bytes 512M
    """
    static let options: [OptionSpec] = [
        .value("bytes", "N", "chunk-speed: use only the first N bytes of FILE (e.g. 512M)"),
    ]

    static let subcommands = ["chunk-speed"]

    static func run(_ context: Context) throws -> ExitCode {
        let positionals = context.arguments.positionals
        guard let subcommand = positionals.first else {
            throw UsageError(message: "'debug' needs a subcommand: \(subcommands.joined(separator: ", ")); see 'lifeboat debug --help'")
        }
        switch subcommand {
        case "chunk-speed":
            guard positionals.count == 2 else {
                throw UsageError(message: "'debug chunk-speed' takes one FILE argument; see 'lifeboat debug --help'")
            }
            return try chunkSpeed(path: positionals[1], context: context)
        default:
            throw UsageError(message: "unknown debug subcommand '\(subcommand)'; available: \(subcommands.joined(separator: ", "))")
        }
    }

    /// The largest input chunk-speed reads, so a mistaken path to a huge file cannot exhaust memory.
    static let readLimit = 2 << 30

    private static func chunkSpeed(path: String, context: Context) throws -> ExitCode {
        let requested = try context.arguments.value("bytes").map(parseSize)
        if let requested, requested > readLimit {
            throw UsageError(message: "--bytes \(requested): chunk-speed reads at most \(readLimit) bytes (2 GiB) into memory")
        }
        let buffer = try readFile(path, limit: requested ?? readLimit)
        defer { buffer.deallocate() }
        guard buffer.count > 0 else {
            throw RepositoryError(.invalidArgument, "\(path) is empty; give a file with data to chunk")
        }
        let input = UnsafeRawBufferPointer(buffer)
        let chunker = FastCDC(parameters: .default, gear: GearTable(key: SecureRandom.bytes(count: 32)))

        // Repeat on small inputs until a second has passed, and report the fastest pass, so
        // one-off page faults and frequency ramp-up do not dominate the figure.
        var best = Double.infinity
        var chunks = 0
        var total = 0.0
        var passes = 0
        repeat {
            let start = monotonicSeconds()
            var count = 0
            chunker.forEachChunk(in: input) { _ in count &+= 1 }
            let elapsed = monotonicSeconds() - start
            best = min(best, elapsed)
            total += elapsed
            chunks = count
            passes += 1
        } while (total < 1 || passes < 3) && passes < 100 && !context.isCancelled()

        let gigabytesPerSecond = Double(input.count) / max(best, 1e-9) / 1e9
        let mean = input.count / max(chunks, 1)
        let output = context.output
        if output.json {
            output.message(ChunkSpeedMessage(bytes: input.count, seconds: best, gigabytesPerSecond: gigabytesPerSecond,
                                             chunks: chunks, meanChunkSize: mean, passes: passes))
        } else {
            output.result("chunker: \(formatDecimal(gigabytesPerSecond, places: 2)) GB/s (\(chunks) chunks, mean \(mean) bytes)")
        }
        return .success
    }

    /// `512`, `64K`, `512M`, `2G` (powers of 1024; a trailing `iB` or `B` is accepted).
    static func parseSize(_ text: String) throws -> Int {
        var digits = Substring(text)
        for suffix in ["iB", "B", "b"] where digits.hasSuffix(suffix) && digits.count > suffix.count {
            digits = digits.dropLast(suffix.count)
            break
        }
        var shift = 0
        switch digits.last {
        case "k", "K": shift = 10
        case "m", "M": shift = 20
        case "g", "G": shift = 30
        default: break
        }
        if shift > 0 { digits = digits.dropLast() }
        guard let number = Int(digits), number > 0, number <= (Int.max >> shift) else {
            throw UsageError(message: "--bytes '\(text)': expected a positive size such as 1048576, 512K, 64M or 1G")
        }
        return number << shift
    }

    /// Reads up to `limit` bytes of `path` into a new buffer the caller deallocates.
    private static func readFile(_ path: String, limit: Int) throws -> UnsafeMutableRawBufferPointer {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            let code = errno
            throw RepositoryError(code == ENOENT ? .notFound : .io, "\(path): \(String(cString: strerror(code))); give a readable file")
        }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            throw RepositoryError(.io, "\(path): \(String(cString: strerror(errno)))")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw RepositoryError(.invalidArgument, "\(path) is not a regular file; give a file to chunk")
        }
        let size = min(Int(info.st_size), limit)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 64)
        var offset = 0
        while offset < size {
            let count = read(descriptor, buffer.baseAddress! + offset, size - offset)
            if count < 0 && errno == EINTR { continue }
            if count < 0 {
                let code = errno
                buffer.deallocate()
                throw RepositoryError(.io, "\(path): reading failed at byte \(offset): \(String(cString: strerror(code)))")
            }
            if count == 0 { break }
            offset += count
        }
        // A file that shrank while being read is chunked as far as it was read.
        return UnsafeMutableRawBufferPointer(rebasing: buffer[..<offset])
    }

    private static func monotonicSeconds() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }
}

private struct ChunkSpeedMessage: Encodable {
    var messageType = "chunk_speed"
    var bytes: Int
    var seconds: Double
    var gigabytesPerSecond: Double
    var chunks: Int
    var meanChunkSize: Int
    var passes: Int

    enum CodingKeys: String, CodingKey {
        case messageType = "message_type", bytes, seconds, gigabytesPerSecond = "gigabytes_per_second"
        case chunks, meanChunkSize = "mean_chunk_size", passes
    }
}
