import COpenSSL

extension SealingError {
    /// An error for a failed OpenSSL call, carrying (and clearing) this thread's OpenSSL error queue.
    ///
    /// OpenSSL keeps errors in a per-thread queue; draining it here means a later, unrelated
    /// failure on the same worker thread never reports a stale message.
    static func openSSL(_ operation: String, file: String = #fileID, line: Int = #line) -> SealingError {
        SealingError(.library, "OpenSSL: \(operation) failed: \(drainOpenSSLErrors())", file: file, line: line)
    }
}

/// Reads and clears this thread's OpenSSL error queue, as one human-readable string.
func drainOpenSSLErrors() -> String {
    var messages: [String] = []
    while case let code = ERR_get_error(), code != 0 {
        let text = withUnsafeTemporaryAllocation(of: CChar.self, capacity: 256) { buffer in
            ERR_error_string_n(code, buffer.baseAddress, buffer.count)
            return String(cString: buffer.baseAddress!)
        }
        messages.append(text)
    }
    return messages.isEmpty ? "no error reported by the library" : messages.joined(separator: "; ")
}
