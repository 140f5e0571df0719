import Foundation
import Testing
@testable import KujiraDockerfile

struct LintCase: CustomStringConvertible, Sendable {
    var rule: String
    var dockerfile: String
    var message: String
    var line: Int
    var description: String { rule }
}

let lintCases: [LintCase] = [
    LintCase(rule: "StageNameCasing", dockerfile: "FROM a AS Build\n", message: "Stage name 'Build' should be lowercase", line: 1),
    LintCase(rule: "FromAsCasing", dockerfile: "FROM a as b\n", message: "'as' and 'FROM' keywords' casing do not match", line: 1),
    LintCase(rule: "ConsistentInstructionCasing", dockerfile: "FROM a\nRUN b\nrun c\n", message: "Command 'run' should match the case of the command majority (uppercase)", line: 3),
    LintCase(rule: "JSONArgsRecommended", dockerfile: "FROM a\nCMD run me\n", message: "JSON arguments recommended for CMD to prevent unintended behavior related to OS signals", line: 2),
    LintCase(rule: "MaintainerDeprecated", dockerfile: "FROM a\nMAINTAINER me\n", message: "Maintainer instruction is deprecated in favor of using label", line: 2),
    LintCase(rule: "LegacyKeyValueFormat", dockerfile: "FROM a\nENV k v\n", message: "\"ENV key=value\" should be used instead of legacy \"ENV key value\" format", line: 2),
    LintCase(rule: "ReservedStageName", dockerfile: "FROM a AS scratch\n", message: "'scratch' is reserved and should not be used as a stage name", line: 1),
    LintCase(rule: "MultipleInstructionsDisallowed", dockerfile: "FROM a\nCMD [\"a\"]\nCMD [\"b\"]\n", message: "Multiple CMD instructions should not be used in the same stage because only the last one will be used", line: 3),
    LintCase(rule: "WorkdirRelativePath", dockerfile: "FROM a\nWORKDIR app\n", message: "Relative workdir \"app\" can have unexpected results if the base image changes", line: 2),
    LintCase(rule: "UndefinedArgInFrom", dockerfile: "FROM img:$TAG\n", message: "FROM argument 'TAG' is not declared", line: 1),
    LintCase(rule: "RedundantTargetPlatform", dockerfile: "FROM --platform=$TARGETPLATFORM a\n", message: "Setting platform to predefined $TARGETPLATFORM in FROM is redundant as this is the default behavior", line: 1),
    LintCase(rule: "SecretsUsedInArgOrEnv", dockerfile: "FROM a\nARG GITHUB_TOKEN\n", message: "Do not use ARG or ENV instructions for sensitive data (ARG \"GITHUB_TOKEN\")", line: 2),
    LintCase(rule: "ExposeProtoCasing", dockerfile: "FROM a\nEXPOSE 80/TCP\n", message: "Defined protocol 'TCP' in EXPOSE instruction should be lowercase", line: 2),
    LintCase(rule: "ExposeInvalidFormat", dockerfile: "FROM a\nEXPOSE 127.0.0.1:80:80\n", message: "EXPOSE instruction should not define an IP address or host-port mapping, found '127.0.0.1:80:80'", line: 2),
    LintCase(rule: "NoEmptyContinuation", dockerfile: "FROM a\nRUN a \\\n\nb\n", message: "Empty continuation line found in: RUN a b", line: 4),
    LintCase(rule: "UndefinedVar", dockerfile: "FROM a\nARG VERSION\nWORKDIR /$VERSON\n", message: "Usage of undefined variable '$VERSON' (did you mean $VERSION?)", line: 3),
    LintCase(rule: "InvalidOnbuildTrigger", dockerfile: "FROM a\nONBUILD COPY x\n", message: "ONBUILD trigger \"COPY x\" is not a valid instruction; it will fail in child builds", line: 2),
]

@Suite struct LintTests {
    @Test(arguments: lintCases)
    func rule(_ c: LintCase) {
        let diagnostics = DockerfileLinter.check(c.dockerfile)
        let hits = diagnostics.filter { $0.code == c.rule }
        #expect(hits.count == 1, "\(diagnostics)")
        #expect(hits.first?.message == c.message)
        #expect(hits.first?.location.line == c.line)
        #expect(hits.first?.severity == .warning)
        #expect(!diagnostics.contains { $0.severity == .error })
    }

    @Test func checkDirectiveSkipsAndPromotes() {
        #expect(DockerfileLinter.check("# check=skip=JSONArgsRecommended\nFROM a\nCMD x\n").isEmpty)
        #expect(DockerfileLinter.check("# check=skip=all\nFROM a AS B\nCMD x\n").isEmpty)
        let promoted = DockerfileLinter.check("# check=error=true\nFROM a\nCMD x\n")
        #expect(promoted.map(\.severity) == [.error])
        #expect(throws: DockerfileError.self) { try DockerfileParser.parse("# check=error=true\nFROM a\nCMD x\n") }
    }

    @Test func cleanFileHasNoDiagnostics() {
        let text = """
            # syntax=docker/dockerfile:1
            ARG GO=1.22
            FROM golang:${GO} AS build
            WORKDIR /src
            COPY --link . .
            RUN --mount=type=cache,target=/root/.cache/go-build go build -o /out/app ./cmd/app
            FROM gcr.io/distroless/static
            COPY --from=build /out/app /app
            USER 65532:65532
            ENTRYPOINT ["/app"]
            """
        #expect(DockerfileLinter.check(text) == [])
    }

    @Test func checkReportsErrorsAndWarningsTogether() {
        let d = DockerfileLinter.check("FROM a AS B\nCOPY x\nCMD y\n")
        #expect(d.map(\.code) == ["StageNameCasing", "instruction", "JSONArgsRecommended"])
    }

    @Test func modelEncodesAsJSON() throws {
        let df = try DockerfileParser.parse("FROM a AS b\nRUN --mount=type=cache,target=/c make\nCOPY <<EOF /x\nhi\nEOF\n")
        let data = try JSONEncoder().encode(df)
        let back = try JSONDecoder().decode(Dockerfile.self, from: data)
        #expect(back == df)
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains("\"stageName\":\"b\""))
    }
}
