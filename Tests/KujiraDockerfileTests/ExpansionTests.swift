import Testing
@testable import KujiraDockerfile

struct ExpansionCase: CustomStringConvertible, Sendable {
    var word: String
    var expected: String?
    var error: String?
    var description: String { word }
}

let expansionEnv: [String: String] = [
    "a": "hello", "e": "", "p": "/usr/local/bin/tool.tar.gz", "sp": "x y", "nl": "a\nb",
]

/// Every modifier, escapes and quotes, set / empty / unset variables.
let expansionCases: [ExpansionCase] = [
    ExpansionCase(word: "$a", expected: "hello"),
    ExpansionCase(word: "${a}", expected: "hello"),
    ExpansionCase(word: "$a$a", expected: "hellohello"),
    ExpansionCase(word: "x${a}y", expected: "xhelloy"),
    ExpansionCase(word: "$u", expected: ""),
    ExpansionCase(word: "${u}", expected: ""),
    ExpansionCase(word: "'$a'", expected: "$a"),
    ExpansionCase(word: "\"$a\"", expected: "hello"),
    ExpansionCase(word: "\"'$a'\"", expected: "'hello'"),
    ExpansionCase(word: "\\$a", expected: "$a"),
    ExpansionCase(word: "\"\\$a\"", expected: "$a"),
    ExpansionCase(word: "\"\\x\"", expected: "\\x"),
    ExpansionCase(word: "a\\ b", expected: "a b"),
    ExpansionCase(word: "\\\\", expected: "\\"),
    ExpansionCase(word: "end$", expected: "end$"),
    ExpansionCase(word: "$-", expected: ""),
    ExpansionCase(word: "$1x", expected: "x"),
    ExpansionCase(word: "${a:-w}", expected: "hello"),
    ExpansionCase(word: "${e:-w}", expected: "w"),
    ExpansionCase(word: "${u:-w}", expected: "w"),
    ExpansionCase(word: "${a-w}", expected: "hello"),
    ExpansionCase(word: "${e-w}", expected: ""),
    ExpansionCase(word: "${u-w}", expected: "w"),
    ExpansionCase(word: "${u:-$a}", expected: "hello"),
    ExpansionCase(word: "${u:-${e:-nested}}", expected: "nested"),
    ExpansionCase(word: "${a:+w}", expected: "w"),
    ExpansionCase(word: "${e:+w}", expected: ""),
    ExpansionCase(word: "${u:+w}", expected: ""),
    ExpansionCase(word: "${a+w}", expected: "w"),
    ExpansionCase(word: "${e+w}", expected: "w"),
    ExpansionCase(word: "${u+w}", expected: ""),
    ExpansionCase(word: "${a:?msg}", expected: "hello"),
    ExpansionCase(word: "${e:?msg}", error: "failed to process \"${e:?msg}\": e: msg"),
    ExpansionCase(word: "${e:?}", error: "failed to process \"${e:?}\": e: is not allowed to be empty"),
    ExpansionCase(word: "${u:?}", error: "failed to process \"${u:?}\": u: is not allowed to be unset"),
    ExpansionCase(word: "${u:?must be set}", error: "failed to process \"${u:?must be set}\": u: must be set"),
    ExpansionCase(word: "${a?msg}", expected: "hello"),
    ExpansionCase(word: "${e?msg}", expected: ""),
    ExpansionCase(word: "${u?msg}", error: "failed to process \"${u?msg}\": u: msg"),
    ExpansionCase(word: "${p#*/}", expected: "usr/local/bin/tool.tar.gz"),
    ExpansionCase(word: "${p##*/}", expected: "tool.tar.gz"),
    ExpansionCase(word: "${p%.*}", expected: "/usr/local/bin/tool.tar"),
    ExpansionCase(word: "${p%%.*}", expected: "/usr/local/bin/tool"),
    ExpansionCase(word: "${p#/usr}", expected: "/local/bin/tool.tar.gz"),
    ExpansionCase(word: "${p#nomatch}", expected: "/usr/local/bin/tool.tar.gz"),
    ExpansionCase(word: "${a#h?}", expected: "llo"),
    ExpansionCase(word: "${a%l*}", expected: "hel"),
    ExpansionCase(word: "${a%%l*}", expected: "he"),
    ExpansionCase(word: "${a#\\*}", expected: "hello"),
    ExpansionCase(word: "${u#x}", expected: ""),
    ExpansionCase(word: "${p/local/opt}", expected: "/usr/opt/bin/tool.tar.gz"),
    ExpansionCase(word: "${p//\\//_}", expected: "_usr_local_bin_tool.tar.gz"),
    ExpansionCase(word: "${a/l/L}", expected: "heLlo"),
    ExpansionCase(word: "${a//l/L}", expected: "heLLo"),
    ExpansionCase(word: "${a/l*/L}", expected: "heL"),
    ExpansionCase(word: "${a//?/.}", expected: "....."),
    ExpansionCase(word: "${a/x/y}", expected: "hello"),
    ExpansionCase(word: "${a/l/}", expected: "helo"),
    ExpansionCase(word: "${nl/?/_}", expected: "_\nb"),
    ExpansionCase(word: "${a:1}", error: "failed to process \"${a:1}\": unsupported modifier (:1) in substitution"),
    ExpansionCase(word: "${a:#x}", error: "failed to process \"${a:#x}\": unsupported modifier (:#) in substitution"),
    ExpansionCase(word: "${a!}", error: "failed to process \"${a!}\": unsupported modifier (!) in substitution"),
    ExpansionCase(word: "${}", error: "failed to process \"${}\": syntax error: bad substitution"),
    ExpansionCase(word: "${:a}", error: "failed to process \"${:a}\": syntax error: bad substitution"),
    ExpansionCase(word: "${a", error: "failed to process \"${a\": syntax error: missing '}'"),
    ExpansionCase(word: "${a:-x", error: "failed to process \"${a:-x\": syntax error: missing '}'"),
    ExpansionCase(word: "${a/x", error: "failed to process \"${a/x\": syntax error: missing '/' in ${}"),
    ExpansionCase(word: "${a#\\x}", error: "failed to process \"${a#\\\\x}\": invalid pattern (\\x) in substitution: invalid escape '\\x'"),
    ExpansionCase(word: "'open", error: "failed to process \"'open\": unexpected end of statement while looking for matching single-quote"),
    ExpansionCase(word: "\"open", error: "failed to process \"\\\"open\": unexpected end of statement while looking for matching double-quote"),
]

@Suite struct ExpansionTests {
    @Test(arguments: expansionCases)
    func modifier(_ c: ExpansionCase) {
        let lexer = ShellLexer()
        do {
            let r = try lexer.processWord(c.word, env: expansionEnv)
            #expect(c.error == nil, "expected an error, got \(r)")
            #expect(r == c.expected)
        } catch {
            #expect(error.message == c.error)
        }
    }

    @Test func wordsSplitAfterExpansionButNotInQuotes() throws {
        let lexer = ShellLexer()
        #expect(try lexer.processWords("a  b 'c d' \"e $sp\" $sp", env: expansionEnv) == ["a", "b", "c d", "e x y", "x", "y"])
        #expect(try lexer.processWords("''", env: [:]) == [])
    }

    @Test func backtickEscape() throws {
        let lexer = ShellLexer(escapeToken: "`")
        #expect(try lexer.processWord("`$a \\$a", env: expansionEnv) == "$a \\hello")
    }

    @Test func unmatchedVariablesAreReported() throws {
        let r = try ShellLexer().process("$a ${b} ${c:-x}") { $0 == "a" ? "1" : nil }
        #expect(r.unmatched == ["b", "c"])
    }

    @Test func skipUnsetKeepsReferences() throws {
        var lexer = ShellLexer()
        lexer.skipUnsetEnv = true
        #expect(try lexer.processWord("$x ${y} ${z:-d} $a", env: ["a": "1"]) == "$x ${y} ${z:-d} 1")
    }

    @Test func patternsAreLinearNotExponential() throws {
        let value = String(repeating: "a", count: 2000)
        let env = ["v": value]
        let out = try ShellLexer().processWord("${v#*a*a*a*a*a*a*a*b}", env: env)
        #expect(out == value)
    }
}
