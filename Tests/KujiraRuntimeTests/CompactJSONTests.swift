import Foundation
import KujiraOCI
@testable import KujiraRuntime
import Testing

/// The runtime's own JSON coder against Foundation's, on the same documents.
@Suite("CompactJSON")
struct CompactJSONTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("KujiraOCITests/Fixtures")

    @Test(arguments: ["runtime-spec-full.json", "runc-spec.json", "runc-spec-rootless.json"])
    func decodesSpecsAsFoundationDoes(name: String) throws {
        let url = Self.fixtures.appendingPathComponent(name)
        try #require(FileManager.default.fileExists(atPath: url.path), "fixture \(name) is missing")
        let data = try Data(contentsOf: url)
        let foundation = try JSONDecoder().decode(Spec.self, from: data)
        let ours = try CompactJSON.decode(Spec.self, from: Array(data))
        #expect(ours == foundation)
        // Our output reads back the same with both decoders, and Foundation's with ours.
        let encoded = try CompactJSON.encode(ours)
        #expect(try JSONDecoder().decode(Spec.self, from: Data(encoded)) == foundation)
        #expect(try CompactJSON.decode(Spec.self, from: encoded) == foundation)
        #expect(try CompactJSON.decode(Spec.self, from: Array(try JSONEncoder().encode(foundation))) == foundation)
    }

    @Test func keepsTheDefaultSpec() throws {
        let spec = RuntimeTemplates.spec()
        #expect(try CompactJSON.decode(Spec.self, from: try CompactJSON.encode(spec)) == spec)
        #expect(try JSONDecoder().decode(Spec.self, from: Data(try CompactJSON.encode(spec))) == spec)
    }

    struct Sample: Codable, Equatable {
        var text: String
        var big: UInt64
        var small: Int64
        var ratio: Double
        var flag: Bool
        var missing: String?
        var nested: [String: [Int32]]
    }

    @Test func stringsNumbersAndNesting() throws {
        let document = #"{"text":"a\"b\\c\/d\n\t\u00e9\ud83d\ude00\u0001","big":18446744073709551615,"small":-9223372036854775808,"ratio":0.25,"flag":true,"missing":null,"nested":{"x":[1,2,3],"y":[]},"extra":{"ignored":[null]}}"#
        let sample = try CompactJSON.decode(Sample.self, from: Array(document.utf8))
        #expect(sample == Sample(text: "a\"b\\c/d\n\té😀\u{1}", big: .max, small: .min, ratio: 0.25, flag: true, missing: nil,
                                 nested: ["x": [1, 2, 3], "y": []]))
        #expect(try JSONDecoder().decode(Sample.self, from: Data(document.utf8)) == sample)
        let encoded = try CompactJSON.encode(sample)
        #expect(try JSONDecoder().decode(Sample.self, from: Data(encoded)) == sample)
        #expect(try CompactJSON.decode(Sample.self, from: encoded) == sample)
    }

    @Test(arguments: [#"{"a":1,}"#, #"[01]"#, #"{"a":"x"#, #"{"a":1} x"#, #"["\ud800"]"#, #"{"a":tru}"#, "[\"\u{1}\"]", ""])
    func refusesMalformedDocuments(document: String) {
        #expect(throws: CompactJSONError.self) { try CompactJSON.decode([String: [Int]].self, from: Array(document.utf8)) }
    }

    @Test func errorsNameThePath() {
        #expect {
            try CompactJSON.decode(Spec.self, from: Array(#"{"ociVersion":"1.2.0","process":{"user":{"uid":0,"gid":0},"args":5,"cwd":"/"}}"#.utf8))
        } throws: { error in
            "\(error)".contains("process.args") && "\(error)".contains("expected an array")
        }
        #expect {
            try CompactJSON.decode(Sample.self, from: Array(#"{"text":"x","big":-1,"small":0,"ratio":0,"flag":true,"nested":{}}"#.utf8))
        } throws: { error in
            "\(error)".contains("big") && "\(error)".contains("-1 is not a valid UInt64")
        }
    }
}
