import Glibc
import Testing
import ObjectStore

@Suite("SigningDate")
struct SigningDateTests {
    @Test("the SigV4 and RFC 3339 forms")
    func formats() {
        let date = SigningDate(secondsSince1970: 1_440_938_160)
        #expect(date.amzDate == "20150830T123600Z")
        #expect(date.dateStamp == "20150830")
        #expect(date.iso8601 == "2015-08-30T12:36:00Z")
        #expect(date.httpDate == "Sun, 30 Aug 2015 12:36:00 GMT")

        #expect(SigningDate(secondsSince1970: 0).amzDate == "19700101T000000Z")
        #expect(SigningDate(secondsSince1970: -1).iso8601 == "1969-12-31T23:59:59Z")
        #expect(SigningDate(secondsSince1970: 1_709_251_199).iso8601 == "2024-02-29T23:59:59Z")
        #expect(SigningDate(secondsSince1970: 951_782_400).dateStamp == "20000229")
    }

    @Test("calendar fields agree with the C library's gmtime_r", arguments: [
        0, 1, 59, 86_399, 86_400, 68_169_600, 951_868_799, 951_868_800, 1_234_567_890, 1_440_938_160,
        2_147_483_647, 4_102_444_800, 253_402_300_799, -1, -86_401, -2_208_988_800,
    ])
    func agreesWithGmtime(_ seconds: Int) {
        var time = time_t(seconds)
        var expected = tm()
        gmtime_r(&time, &expected)
        let date = SigningDate(secondsSince1970: seconds)
        let parts = date.components
        #expect(parts.year == Int(expected.tm_year) + 1900)
        #expect(parts.month == Int(expected.tm_mon) + 1)
        #expect(parts.day == Int(expected.tm_mday))
        #expect(parts.hour == Int(expected.tm_hour))
        #expect(parts.minute == Int(expected.tm_min))
        #expect(parts.second == Int(expected.tm_sec))
        #expect(SigningDate.parseISO8601(date.iso8601) == date)
        #expect(SigningDate.parseHTTPDate(date.httpDate) == date)
    }

    @Test("every day from 1900 to 2200 round-trips through its fields")
    func calendarRoundTrip() {
        var previousStamp = ""
        var days = 0
        for seconds in stride(from: -2_208_988_800, to: 7_258_118_400, by: 86_400) {
            let date = SigningDate(secondsSince1970: seconds + 45_296)  // 12:34:56 each day
            let parts = date.components
            let rebuilt = SigningDate(year: parts.year, month: parts.month, day: parts.day,
                                      hour: parts.hour, minute: parts.minute, second: parts.second)
            // Plain checks in the loop: 110,000 #expect calls would dominate the run time.
            guard parts.hour == 12, parts.minute == 34, parts.second == 56, rebuilt == date,
                  previousStamp < date.dateStamp else {
                Issue.record("\(seconds): \(parts) rebuilds as \(String(describing: rebuilt)) after \(previousStamp)")
                return
            }
            previousStamp = date.dateStamp
            days += 1
        }
        #expect(days == 109_573)  // 300 years, 73 of them leap years (1900 and 2100 are not)
        #expect(previousStamp == "21991231")
    }

    @Test("parsing RFC 3339: fractions, offsets, and what is refused")
    func parseISO8601() {
        let expected = SigningDate(secondsSince1970: 1_440_938_160)
        #expect(SigningDate.parseISO8601("2015-08-30T12:36:00Z") == expected)
        #expect(SigningDate.parseISO8601("2015-08-30T12:36:00.000Z") == expected)
        #expect(SigningDate.parseISO8601("2015-08-30T12:36:00.999999Z") == expected)
        #expect(SigningDate.parseISO8601("2015-08-30t12:36:00z") == expected)
        #expect(SigningDate.parseISO8601("2015-08-30T14:36:00+02:00") == expected)
        #expect(SigningDate.parseISO8601("2015-08-30T07:06:00-0530") == expected)

        for bad in ["", "2015-08-30", "2015-08-30T12:36:00", "2015-08-30T12:36Z", "2015-13-01T00:00:00Z",
                    "2015-02-29T00:00:00Z", "2015-08-30T24:00:00Z", "2015-08-30T12:36:00.Z",
                    "2015-08-30T12:36:00Zjunk", "15-08-30T12:36:00Z", "2015-08-30T12:36:00+2"] {
            #expect(SigningDate.parseISO8601(bad) == nil, "'\(bad)' should not parse")
        }
        #expect(SigningDate.parseISO8601("2016-02-29T00:00:00Z")?.dateStamp == "20160229")
    }

    @Test("parsing RFC 1123 HTTP dates")
    func parseHTTPDate() {
        let expected = SigningDate(secondsSince1970: 784_111_777)
        #expect(SigningDate.parseHTTPDate("Sun, 06 Nov 1994 08:49:37 GMT") == expected)
        #expect(SigningDate.parseHTTPDate("06 Nov 1994 08:49:37 GMT") == expected)
        #expect(SigningDate.parseHTTPDate("  Sun, 6 Nov 1994 08:49:37 UTC  ") == expected)
        #expect(expected.httpDate == "Sun, 06 Nov 1994 08:49:37 GMT")

        for bad in ["", "120", "Sun, 06 Nov 1994 08:49:37", "Sun, 06 Nov 1994 08:49:37 PST", "Sun, 06 Foo 1994 08:49:37 GMT",
                    "Xyz, 06 Nov 1994 08:49:37 GMT", "Sun, 31 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 8:49:37 GMT",
                    "Sunday, 06-Nov-94 08:49:37 GMT"] {
            #expect(SigningDate.parseHTTPDate(bad) == nil, "'\(bad)' should not parse")
        }
    }

    @Test("now() reads the real-time clock")
    func now() {
        // time() reads a coarse clock that may lag CLOCK_REALTIME by a tick; compare like with like.
        func realtimeSeconds() -> Int {
            var clock = timespec()
            clock_gettime(CLOCK_REALTIME, &clock)
            return Int(clock.tv_sec)
        }
        let before = realtimeSeconds()
        let now = SigningDate.now().secondsSince1970
        let after = realtimeSeconds()
        #expect(before <= now && now <= after)
    }
}
