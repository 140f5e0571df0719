import Foundation
import KujiraDockerfile
import Testing

/// Docker's own parser test files as the oracle: the `testfiles/*/Dockerfile` and `result`
/// pairs that Debian ships in golang-github-openshift-imagebuilder-dev (imagebuilder keeps
/// Docker's parser and its tests). scripts/test.sh unpacks that one package (without its Go
/// dependencies) into /var/cache/kujira-test and sets KUJIRA_PARSER_TESTFILES.
///
/// Those results predate BuildKit's current dump format, which prints each ENV/LABEL pair with
/// its separator (`(env "A" "1" "=")`): the comparison drops that third element. One file is
/// expected to differ: `escape-nonewline` declares the escape token "``", which BuildKit
/// rejects ("invalid escape token"), as Kujira does.
@Suite("Docker's parser test files")
struct UpstreamTestfilesTests {
    static let directory = ProcessInfo.processInfo.environment["KUJIRA_PARSER_TESTFILES"]
    static let required = ProcessInfo.processInfo.environment["KUJIRA_REQUIRE_PRIVILEGED"] == "1"
    static let rejectedByBuildKit: Set<String> = ["escape-nonewline"]

    @Test(.enabled(if: directory != nil || required, "set KUJIRA_PARSER_TESTFILES (scripts/test.sh does)"))
    func dumpsMatchDockersResults() throws {
        guard let directory = Self.directory, FileManager.default.fileExists(atPath: directory) else {
            Issue.record("KUJIRA_PARSER_TESTFILES is not set or missing: run scripts/test.sh, which unpacks Docker's parser test files")
            return
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        var compared = 0
        for name in names {
            let dockerfile = "\(directory)/\(name)/Dockerfile", result = "\(directory)/\(name)/result"
            guard let source = FileManager.default.contents(atPath: dockerfile),
                  let expected = FileManager.default.contents(atPath: result) else { continue }
            let text = String(decoding: source, as: UTF8.self)
            if Self.rejectedByBuildKit.contains(name) {
                #expect(throws: (any Error).self, "\(name) should be rejected") { try DockerfileParser.parseSyntax(text, fileName: "Dockerfile") }
                continue
            }
            let dump: String
            do {
                dump = try DockerfileParser.parseSyntax(text, fileName: "Dockerfile").dump()
            } catch {
                Issue.record("\(name): \(error)")
                continue
            }
            let ours = dump.split(separator: "\n", omittingEmptySubsequences: false).map { Self.withoutSeparators(String($0)) }
            let theirs = String(decoding: expected, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            #expect(ours == theirs, "\(name)")
            compared += 1
        }
        #expect(compared >= 25, "only \(compared) test files found in \(directory)")
    }

    /// `(env "A" "1" "=" "B" "2" "")` → `(env "A" "1" "B" "2")`.
    static func withoutSeparators(_ line: String) -> String {
        let keyword: String
        if line.hasPrefix("(env ") { keyword = "env" } else if line.hasPrefix("(label ") { keyword = "label" } else { return line }
        var tokens: [String] = []
        var current = "", inString = false, escaped = false
        for c in line.dropFirst(keyword.count + 2).dropLast() {
            if inString {
                current.append(c)
                if escaped { escaped = false } else if c == "\\" { escaped = true } else if c == "\"" { inString = false; tokens.append(current); current = "" }
            } else if c == "\"" {
                inString = true
                current = "\""
            }
        }
        var kept: [String] = []
        for (index, token) in tokens.enumerated() where index % 3 != 2 { kept.append(token) }
        return "(\(keyword) " + kept.joined(separator: " ") + ")"
    }
}
