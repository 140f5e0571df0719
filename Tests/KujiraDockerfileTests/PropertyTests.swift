import Testing
@testable import KujiraDockerfile

/// A small deterministic generator (SplitMix64), so failures reproduce from the seed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Random Dockerfiles: valid-looking instructions mixed with hostile pieces (quotes, escapes,
/// heredoc markers, JSON fragments, continuations, CRLF, non-ASCII, control characters).
enum DockerfileGenerator {
    static let keywords = Instruction.keywords + ["from", "Run", "FOO", "#", "ONBUILD RUN", "onbuild copy"]
    static let pieces = [
        "a", "b", "/x", "$v", "${v:-w}", "${v#*/}", "'q q'", "\"d \\\" q\"", "\\", "`", "[", "]", "\"", ",",
        "[\"a\", \"b\"]", "[1]", "[[\"n\"]]", "<<EOF", "<<-E", "2<<X", "--from=a", "--mount=type=cache,target=/c",
        "--chmod=0755", "--link", "--", "=", "k=v", "k=\"v w\"", "AS", "as", "stage", "♥", "\u{A0}", "\u{1}",
        "\t", "  ", "#", "NONE", "CMD", "--interval=5s", "80/tcp", "SIGTERM",
    ]

    static func make<G: RandomNumberGenerator>(_ g: inout G, lines: Int) -> String {
        var out = ""
        if Bool.random(using: &g) { out += ["# syntax=x\n", "# escape=`\n", "\u{FEFF}", "# check=skip=all\n"].randomElement(using: &g) ?? "" }
        for _ in 0..<lines {
            out += keywords.randomElement(using: &g) ?? "RUN"
            for _ in 0..<Int.random(in: 0...5, using: &g) {
                out += " " + (pieces.randomElement(using: &g) ?? "a")
            }
            switch Int.random(in: 0..<10, using: &g) {
            case 0: out += " \\\n"
            case 1: out += "\r\n"
            case 2: out += "\nEOF\n"
            case 3: out += " \\\n\n"
            case 4: out += "\n# comment\n"
            default: out += "\n"
            }
        }
        return out
    }
}

@Suite struct PropertyTests {
    /// Whatever the input, the parser returns (no crash), and a tree it accepts prints to text
    /// that parses to the same tree.
    @Test func randomDockerfilesRoundTrip() throws {
        var g = SplitMix64(state: 0x4B55_4A49_5241)
        for _ in 0..<3000 {
            let text = DockerfileGenerator.make(&g, lines: Int.random(in: 1...12, using: &g))
            _ = DockerfileLinter.check(text)
            guard let tree = try? DockerfileParser.parseSyntax(text) else { continue }
            let printed = DockerfilePrinter.print(tree)
            let again = try DockerfileParser.parseSyntax(printed)
            #expect(again.dump() == tree.dump(), "input:\n\(text)\nprinted:\n\(printed)")
            #expect(again.nodes.map(\.heredocs) == tree.nodes.map(\.heredocs), "input:\n\(text)")
        }
    }

    /// The byte-level fast paths (plain heredoc lines and delimiters, unquoted `--mount`
    /// records) give what the general readers give, on random lines built to hit both.
    @Test func fastPathsMatchGeneralReaders() {
        var g = SplitMix64(state: 0x6865_7265)
        let pieces = [
            "<<", "<<-", "EOF", "E", "3", "-", "x", " ", "\t", "'", "\"", "$", "\\", "<", "a=b", ",", "=",
            "type=cache", "target=/c", "ro", "\"a,b\"", "♥", "\u{A0}", "\r", "",
        ]
        for _ in 0..<5000 {
            let line = (0..<Int.random(in: 0...8, using: &g)).map { _ in pieces.randomElement(using: &g) ?? "" }.joined()
            func heredocs(_ f: (String) throws(ExpansionError) -> [Heredoc]) -> Result<[Heredoc], ExpansionError> {
                do throws(ExpansionError) { return .success(try f(line)) } catch { return .failure(error) }
            }
            #expect(heredocs(HeredocScanner.heredocs(in:)) == heredocs(HeredocScanner.lexedHeredocs(in:)), "line: \(line)")
            func describe(_ r: Result<[String], ValueError>) -> String {
                switch r {
                case .success(let fields): return "fields \(fields)"
                case .failure(let e): return "error \(e.message)"
                }
            }
            #expect(describe(RunFlags.csvFields(line)) == describe(RunFlags.quotedCSVFields(line)), "line: \(line)")
        }
        // The fast path is taken for plain lines.
        #expect(HeredocScanner.isPlain("RUN 3<<EOF cat <<-X", allowSpaces: true))
        #expect(!HeredocScanner.isPlain("RUN <<\"EOF\"", allowSpaces: true))
    }

    /// The keyword lookup from bytes (packed names) agrees with the lookup by lower-case name,
    /// in any letter case, and refuses near misses.
    @Test func keywordLookupFromBytesMatchesNames() {
        let words = Instruction.keywords + ["FOO", "RU", "RUNS", "WORKDIRS", "AD", "ADDD", "COPY2", "", "ÉNV", "FROMFROMFROM"]
        for word in words {
            // Upper, lower and alternating case.
            let alternating = String(word.enumerated().map { $0.offset % 2 == 0 ? Character($0.element.lowercased()) : $0.element })
            for form in [word, word.lowercased(), alternating] {
                var bytes = form
                let kind = bytes.withUTF8 { InstructionKind(keyword: $0) }
                #expect(kind == InstructionKind(command: form.lowercased()), "\(form)")
                if kind != .unknown { #expect(kind.name == form.lowercased()) }
            }
        }
        // Non-ASCII keywords are lowered as Go does: the Kelvin sign is a `k`.
        let node = try? LineParsers.node(from: "WOR\u{212A}DIR /x", escape: UInt8(ascii: "\\"))
        #expect(node?.kind == .workdir)
        #expect(node?.command == "workdir")
    }

    /// Random bytes (as text) never crash any entry point.
    @Test func randomBytesNeverCrash() {
        var g = SplitMix64(state: 42)
        let alphabet = Array("RUNFROMCOPY \\`\"'$#{}[]<<-=,:\n\r\t/*?!EOFa1")
        for _ in 0..<3000 {
            let n = Int.random(in: 0...200, using: &g)
            let text = String((0..<n).map { _ in alphabet.randomElement(using: &g) ?? "a" })
            _ = DockerfileLinter.check(text)
            _ = try? DockerIgnore(text)
            _ = try? ShellLexer().processWords(text, env: ["a": "b"])
        }
    }

    /// A 10 MB Dockerfile parses (the time is measured by the benchmark, not asserted here).
    @Test func tenMegabyteDockerfileParses() throws {
        var text = "FROM alpine AS base\n"
        let block = """
            RUN apt-get update && apt-get install -y curl ca-certificates \\
                && rm -rf /var/lib/apt/lists/*
            ENV PATH=/usr/local/bin:$PATH LANG=C.UTF-8
            COPY --chown=app:app src/ /app/src/
            LABEL org.opencontainers.image.title="kujira" version="1.0"

            """
        while text.utf8.count < 10_000_000 { text += block }
        let df = try DockerfileParser.parse(text)
        #expect(df.stages[0].instructions.count > 150_000)
    }
}

/// Inputs the fuzzer found, kept as regression cases.
@Suite struct FuzzRegressionTests {
    static let inputs: [[UInt8]] = [
        Array("\\".utf8),
        Array("# escape=`\nFR\u{FFFD}UkV=Ma#R$a$$$#/escape=UEUDRNILDw}\" \\ \n`\n".utf8),
        [0x46, 0x52, 0x4F, 0x4D, 0x55, 0x4E, 0x20, 0x2D, 0x2D, 0x22, 0xD9, 0x8F, 0xEF, 0xBF, 0xBD, 0xC2, 0xA0, 0xEF, 0xBF,
         0x6D, 0x6F, 0x75, 0x74, 0x55, 0xAC, 0xFE, 0x52, 0x55, 0x4E, 0x20, 0x2D, 0x2D, 0x6D, 0x6F, 0x75, 0x7A, 0x3A, 0x39,
         0x01, 0xFF, 0xFF, 0x9D, 0xDF, 0xC2, 0x79, 0x6E, 0x53, 0x20, 0x23, 0x20],
        Array("# escape=`\nFROM a\nENV k-\"v w\" v\n`\n\n`\u{0B}\n".utf8),
        [0x23, 0x20, 0x65, 0x73, 0x63, 0x61, 0x70, 0x65, 0x3D, 0x60, 0x0A, 0xC6, 0x52, 0x00, 0x00, 0x26, 0x00, 0x52, 0x0A,
         0x60, 0x0A, 0x20, 0x2D, 0x2D, 0x55, 0x60, 0x0A, 0x60, 0x0A, 0x20, 0x8A, 0x05],
        [0x60, 0xA6, 0x0A, 0x0C, 0x0C, 0xF3, 0x9C, 0xB1, 0xA9, 0x5F, 0x0A, 0x0C, 0x0C, 0x0C, 0x0C, 0xF3, 0x9C, 0xB1, 0xA9, 0x5F, 0x0A, 0x0C, 0x0C, 0xF3, 0x9C, 0x6B, 0x22, 0xB1, 0xA9, 0x1F, 0x8D, 0x3D, 0xA2, 0xF3, 0x60, 0xA6, 0x0A, 0x0C, 0x0C, 0xF3, 0x9C, 0xB1, 0xA9, 0x5F, 0x0A, 0x0C, 0x0C, 0xF3, 0xF3, 0x9C, 0x41, 0x20, 0x0A, 0x45, 0x6E, 0x56, 0x20, 0x5C, 0x5C, 0x5C, 0x5C, 0x5C, 0x5C, 0x5C, 0x20, 0x20, 0x20, 0x00, 0x95, 0x6B, 0x22, 0xB1, 0xA9, 0x5F, 0x8D, 0x3D, 0xA2, 0xF3, 0x60, 0xA6, 0x0A, 0x0C, 0x0C, 0xF3, 0x9C, 0xB1, 0xA9, 0x5F, 0x0A, 0x0C, 0x0C, 0xF3, 0x9C, 0xB1, 0xA9, 0x5F, 0x8D, 0x3D, 0xA2, 0xF3],
        // A heredoc body ending in CRLF gained a line feed when printed.
        Array("FROM a\nRUN <<E\nx\r\nE\n".utf8),
        [0x46, 0x52, 0x4F, 0x4D, 0x20, 0x61, 0x53, 0x20, 0x62, 0x0A, 0x6D, 0x65, 0xD6, 0xA3, 0x62, 0x0A, 0x6D, 0x65, 0xD6, 0xA3, 0x00, 0x2D, 0x0F, 0x2D, 0x6F, 0x6D, 0x4E, 0x41, 0x52, 0x55, 0x4E, 0x20, 0x2D, 0x2D, 0x3D, 0x74, 0x0A, 0x43, 0x4F, 0x50, 0x59, 0x20, 0x3C, 0x3C, 0x45, 0x0D, 0x0D, 0x0D, 0x0D, 0x00, 0x2D, 0x0F, 0x2D, 0x6F, 0x6D, 0x4E, 0x41, 0x52, 0x55, 0x4E, 0x20, 0x2D, 0x2D, 0x3D, 0x74, 0x0A, 0x43, 0x4F, 0x50, 0x59, 0x20, 0x3C, 0x3C, 0x45, 0x0D, 0x0D, 0x0D, 0x0D, 0x0D, 0x0D, 0x0D, 0x0D, 0x0C, 0x0D, 0x0A, 0x45, 0x0D, 0x0D],
    ]

    @Test(arguments: inputs.indices)
    func roundTrip(_ index: Int) throws {
        let text = String(decoding: Self.inputs[index], as: UTF8.self)
        _ = DockerfileLinter.check(text)
        guard let tree = try? DockerfileParser.parseSyntax(text) else { return }
        let printed = DockerfilePrinter.print(tree)
        let again = try DockerfileParser.parseSyntax(printed)
        #expect(again.dump() == tree.dump(), "printed: \(printed.debugDescription) original: \(tree.dump().debugDescription) again: \(again.dump().debugDescription)")
        #expect(again.nodes.map(\.heredocs) == tree.nodes.map(\.heredocs), "printed: \(printed.debugDescription)")
    }
}
