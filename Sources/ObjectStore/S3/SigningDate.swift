import Glibc

/// A UTC instant to the second, with the few text forms S3 needs.
///
/// Formatting and parsing are done here by hand (proleptic Gregorian calendar, no time zones,
/// no locale) so that signing a request does not touch Foundation's date formatters: SigV4's
/// `20150830T123600Z` and `20150830`, RFC 3339 `2015-08-30T12:36:00Z` for Object Lock dates, and
/// RFC 1123 HTTP dates (`Sun, 06 Nov 1994 08:49:37 GMT`) for `Retry-After` and `Date`.
public struct SigningDate: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Seconds since 1970-01-01T00:00:00Z, ignoring leap seconds (POSIX time).
    public var secondsSince1970: Int

    /// The instant `secondsSince1970` seconds after the Unix epoch.
    public init(secondsSince1970: Int) {
        self.secondsSince1970 = secondsSince1970
    }

    /// The current time from the system's real-time clock.
    public static func now() -> SigningDate {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return SigningDate(secondsSince1970: Int(time.tv_sec))
    }

    /// The SigV4 timestamp, `YYYYMMDDTHHMMSSZ` (the `x-amz-date` header).
    public var amzDate: String {
        let parts = components
        return format(parts, dateSeparator: nil, timeSeparator: nil, withTime: true)
    }

    /// The SigV4 date stamp, `YYYYMMDD` (the credential scope's first part).
    public var dateStamp: String {
        format(components, dateSeparator: nil, timeSeparator: nil, withTime: false)
    }

    /// RFC 3339 in UTC without fractions, `YYYY-MM-DDTHH:MM:SSZ` (Object Lock's retain-until date).
    public var iso8601: String {
        format(components, dateSeparator: UInt8(ascii: "-"), timeSeparator: UInt8(ascii: ":"), withTime: true)
    }

    /// RFC 1123 as HTTP uses it, `Sun, 06 Nov 1994 08:49:37 GMT`.
    public var httpDate: String {
        let parts = components
        // 1970-01-01 was a Thursday (index 4, counting from Sunday).
        let weekday = Int(floorModulo(floorDivide(secondsSince1970, 86_400) &+ 4, 7))
        var text = Self.weekdayNames[weekday] + ", "
        text += twoDigits(parts.day) + " " + Self.monthNames[parts.month - 1] + " " + fourDigits(parts.year)
        text += " " + twoDigits(parts.hour) + ":" + twoDigits(parts.minute) + ":" + twoDigits(parts.second) + " GMT"
        return text
    }

    public var description: String { iso8601 }

    public static func < (lhs: SigningDate, rhs: SigningDate) -> Bool {
        lhs.secondsSince1970 < rhs.secondsSince1970
    }

    /// This instant moved by `seconds` (negative to go back).
    public func adding(seconds: Int) -> SigningDate {
        SigningDate(secondsSince1970: secondsSince1970 &+ seconds)
    }

    // MARK: - Parsing

    /// Parses RFC 3339 / ISO 8601 date-times such as `2015-08-30T12:36:00Z`,
    /// `2015-08-30T12:36:00.123Z` or `2015-08-30T14:36:00+02:00`; fractions of a second are
    /// dropped. Returns nil for anything else (including a missing zone designator or an
    /// out-of-range field).
    public static func parseISO8601(_ text: String) -> SigningDate? {
        var scanner = Scanner(text)
        guard let year = scanner.number(digits: 4), scanner.skip(UInt8(ascii: "-")),
              let month = scanner.number(digits: 2), scanner.skip(UInt8(ascii: "-")),
              let day = scanner.number(digits: 2),
              scanner.skip(UInt8(ascii: "T")) || scanner.skip(UInt8(ascii: "t")) || scanner.skip(UInt8(ascii: " ")),
              let hour = scanner.number(digits: 2), scanner.skip(UInt8(ascii: ":")),
              let minute = scanner.number(digits: 2), scanner.skip(UInt8(ascii: ":")),
              let second = scanner.number(digits: 2) else {
            return nil
        }
        if scanner.skip(UInt8(ascii: ".")) || scanner.skip(UInt8(ascii: ",")) {
            guard scanner.skipDigits() > 0 else { return nil }
        }
        var offset = 0
        if scanner.skip(UInt8(ascii: "Z")) || scanner.skip(UInt8(ascii: "z")) {
            offset = 0
        } else if let sign = scanner.next(), sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") {
            guard let offsetHours = scanner.number(digits: 2), offsetHours < 24 else { return nil }
            _ = scanner.skip(UInt8(ascii: ":"))
            guard let offsetMinutes = scanner.number(digits: 2), offsetMinutes < 60 else { return nil }
            offset = (offsetHours * 60 + offsetMinutes) * 60 * (sign == UInt8(ascii: "-") ? -1 : 1)
        } else {
            return nil
        }
        guard scanner.isAtEnd,
              let date = SigningDate(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
        else { return nil }
        return date.adding(seconds: -offset)
    }

    /// Parses an RFC 1123 HTTP date, `Sun, 06 Nov 1994 08:49:37 GMT` (the weekday is optional
    /// and not checked; the zone must be `GMT`, `UTC`, `UT`, `Z` or `+0000`). Returns nil for
    /// anything else.
    public static func parseHTTPDate(_ text: String) -> SigningDate? {
        var scanner = Scanner(text)
        scanner.skipSpaces()
        let start = scanner.position
        if let weekday = scanner.word(), scanner.skip(UInt8(ascii: ",")) {
            guard Self.weekdayNames.contains(where: { $0.utf8.elementsEqual(weekday) }) else { return nil }
            scanner.skipSpaces()
        } else {
            scanner.position = start
        }
        guard let day = scanner.number(minimumDigits: 1, maximumDigits: 2), scanner.skipSpaces() > 0,
              let monthName = scanner.word(), scanner.skipSpaces() > 0,
              let month = Self.monthNames.firstIndex(where: { $0.utf8.elementsEqual(monthName) }),
              let year = scanner.number(digits: 4), scanner.skipSpaces() > 0,
              let hour = scanner.number(digits: 2), scanner.skip(UInt8(ascii: ":")),
              let minute = scanner.number(digits: 2), scanner.skip(UInt8(ascii: ":")),
              let second = scanner.number(digits: 2), scanner.skipSpaces() > 0,
              let zone = scanner.word(allowing: UInt8(ascii: "+")),
              ["GMT", "UTC", "UT", "Z", "+0000"].contains(where: { $0.utf8.elementsEqual(zone) }) else {
            return nil
        }
        scanner.skipSpaces()
        guard scanner.isAtEnd else { return nil }
        return SigningDate(year: year, month: month + 1, day: day, hour: hour, minute: minute, second: second)
    }

    /// The instant for a UTC calendar date and time; nil if a field is out of range.
    /// A leap second (`:60`) is read as the first second of the next minute, as POSIX time does.
    public init?(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) {
        guard (1...12).contains(month), day >= 1, day <= Self.daysInMonth(month, year: year),
              (0...23).contains(hour), (0...59).contains(minute), (0...60).contains(second) else {
            return nil
        }
        let days = Self.daysSince1970(year: year, month: month, day: day)
        secondsSince1970 = days * 86_400 + hour * 3_600 + minute * 60 + second
    }

    // MARK: - Calendar arithmetic

    /// The calendar fields of this instant in UTC.
    public var components: (year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) {
        let days = floorDivide(secondsSince1970, 86_400)
        let secondOfDay = floorModulo(secondsSince1970, 86_400)
        let (year, month, day) = Self.civilDate(daysSince1970: days)
        return (year, month, day, secondOfDay / 3_600, secondOfDay / 60 % 60, secondOfDay % 60)
    }

    /// Days from 1970-01-01 to a proleptic Gregorian date (negative before 1970).
    ///
    /// Counts in 400-year eras starting on 1 March, so that the leap day falls at the end of
    /// a year and every other month has a fixed length pattern.
    private static func daysSince1970(year: Int, month: Int, day: Int) -> Int {
        let shiftedYear = month <= 2 ? year - 1 : year
        let era = floorDivide(shiftedYear, 400)
        let yearOfEra = shiftedYear - era * 400                                   // 0...399
        let monthFromMarch = month > 2 ? month - 3 : month + 9                    // 0...11
        let dayOfYear = (153 * monthFromMarch + 2) / 5 + day - 1                  // 0...365
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468                                 // 719468: 0000-03-01 to 1970-01-01
    }

    /// The inverse of ``daysSince1970(year:month:day:)``.
    private static func civilDate(daysSince1970 days: Int) -> (year: Int, month: Int, day: Int) {
        let shifted = days + 719_468
        let era = floorDivide(shifted, 146_097)
        let dayOfEra = shifted - era * 146_097                                                  // 0...146096
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)          // 0...365
        let monthFromMarch = (5 * dayOfYear + 2) / 153                                          // 0...11
        let day = dayOfYear - (153 * monthFromMarch + 2) / 5 + 1
        let month = monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    private static func daysInMonth(_ month: Int, year: Int) -> Int {
        switch month {
        case 2:
            let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
            return leap ? 29 : 28
        case 4, 6, 9, 11:
            return 30
        default:
            return 31
        }
    }

    private static let weekdayNames = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let monthNames = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
}

// MARK: - Formatting helpers

/// Writes the digits straight into the string's storage: this runs once or twice per request.
private func format(_ parts: (year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int),
                    dateSeparator: UInt8?, timeSeparator: UInt8?, withTime: Bool) -> String {
    let dateLength = dateSeparator == nil ? 8 : 10
    let timeLength = timeSeparator == nil ? 6 : 8
    let length = withTime ? dateLength + 2 + timeLength : dateLength
    return String(unsafeUninitializedCapacity: length) { out in
        var index = 0
        func put(_ value: Int, digits: Int) {
            var remaining = value
            for position in stride(from: digits - 1, through: 0, by: -1) {
                out[index + position] = UInt8(ascii: "0") &+ UInt8(remaining % 10)
                remaining /= 10
            }
            index += digits
        }
        func put(_ byte: UInt8?) {
            if let byte {
                out[index] = byte
                index += 1
            }
        }
        put(Int(clampedYear(parts.year)), digits: 4)
        put(dateSeparator)
        put(parts.month, digits: 2)
        put(dateSeparator)
        put(parts.day, digits: 2)
        if withTime {
            put(UInt8(ascii: "T"))
            put(parts.hour, digits: 2)
            put(timeSeparator)
            put(parts.minute, digits: 2)
            put(timeSeparator)
            put(parts.second, digits: 2)
            put(UInt8(ascii: "Z"))
        }
        return index
    }
}

/// The four-digit forms cannot spell years outside 0...9999; such dates never reach S3.
private func clampedYear(_ year: Int) -> Int {
    min(max(year, 0), 9_999)
}

private func twoDigits(_ value: Int) -> String {
    value < 10 ? "0\(value)" : "\(value)"
}

private func fourDigits(_ value: Int) -> String {
    let year = clampedYear(value)
    return String(repeating: "0", count: 4 - "\(year)".utf8.count) + "\(year)"
}

private func floorDivide(_ value: Int, _ divisor: Int) -> Int {
    let quotient = value / divisor
    return (value % divisor < 0) ? quotient - 1 : quotient
}

private func floorModulo(_ value: Int, _ divisor: Int) -> Int {
    let remainder = value % divisor
    return remainder < 0 ? remainder + divisor : remainder
}

// MARK: - Scanner

/// A cursor over the UTF-8 bytes of a date string.
private struct Scanner {
    let bytes: [UInt8]
    var position = 0

    init(_ text: String) {
        bytes = Array(text.utf8)
    }

    var isAtEnd: Bool { position == bytes.count }

    mutating func next() -> UInt8? {
        guard position < bytes.count else { return nil }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func skip(_ byte: UInt8) -> Bool {
        guard position < bytes.count, bytes[position] == byte else { return false }
        position += 1
        return true
    }

    @discardableResult
    mutating func skipSpaces() -> Int {
        let start = position
        while position < bytes.count, bytes[position] == UInt8(ascii: " ") || bytes[position] == UInt8(ascii: "\t") {
            position += 1
        }
        return position - start
    }

    mutating func skipDigits() -> Int {
        let start = position
        while position < bytes.count, isDigit(bytes[position]) { position += 1 }
        return position - start
    }

    mutating func number(digits: Int) -> Int? {
        number(minimumDigits: digits, maximumDigits: digits)
    }

    mutating func number(minimumDigits: Int, maximumDigits: Int) -> Int? {
        var value = 0
        var count = 0
        while count < maximumDigits, position < bytes.count, isDigit(bytes[position]) {
            value = value * 10 + Int(bytes[position] &- UInt8(ascii: "0"))
            position += 1
            count += 1
        }
        return count >= minimumDigits ? value : nil
    }

    /// A run of ASCII letters (and `extra`), or nil if there is none here.
    mutating func word(allowing extra: UInt8? = nil) -> ArraySlice<UInt8>? {
        let start = position
        while position < bytes.count {
            let byte = bytes[position] | 0x20
            guard (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || isDigit(bytes[position])
                    || bytes[position] == extra else { break }
            position += 1
        }
        return position > start ? bytes[start..<position] : nil
    }

    private func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }
}
