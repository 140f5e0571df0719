import Testing
@testable import KujiraDockerfile

struct IgnoreCase: CustomStringConvertible, Sendable {
    var patterns: String
    var path: String
    var excluded: Bool
    var description: String { "\(patterns.split(separator: "\n")) \(path)" }
}

let ignoreCases: [IgnoreCase] = [
    IgnoreCase(patterns: "foo", path: "foo", excluded: true),
    IgnoreCase(patterns: "foo", path: "foo/bar", excluded: true),
    IgnoreCase(patterns: "foo", path: "a/foo", excluded: false),
    IgnoreCase(patterns: "/foo", path: "foo", excluded: true),
    IgnoreCase(patterns: "./foo/../bar", path: "bar/x", excluded: true),
    IgnoreCase(patterns: "*.md", path: "README.md", excluded: true),
    IgnoreCase(patterns: "*.md", path: "docs/a.md", excluded: false),
    IgnoreCase(patterns: "*/*.md", path: "docs/a.md", excluded: true),
    IgnoreCase(patterns: "**/*.md", path: "a/b/c.md", excluded: true),
    IgnoreCase(patterns: "**/*.md", path: "c.md", excluded: true),
    IgnoreCase(patterns: "a/**/b", path: "a/b", excluded: true),
    IgnoreCase(patterns: "a/**/b", path: "a/x/y/b", excluded: true),
    IgnoreCase(patterns: "a/**", path: "a/x/y", excluded: true),
    IgnoreCase(patterns: "**", path: "anything/at/all", excluded: true),
    IgnoreCase(patterns: "fo?", path: "foo", excluded: true),
    IgnoreCase(patterns: "fo?", path: "fo/", excluded: false),
    IgnoreCase(patterns: "f[a-o]o", path: "foo", excluded: true),
    IgnoreCase(patterns: "f[^o]o", path: "foo", excluded: false),
    IgnoreCase(patterns: "f[^o]o", path: "fxo", excluded: true),
    IgnoreCase(patterns: "\\*", path: "*", excluded: true),
    IgnoreCase(patterns: "\\*", path: "x", excluded: false),
    IgnoreCase(patterns: "*\n!keep.md", path: "keep.md", excluded: false),
    IgnoreCase(patterns: "*\n!keep.md", path: "other", excluded: true),
    IgnoreCase(patterns: "*.md\n!README.md\nREADME*", path: "README.md", excluded: true),
    IgnoreCase(patterns: "docs\n!docs/keep", path: "docs/keep", excluded: false),
    IgnoreCase(patterns: "docs\n!docs/keep", path: "docs/other", excluded: true),
    IgnoreCase(patterns: "# comment\nfoo", path: "# comment", excluded: false),
    IgnoreCase(patterns: "\u{FEFF}foo\r\nbar\r\n", path: "bar", excluded: true),
    IgnoreCase(patterns: "\u{FEFF}foo\r\nbar\r\n", path: "foo", excluded: true),
    IgnoreCase(patterns: "  spaced  ", path: "spaced", excluded: true),
    IgnoreCase(patterns: "node_modules", path: "node_modules/x/y.js", excluded: true),
    IgnoreCase(patterns: ".git", path: ".gitignore", excluded: false),
    IgnoreCase(patterns: "a.txt", path: "./a.txt", excluded: true),
    IgnoreCase(patterns: "!a", path: "a", excluded: false),
]

@Suite struct DockerIgnoreTests {
    @Test(arguments: ignoreCases)
    func matching(_ c: IgnoreCase) throws {
        let ignore = try DockerIgnore(c.patterns)
        #expect(ignore.excludes(c.path) == c.excluded)
    }

    @Test func patternsAreCleaned() throws {
        let ignore = try DockerIgnore("/a/b/../c/\n!  /d\n# x\n\n")
        #expect(ignore.patterns.map(\.pattern) == ["a/c", "d"])
        #expect(ignore.patterns.map(\.exclusion) == [false, true])
        #expect(ignore.patterns.map(\.line) == [1, 2])
    }

    @Test func badPatternIsAnError() {
        #expect(throws: DockerIgnoreError.self) { try DockerIgnore("ok\n[abc\n") }
        do {
            _ = try DockerIgnore("ok\n[abc\n")
        } catch {
            #expect(error.description == ".dockerignore:2: syntax error in pattern")
        }
    }

    @Test func dockerfileSpecificIgnoreFileWins() {
        let files: Set<String> = ["build/app.Dockerfile.dockerignore", ".dockerignore"]
        #expect(DockerIgnore.ignoreFilePath(dockerfilePath: "build/app.Dockerfile", exists: files.contains) == "build/app.Dockerfile.dockerignore")
        #expect(DockerIgnore.ignoreFilePath(dockerfilePath: "Dockerfile", exists: files.contains) == ".dockerignore")
        #expect(DockerIgnore.ignoreFilePath(dockerfilePath: "Dockerfile", exists: { _ in false }) == nil)
    }
}
