import Testing
@testable import KujiraDockerfile

private func evaluate(_ text: String, _ configure: (inout EvaluationOptions) -> Void = { _ in }) throws -> EvaluatedBuild {
    let df = try DockerfileParser.parse(text)
    var options = EvaluationOptions()
    configure(&options)
    return try DockerfileEvaluator.evaluate(df, options: options).get()
}

private func value(_ build: EvaluatedBuild, stage: Int = 0, at index: Int) -> Instruction? {
    let s = build.stages.first { $0.index == stage }
    guard let s, index < s.instructions.count else { return nil }
    return s.instructions[index].instruction
}

@Suite struct ArgScopingTests {
    @Test func globalArgsAreVisibleToFromOnly() throws {
        let b = try evaluate("""
            ARG VERSION=1.0
            ARG BASE=alpine
            FROM ${BASE}:${VERSION} AS build
            WORKDIR /src/$VERSION
            ARG VERSION
            WORKDIR /src/$VERSION
            """)
        #expect(b.stages[0].base == "alpine:1.0")
        #expect(value(b, at: 0) == .workdir("/src/"))
        #expect(value(b, at: 2) == .workdir("/src/1.0"))
    }

    @Test func buildArgsOverrideDefaults() throws {
        let b = try evaluate("ARG V=1\nFROM img:$V\nARG V\nARG W=d\nLABEL v=$V w=$W\n") {
            $0.buildArgs = ["V": "2", "W": "x"]
        }
        #expect(b.stages[0].base == "img:2")
        #expect(value(b, at: 2) == .label([KeyValuePair(key: "v", value: "2"), KeyValuePair(key: "w", value: "x")]))
    }

    @Test func undeclaredBuildArgsAreInvisible() throws {
        let b = try evaluate("FROM a\nLABEL x=$SECRET\n") { $0.buildArgs = ["SECRET": "s"] }
        #expect(value(b, at: 0) == .label([KeyValuePair(key: "x", value: "")]))
    }

    @Test func substitutionsInOneInstructionUseOldValues() throws {
        let b = try evaluate("FROM a\nENV A=1\nENV A=2 B=$A\nENV C=$A$B\n")
        #expect(value(b, at: 1) == .env([KeyValuePair(key: "A", value: "2"), KeyValuePair(key: "B", value: "1")]))
        #expect(b.stages[0].environment == ["A": "2", "B": "1", "C": "21"])
    }

    @Test func envWinsOverArg() throws {
        let b = try evaluate("FROM a\nARG X=arg\nENV X=env\nARG X=arg2\nWORKDIR /$X\n")
        #expect(value(b, at: 3) == .workdir("/env"))
    }

    @Test func platformArgsNeedDeclarationInStage() throws {
        let b = try evaluate("FROM --platform=$BUILDPLATFORM golang AS b\nLABEL a=$TARGETARCH\nARG TARGETARCH\nLABEL a=$TARGETARCH os=$TARGETOS\n") {
            $0.targetPlatform = "linux/arm64/v8"
        }
        #expect(b.stages[0].platform == "linux/amd64")
        #expect(value(b, at: 0) == .label([KeyValuePair(key: "a", value: "")]))
        #expect(value(b, at: 2) == .label([KeyValuePair(key: "a", value: "arm64"), KeyValuePair(key: "os", value: "")]))
        #expect(b.globalArgs["TARGETVARIANT"] == "v8")
    }

    @Test func proxyArgsReachRunButNotHistory() throws {
        let b = try evaluate("FROM a\nARG FOO=1\nRUN env\nARG HTTP_PROXY\nRUN env\n") {
            $0.buildArgs = ["HTTP_PROXY": "http://p", "no_proxy": "x"]
        }
        let run1 = b.stages[0].instructions[1]
        #expect(run1.buildArgs["HTTP_PROXY"] == "http://p")
        #expect(run1.buildArgs["no_proxy"] == "x")
        #expect(run1.historyArgs == ["FOO"])
        let run2 = b.stages[0].instructions[3]
        #expect(run2.historyArgs == ["FOO", "HTTP_PROXY"])
    }

    @Test func argDefaultsExpandWithEarlierValues() throws {
        let b = try evaluate("ARG A=x\nARG B=${A}y\nFROM i:$B\nARG C=1 D=$C\nLABEL d=$D\n")
        #expect(b.stages[0].base == "i:xy")
        #expect(value(b, at: 1) == .label([KeyValuePair(key: "d", value: "")]))
    }

    @Test func expandedInstructions() throws {
        let b = try evaluate("""
            FROM a
            ARG P=8080 U=app D=/data S=SIGINT
            EXPOSE $P 9000/udp
            USER $U:$U
            VOLUME $D ["x"]
            STOPSIGNAL $S
            COPY --chown=$U --from=$U src/$P /dst/
            RUN --mount=type=cache,target=$D echo $P
            CMD echo $P
            """)
        #expect(value(b, at: 1) == .expose(["8080", "9000/udp"]))
        #expect(value(b, at: 2) == .user("app:app"))
        #expect(value(b, at: 4) == .stopSignal("SIGINT"))
        guard case .copy(let c) = value(b, at: 5) else { Issue.record("copy"); return }
        #expect(c.chown == "app" && c.from == "app" && c.sources == ["src/8080"] && c.destination == "/dst/")
        guard case .run(let r) = value(b, at: 6) else { Issue.record("run"); return }
        #expect(r.mounts.first?.target == "/data")
        #expect(r.command == .shell("echo $P"))
        #expect(value(b, at: 7) == .cmd(.shell("echo $P")))
    }

    @Test func expansionErrorsAreDiagnostics() throws {
        let df = try DockerfileParser.parse("FROM a\nWORKDIR ${X:?must be set}\n")
        let result = DockerfileEvaluator.evaluate(df)
        guard case .failure(let e) = result else { Issue.record("expected failure"); return }
        #expect(e.diagnostics.first?.message == "failed to process \"${X:?must be set}\": X: must be set")
        #expect(e.diagnostics.first?.location.line == 2)
    }

    @Test func expandedValuesAreValidated() throws {
        let df = try DockerfileParser.parse("FROM a\nARG S=NOPE\nSTOPSIGNAL $S\n")
        guard case .failure(let e) = DockerfileEvaluator.evaluate(df) else { Issue.record("expected failure"); return }
        #expect(e.diagnostics.first?.message == "Invalid signal: NOPE")
    }

    @Test func heredocSourcesExpandUnlessQuoted() throws {
        let b = try evaluate("FROM a\nARG N=v\nCOPY <<EOF <<'RAW' /d/\n$N\nEOF\n$N\nRAW\n")
        guard case .copy(let c) = value(b, at: 1) else { Issue.record("copy"); return }
        #expect(c.heredocSources.map(\.content) == ["v\n", "$N\n"])
    }
}

@Suite struct StageGraphTests {
    static let text = """
        FROM golang AS build
        RUN go build
        FROM alpine AS tools
        FROM build AS test
        RUN --mount=from=tools,target=/t true
        FROM scratch
        COPY --from=build /out /
        COPY --from=1 /x /
        COPY --from=nginx:latest /etc/nginx /
        """

    @Test func dependenciesAndTargets() throws {
        let df = try DockerfileParser.parse(Self.text)
        let g = StageGraph(df)
        #expect(g.dependencies[2].map(\.stage) == [0, 1])
        #expect(g.dependencies[2].map(\.kind) == [.base, .mountFrom])
        #expect(g.dependencies[3].map(\.stage) == [0, 1])
        #expect(g.stagesNeeded(for: 3) == [0, 1, 3])
        #expect(g.stagesNeeded(for: 2) == [0, 1, 2])
        #expect(g.externalReferences == ["golang", "alpine", "nginx:latest"])
        #expect(StageGraph.targetIndex("TEST", in: df) == 2)
        #expect(StageGraph.targetIndex(nil, in: df) == 3)
        #expect(df.stages.map(\.name) == ["build", "tools", "test", nil])
    }

    @Test func evaluationOnlyBuildsNeededStages() throws {
        let df = try DockerfileParser.parse(Self.text)
        var o = EvaluationOptions()
        o.target = "test"
        let b = try DockerfileEvaluator.evaluate(df, options: o).get()
        #expect(b.stages.map(\.index) == [0, 1, 2])
        #expect(b.stages[2].baseStage == 0)
        o.target = "nope"
        guard case .failure(let e) = DockerfileEvaluator.evaluate(df, options: o) else { Issue.record("expected failure"); return }
        #expect(e.diagnostics[0].message == "target stage \"nope\" could not be found")
    }

    @Test func envIsInheritedFromBaseStage() throws {
        let b = try evaluate("FROM a AS one\nENV X=1\nFROM one\nENV Y=$X\n")
        #expect(b.stages[1].environment == ["X": "1", "Y": "1"])
    }
}

@Suite struct ImageProcessTests {
    /// The table "Understand how CMD and ENTRYPOINT interact" of the Dockerfile reference.
    @Test func referenceTable() {
        let sh = ["/bin/sh", "-c"]
        let cases: [([Instruction], [String])] = [
            ([.cmd(.exec(["exec_cmd", "p1_cmd"]))], ["exec_cmd", "p1_cmd"]),
            ([.cmd(.shell("exec_cmd p1_cmd"))], sh + ["exec_cmd p1_cmd"]),
            ([.entrypoint(.shell("exec_entry p1_entry"))], sh + ["exec_entry p1_entry"]),
            ([.entrypoint(.shell("exec_entry p1_entry")), .cmd(.exec(["exec_cmd", "p1_cmd"]))],
             sh + ["exec_entry p1_entry", "exec_cmd", "p1_cmd"]),
            ([.entrypoint(.exec(["exec_entry", "p1_entry"]))], ["exec_entry", "p1_entry"]),
            ([.entrypoint(.exec(["exec_entry", "p1_entry"])), .cmd(.exec(["exec_cmd", "p1_cmd"]))],
             ["exec_entry", "p1_entry", "exec_cmd", "p1_cmd"]),
            ([.entrypoint(.exec(["exec_entry", "p1_entry"])), .cmd(.exec(["p1_cmd", "p2_cmd"]))],
             ["exec_entry", "p1_entry", "p1_cmd", "p2_cmd"]),
            ([.entrypoint(.exec(["exec_entry", "p1_entry"])), .cmd(.shell("exec_cmd p1_cmd"))],
             ["exec_entry", "p1_entry"] + sh + ["exec_cmd p1_cmd"]),
            ([], []),
        ]
        for (instructions, argv) in cases {
            #expect(ImageProcess.resolve(instructions: instructions).argv == argv)
        }
    }

    @Test func entrypointClearsInheritedCmd() {
        let base = ImageProcess(entrypoint: nil, cmd: ["bash"])
        #expect(ImageProcess.resolve(base: base, instructions: [.entrypoint(.exec(["/e"]))]).cmd == nil)
        #expect(ImageProcess.resolve(base: base, instructions: [.cmd(.exec(["x"])), .entrypoint(.exec(["/e"]))]).argv == ["/e", "x"])
        #expect(ImageProcess.resolve(base: base, instructions: [.shell(["bash", "-c"]), .cmd(.shell("a"))]).argv == ["bash", "-c", "a"])
    }

    @Test func processFollowsStages() throws {
        let b = try evaluate("FROM a AS one\nCMD [\"x\"]\nFROM one\nENTRYPOINT [\"e\"]\n")
        #expect(b.stages[1].process.argv == ["e"])
    }
}
