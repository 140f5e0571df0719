import KujiraOCI
import Testing

@Suite("Timestamp")
struct TimestampTests {
    @Test(arguments: [
        ("1970-01-01T00:00:00Z", Int64(0), Int32(0), "1970-01-01T00:00:00Z"),
        ("2026-11-29T00:05:59.948486266Z", 1_795_910_759, 948_486_266, "2026-11-29T00:05:59.948486266Z"),
        ("2023-11-01T23:57:36.9Z", 1_698_883_056, 900_000_000, "2023-11-01T23:57:36.9Z"),
        ("2024-03-05T10:11:12.000000001+01:00", 1_709_629_872, 1, "2024-03-05T09:11:12.000000001Z"),
        ("2024-02-29t23:30:00-02:30", 1_709_258_400, 0, "2024-03-01T02:00:00Z"),
        ("1969-12-31T23:59:59.5Z", -1, 500_000_000, "1969-12-31T23:59:59.5Z"),
        ("2000-02-29T12:00:00Z", 951_825_600, 0, "2000-02-29T12:00:00Z"),
    ])
    func parsesAndFormats(_ text: String, _ seconds: Int64, _ nanos: Int32, _ formatted: String) throws {
        let timestamp = try Timestamp(parsing: text)
        #expect(timestamp.secondsSinceEpoch == seconds)
        #expect(timestamp.nanoseconds == nanos)
        #expect(timestamp.rfc3339 == formatted)
        #expect(try Timestamp(parsing: timestamp.rfc3339) == timestamp)
    }

    @Test(arguments: [
        "", "2024-01-01", "2024-01-01T00:00:00", "2024-13-01T00:00:00Z", "2023-02-29T00:00:00Z",
        "2024-01-01T24:00:00Z", "2024-01-01T00:00:60Z", "2024-01-01T00:00:00.Z", "2024-01-01T00:00:00.1234567890Z",
        "2024-01-01T00:00:00+0100", "2024-01-01 00:00:00Z", "2024-01-01T00:00:00Zjunk",
    ])
    func rejectsInvalid(_ text: String) {
        let error = expectOCIError(.invalidTimestamp) { _ = try Timestamp(parsing: text) }
        #expect(error?.message.contains("RFC 3339") == true)
    }

    @Test func ordersAndCarriesNanoseconds() {
        let a = Timestamp(secondsSinceEpoch: 10, nanoseconds: 1_500_000_000)
        #expect(a.secondsSinceEpoch == 11 && a.nanoseconds == 500_000_000)
        let b = Timestamp(secondsSinceEpoch: 10, nanoseconds: -1)
        #expect(b.secondsSinceEpoch == 9 && b.nanoseconds == 999_999_999)
        #expect(b < a)
    }
}
