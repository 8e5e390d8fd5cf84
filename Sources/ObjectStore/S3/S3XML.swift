/// Just enough XML for S3's responses: they are flat documents of known elements without
/// attributes that matter, namespaces aside, so finding elements by name is reliable.
struct S3XML {
    let text: Substring

    init(_ bytes: [UInt8]) {
        text = Substring(String(decoding: bytes, as: UTF8.self))
    }

    init(_ text: Substring) {
        self.text = text
    }

    /// Every `<name>…</name>` element (its inner text), in order, at any depth.
    func elements(_ name: String) -> [S3XML] {
        var found: [S3XML] = []
        var rest = text[...]
        while let open = S3XML.openTag(name, in: rest) {
            if rest[open.start ..< open.end].hasSuffix("/>") {
                found.append(S3XML(rest[open.end ..< open.end]))
                rest = rest[open.end...]
                continue
            }
            guard let close = rest[open.end...].firstRange(of: "</\(name)>") else { break }
            found.append(S3XML(rest[open.end ..< close.lowerBound]))
            rest = rest[close.upperBound...]
        }
        return found
    }

    /// The text of the first `<name>` element, entities decoded.
    func value(_ name: String) -> String? {
        elements(name).first.map { S3XML.unescape($0.text) }
    }

    /// An S3 `<Error>` document: its code and message.
    var error: (code: String, message: String)? {
        guard S3XML.openTag("Error", in: text) != nil else { return nil }
        let error = elements("Error").first ?? self
        return (error.value("Code") ?? "", error.value("Message") ?? "")
    }

    /// Finds `<name>` or `<name attributes…>` (not `<nameOther>`).
    private static func openTag(_ name: String, in text: Substring) -> (start: Substring.Index, end: Substring.Index)? {
        var rest = text[...]
        while let range = rest.firstRange(of: "<\(name)") {
            let after = range.upperBound
            guard after < rest.endIndex else { return nil }
            let next = rest[after]
            if next == ">" || next == " " || next == "/" || next == "\n" || next == "\t" {
                guard let close = rest[after...].firstIndex(of: ">") else { return nil }
                return (range.lowerBound, rest.index(after: close))
            }
            rest = rest[after...]
        }
        return nil
    }

    static func unescape(_ text: Substring) -> String {
        guard text.contains("&") else { return String(text) }
        var result = ""
        var rest = text[...]
        while let ampersand = rest.firstIndex(of: "&") {
            result += rest[..<ampersand]
            guard let semicolon = rest[ampersand...].firstIndex(of: ";") else { break }
            let entity = rest[rest.index(after: ampersand) ..< semicolon]
            switch entity {
            case "amp": result += "&"
            case "lt": result += "<"
            case "gt": result += ">"
            case "quot": result += "\""
            case "apos": result += "'"
            default:
                if entity.hasPrefix("#x"), let value = UInt32(entity.dropFirst(2), radix: 16), let scalar = Unicode.Scalar(value) {
                    result.unicodeScalars.append(scalar)
                } else if entity.hasPrefix("#"), let value = UInt32(entity.dropFirst()), let scalar = Unicode.Scalar(value) {
                    result.unicodeScalars.append(scalar)
                } else {
                    result += rest[ampersand ... semicolon]
                }
            }
            rest = rest[rest.index(after: semicolon)...]
        }
        return result + rest
    }

    static func escape(_ text: String) -> String {
        var result = ""
        for character in text {
            switch character {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&apos;"
            default: result.append(character)
            }
        }
        return result
    }
}
