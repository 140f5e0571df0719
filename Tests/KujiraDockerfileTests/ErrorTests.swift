import Testing
@testable import KujiraDockerfile

struct ErrorCase: CustomStringConvertible, Sendable {
    var dockerfile: String
    var message: String
    var line: Int
    var column: Int = 1
    var description: String { message }
}

/// Every error message, with the line BuildKit names (the instruction's first line).
let errorCases: [ErrorCase] = [
    // Line parser (fatal in BuildKit's parser too).
    ErrorCase(dockerfile: "", message: "file with no instructions", line: 1),
    ErrorCase(dockerfile: "# only a comment\n\n", message: "file with no instructions", line: 2),
    ErrorCase(dockerfile: "FROM a\nENV foo\n", message: "ENV must have two arguments", line: 2),
    ErrorCase(dockerfile: "FROM a\nLABEL foo\n", message: "LABEL must have two arguments", line: 2),
    ErrorCase(dockerfile: "FROM a\nENV a=b c\n", message: "Syntax error - can't find = in \"c\". Must be of the form: name=value", line: 2),
    ErrorCase(dockerfile: "FROM a\nCMD [\"a\", 1]\n", message: "when using JSON array syntax, arrays must be comprised of strings only", line: 2),
    ErrorCase(dockerfile: "FROM a\nRUN [[\"nested\"]]\n", message: "when using JSON array syntax, arrays must be comprised of strings only", line: 2),
    ErrorCase(dockerfile: "FROM a\nCOPY [\"a\", null]\n", message: "when using JSON array syntax, arrays must be comprised of strings only", line: 2),
    ErrorCase(dockerfile: "# escape=x\nFROM a\n", message: "invalid escape token 'x' does not match ` or \\", line: 1),
    ErrorCase(dockerfile: "# syntax=a\n# syntax=b\nFROM a\n", message: "only one syntax parser directive can be used", line: 2),
    ErrorCase(dockerfile: "FROM a\nRUN <<EOF\nabc\n", message: "unterminated heredoc", line: 2),
    ErrorCase(dockerfile: "FROM a\nRUN echo \\\n  <<EOF\nx\n", message: "unterminated heredoc", line: 2),
    // Instructions.
    ErrorCase(dockerfile: "FROM a\nCOPPY x y\n", message: "unknown instruction: COPPY (did you mean COPY?)", line: 2),
    ErrorCase(dockerfile: "FROM a\nFOO bar\n", message: "unknown instruction: FOO", line: 2),
    ErrorCase(dockerfile: "FROM a\n  ENTRYPONT [\"x\"]\n", message: "unknown instruction: ENTRYPONT (did you mean ENTRYPOINT?)", line: 2, column: 3),
    ErrorCase(dockerfile: "FROM a AS 1x\n", message: "invalid name for build stage: \"1x\", name can't start with a number or contain symbols", line: 1, column: 11),
    ErrorCase(dockerfile: "FROM a AS b$c\n", message: "invalid name for build stage: \"b$c\", name can't start with a number or contain symbols", line: 1, column: 11),
    ErrorCase(dockerfile: "FROM a b\n", message: "FROM requires either one or three arguments", line: 1),
    ErrorCase(dockerfile: "FROM\n", message: "FROM requires either one or three arguments", line: 1),
    ErrorCase(dockerfile: "FROM --plaform=linux/amd64 a\n", message: "unknown flag: --plaform (did you mean --platform?)", line: 1, column: 6),
    ErrorCase(dockerfile: "COPY a b\nFROM a\n", message: "no build stage in current context", line: 1),
    ErrorCase(dockerfile: "ARG a\n", message: "dockerfile contains no stages to build", line: 1),
    ErrorCase(dockerfile: "FROM a\nENV\n", message: "ENV requires at least one argument", line: 2),
    ErrorCase(dockerfile: "FROM a\nLABEL\n", message: "LABEL requires at least one argument", line: 2),
    ErrorCase(dockerfile: "FROM a\nENV =x\n", message: "ENV names can not be blank", line: 2),
    ErrorCase(dockerfile: "FROM a\nLABEL =x\n", message: "LABEL names can not be blank", line: 2),
    ErrorCase(dockerfile: "FROM a\nARG\n", message: "ARG requires at least one argument", line: 2),
    ErrorCase(dockerfile: "FROM a\nARG =x\n", message: "ARG names can not be blank", line: 2, column: 5),
    ErrorCase(dockerfile: "FROM a\nCOPY a\n", message: "COPY requires at least two arguments, but only one was provided. Destination could not be determined", line: 2),
    ErrorCase(dockerfile: "FROM a\nADD a\n", message: "ADD requires at least two arguments, but only one was provided. Destination could not be determined", line: 2),
    ErrorCase(dockerfile: "FROM a\nCOPY --chwon=x a b\n", message: "unknown flag: --chwon (did you mean --chown?)", line: 2, column: 6),
    ErrorCase(dockerfile: "FROM a\nADD --from=x a b\n", message: "unknown flag: --from", line: 2, column: 5),
    ErrorCase(dockerfile: "FROM a\nCOPY --checksum=sha256:00 a b\n", message: "unknown flag: --checksum", line: 2, column: 6),
    ErrorCase(dockerfile: "FROM a\nADD --parents a b\n", message: "unknown flag: --parents", line: 2, column: 5),
    ErrorCase(dockerfile: "FROM a\nCOPY --from a b\n", message: "Missing a value on flag: from", line: 2, column: 6),
    ErrorCase(dockerfile: "FROM a\nCOPY --link=maybe a b\n", message: "Expecting boolean value for flag link, not: maybe", line: 2, column: 6),
    ErrorCase(dockerfile: "FROM a\nCOPY --link= a b\n", message: "Missing a value on flag: link", line: 2, column: 6),
    ErrorCase(dockerfile: "FROM a\nCOPY --chown=a --chown=b a b\n", message: "Duplicate flag specified: chown", line: 2, column: 16),
    ErrorCase(dockerfile: "FROM a\nCOPY --chmod=999 a b\n", message: "invalid chmod parameter: '999'. it should be octal string like '0755' or symbolic like 'u=rwx,go=rx'", line: 2, column: 6),
    ErrorCase(dockerfile: "FROM a\nADD --checksum=md5:abc http://x /y\n", message: "unsupported digest algorithm: md5", line: 2, column: 5),
    ErrorCase(dockerfile: "FROM a\nADD --checksum=sha256:abc http://x /y\n", message: "invalid checksum digest format: sha256:abc", line: 2, column: 5),
    ErrorCase(dockerfile: "FROM a\nCOPY <<EOF <<EOF2\nx\nEOF\ny\nEOF2\n", message: "COPY cannot accept a heredoc as a destination", line: 2, column: 12),
    ErrorCase(dockerfile: "FROM a\nSHELL /bin/sh -c\n", message: "SHELL requires the arguments to be in JSON form", line: 2),
    ErrorCase(dockerfile: "FROM a\nSHELL []\n", message: "SHELL requires at least one argument", line: 2),
    ErrorCase(dockerfile: "FROM a\nHEALTHCHECK CONNECT x\n", message: "Unknown type \"CONNECT\" in HEALTHCHECK (try CMD)", line: 2, column: 13),
    ErrorCase(dockerfile: "FROM a\nHEALTHCHECK NONE x\n", message: "HEALTHCHECK NONE takes no arguments", line: 2),
    ErrorCase(dockerfile: "FROM a\nHEALTHCHECK\n", message: "HEALTHCHECK requires at least one argument", line: 2),
    ErrorCase(dockerfile: "FROM a\nHEALTHCHECK CMD\n", message: "Missing command after HEALTHCHECK CMD", line: 2),
    ErrorCase(dockerfile: "FROM a\nHEALTHCHECK --interval=1ns CMD x\n", message: "Interval \"interval\" cannot be less than 1ms", line: 2, column: 13),
    ErrorCase(dockerfile: "FROM a\nHEALTHCHECK --timeout=5 CMD x\n", message: "time: missing unit in duration \"5\"", line: 2, column: 13),
    ErrorCase(dockerfile: "FROM a\nHEALTHCHECK --start-period=5y CMD x\n", message: "time: unknown unit \"y\" in duration \"5y\"", line: 2, column: 13),
    ErrorCase(dockerfile: "FROM a\nHEALTHCHECK --retries=-1 CMD x\n", message: "--retries cannot be negative (-1)", line: 2, column: 13),
    ErrorCase(dockerfile: "FROM a\nHEALTHCHECK --retries=x CMD x\n", message: "strconv.ParseInt: parsing \"x\": invalid syntax", line: 2, column: 13),
    ErrorCase(dockerfile: "FROM a\nHEALTHCHECK --intervall=5s CMD x\n", message: "unknown flag: --intervall (did you mean --interval?)", line: 2, column: 13),
    ErrorCase(dockerfile: "FROM a\nONBUILD ONBUILD RUN x\n", message: "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed", line: 2),
    ErrorCase(dockerfile: "FROM a\nONBUILD FROM b\n", message: "FROM isn't allowed as an ONBUILD trigger", line: 2),
    ErrorCase(dockerfile: "FROM a\nONBUILD MAINTAINER b\n", message: "MAINTAINER isn't allowed as an ONBUILD trigger", line: 2),
    ErrorCase(dockerfile: "FROM a\nONBUILD\n", message: "ONBUILD requires at least one argument", line: 2),
    ErrorCase(dockerfile: "FROM a\nRUN\n", message: "RUN requires at least one argument", line: 2),
    ErrorCase(dockerfile: "FROM a\nRUN --mount=type=foo x\n", message: "unsupported mount type \"foo\"", line: 2, column: 5),
    ErrorCase(dockerfile: "FROM a\nRUN --mount=type=cach,target=/x x\n", message: "unsupported mount type \"cach\" (did you mean cache?)", line: 2, column: 5),
    ErrorCase(dockerfile: "FROM a\nRUN --mount=type=cache,targt=/x x\n", message: "unexpected key 'targt' in 'targt=/x' (did you mean target?)", line: 2, column: 5),
    ErrorCase(dockerfile: "FROM a\nRUN --mount=type=bind,target=/x,sharing=shared x\n", message: "invalid cache sharing set for bind mount", line: 2, column: 5),
    ErrorCase(dockerfile: "FROM a\nRUN --mount=type=cache,target=/x,sharing=all x\n", message: "unsupported sharing value \"all\"", line: 2, column: 5),
    ErrorCase(dockerfile: "FROM a\nRUN --mount=type=secret x\n", message: "invalid secret mount. one of source, target required", line: 2, column: 5),
    ErrorCase(dockerfile: "FROM a\nRUN --mount=type=secret,id=a,from=b x\n", message: "secret mount should not have a from", line: 2, column: 5),
    ErrorCase(dockerfile: "FROM a\nRUN --mount=type=tmpfs,target=/x,mode=0755 x\n", message: "mode not allowed for \"tmpfs\" type mounts", line: 2, column: 5),
    ErrorCase(dockerfile: "FROM a\nRUN --mount=type=cache,target=/x,uid=x x\n", message: "invalid value x for uid", line: 2, column: 5),
    ErrorCase(dockerfile: "FROM a\nRUN --mount=type=bind,target=/x,required x\n", message: "unexpected key 'required' for mount type 'bind'", line: 2, column: 5),
    ErrorCase(dockerfile: "FROM a\nRUN --mount=type=bind,target=/x,ro=maybe x\n", message: "invalid value for ro: maybe", line: 2, column: 5),
    ErrorCase(dockerfile: "FROM a\nRUN --mount=type=bind,from=$X,target=/x x\n", message: "'from' doesn't support variable expansion, define alias stage instead", line: 2, column: 5),
    ErrorCase(dockerfile: "FROM a\nRUN --mount=type=cache x\n", message: "mount type \"cache\" requires a target", line: 2, column: 5),
    ErrorCase(dockerfile: "FROM a\nRUN --mount=target=/x,a\\\"b x\n", message: "failed to parse csv mounts: parse error on line 1, column 12: bare \" in non-quoted-field", line: 2, column: 5),
    ErrorCase(dockerfile: "FROM a\nRUN --mount=target x\n", message: "invalid field 'target' must be a key=value pair", line: 2, column: 5),
    ErrorCase(dockerfile: "FROM a\nRUN --network=bridge x\n", message: "unsupported network mode \"bridge\"", line: 2, column: 5),
    ErrorCase(dockerfile: "FROM a\nRUN --security=root x\n", message: "security \"root\" is not valid", line: 2, column: 5),
    ErrorCase(dockerfile: "FROM a\nRUN --mount=type=cache,target=/x --netwrk=host x\n", message: "unknown flag: --netwrk (did you mean --network?)", line: 2, column: 34),
    ErrorCase(dockerfile: "FROM a\nEXPOSE\n", message: "EXPOSE requires at least one argument", line: 2),
    ErrorCase(dockerfile: "FROM a\nEXPOSE 80/xyz\n", message: "invalid proto: xyz", line: 2, column: 8),
    ErrorCase(dockerfile: "FROM a\nEXPOSE 80 http\n", message: "invalid containerPort: http", line: 2, column: 11),
    ErrorCase(dockerfile: "FROM a\nEXPOSE 90-80\n", message: "invalid range specified for container port: 90-80", line: 2, column: 8),
    ErrorCase(dockerfile: "FROM a\nSTOPSIGNAL SIGFOO\n", message: "Invalid signal: SIGFOO", line: 2, column: 12),
    ErrorCase(dockerfile: "FROM a\nSTOPSIGNAL 0\n", message: "Invalid signal: 0", line: 2, column: 12),
    ErrorCase(dockerfile: "FROM a\nSTOPSIGNAL\n", message: "STOPSIGNAL requires exactly one argument", line: 2),
    ErrorCase(dockerfile: "FROM a\nVOLUME [\"\"]\n", message: "VOLUME specified can not be an empty string", line: 2),
    ErrorCase(dockerfile: "FROM a\nVOLUME\n", message: "VOLUME requires at least one argument", line: 2),
    ErrorCase(dockerfile: "FROM a\nWORKDIR\n", message: "WORKDIR requires exactly one argument", line: 2),
    ErrorCase(dockerfile: "FROM a\nUSER\n", message: "USER requires exactly one argument", line: 2),
    ErrorCase(dockerfile: "FROM a\nMAINTAINER\n", message: "MAINTAINER requires exactly one argument", line: 2),
    ErrorCase(dockerfile: "FROM a\nCMD --x=1 [\"a\"]\n", message: "unknown flag: --x", line: 2, column: 5),
    // Stage graph.
    ErrorCase(dockerfile: "FROM a AS x\nFROM b AS X\n", message: "duplicate stage name \"x\"", line: 2),
    ErrorCase(dockerfile: "FROM a AS x\nCOPY --from=x a b\n", message: "circular dependency detected on stage: x", line: 2),
    ErrorCase(dockerfile: "FROM a AS x\nCOPY --from=y a b\nFROM b AS y\nCOPY --from=x a b\n", message: "circular dependency detected on stage: x", line: 2),
    ErrorCase(dockerfile: "FROM a\nRUN --mount=from=0,target=/x true\n", message: "circular dependency detected on stage: 0", line: 2),
]

@Suite struct ErrorTests {
    @Test(arguments: errorCases)
    func errorIsReportedAtBuildKitsLine(_ c: ErrorCase) {
        let (_, diagnostics) = DockerfileParser.read(c.dockerfile, fileName: "Dockerfile")
        let errors = diagnostics.filter { $0.severity == .error }
        #expect(errors.count == 1, "\(diagnostics)")
        guard let e = errors.first else { return }
        #expect(e.message == c.message)
        #expect(e.location.line == c.line)
        #expect(e.location.column == c.column)
        #expect(e.description == "Dockerfile:\(c.line):\(c.column): error: \(c.message)")
        #expect(throws: DockerfileError.self) { try DockerfileParser.parse(c.dockerfile) }
    }

    @Test func allErrorsAreReportedNotOnlyTheFirst() {
        let (_, diagnostics) = DockerfileParser.read("FROM a\nCOPY x\nRUN --foo=1 x\nWORKDIR\n")
        #expect(diagnostics.filter { $0.severity == .error }.map(\.location.line) == [2, 3, 4])
    }

    @Test func continuationLinesErrorAtTheFirstLine() {
        let (_, diagnostics) = DockerfileParser.read("FROM a\nCOPY \\\n  --chwon=1 \\\n  a b\n")
        let e = diagnostics.first { $0.severity == .error }
        #expect(e?.location.line == 2)
        #expect(e?.endLine == 4)
    }

    @Test func lineLongerThanGoScannerLimit() {
        let long = "FROM a\nRUN " + String(repeating: "x", count: 70_000) + "\n"
        let (_, diagnostics) = DockerfileParser.read(long)
        #expect(diagnostics.first?.message == "dockerfile line greater than max allowed size of 65535")
    }
}
