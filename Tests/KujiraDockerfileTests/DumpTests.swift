import Testing
@testable import KujiraDockerfile

@Suite struct DumpTests {
    @Test(arguments: dumpCases)
    func dumpMatchesBuildKit(_ c: DumpCase) throws {
        let tree = try DockerfileParser.parseSyntax(c.dockerfile)
        #expect(tree.dump() == c.dump)
    }

    @Test(arguments: dumpCases)
    func printParseRoundTrip(_ c: DumpCase) throws {
        let tree = try DockerfileParser.parseSyntax(c.dockerfile)
        let printed = DockerfilePrinter.print(tree)
        let again = try DockerfileParser.parseSyntax(printed)
        #expect(again.dump() == tree.dump(), "printed:\n\(printed)")
        #expect(again.nodes.map(\.heredocs) == tree.nodes.map(\.heredocs))
        #expect(again.nodes.map(\.flags) == tree.nodes.map(\.flags))
    }

    @Test func heredocBodiesAreRead() throws {
        let tree = try DockerfileParser.parseSyntax("""
            FROM a
            RUN <<-EOT bash
            \techo tabs
            \tEOT
            COPY <<one <<two /dest/
            1
            one
            2
            two
            RUN 3<<FD cat /proc/self/fd/3
            data
            FD
            RUN <<"EOF" echo 'quoted'
            $NOT_EXPANDED
            EOF
            RUN <<E'O'F
            x
            EOF
            """)
        let docs = tree.nodes.map(\.heredocs)
        #expect(docs[1] == [Heredoc(name: "EOT", expand: true, chomp: true, content: "\techo tabs\n")])
        #expect(docs[1][0].effectiveContent == "echo tabs\n")
        #expect(docs[2].map(\.name) == ["one", "two"])
        #expect(docs[2].map(\.content) == ["1\n", "2\n"])
        #expect(docs[3] == [Heredoc(name: "FD", fileDescriptor: 3, content: "data\n")])
        #expect(docs[4] == [Heredoc(name: "EOF", expand: false, content: "$NOT_EXPANDED\n")])
        #expect(docs[5].first?.expand == false)
        #expect(tree.nodes[5].endLine == 18)
    }

    @Test func heredocsOnlyForRunCopyAddNotJSON() throws {
        let tree = try DockerfileParser.parseSyntax("""
            FROM a
            CMD <<EOF
            RUN ["<<EOF"]
            ENV a=<<EOF
            """)
        #expect(tree.nodes.allSatisfy { $0.heredocs.isEmpty })
        #expect(tree.nodes.count == 4)
    }

    @Test func onbuildHeredoc() throws {
        let tree = try DockerfileParser.parseSyntax("FROM a\nONBUILD RUN <<EOF\necho hi\nEOF\n")
        #expect(tree.nodes[1].heredocs.map(\.content) == ["echo hi\n"])
        let df = try DockerfileParser.parse("FROM a\nONBUILD RUN <<EOF\necho hi\nEOF\n")
        guard case .onbuild(let o) = df.stages[0].instructions[0].instruction else { Issue.record("not onbuild"); return }
        #expect(o.expression == "RUN <<EOF\necho hi\nEOF")
        #expect(o.trigger.count == 1)
    }

    @Test func directivesAreRecorded() throws {
        let tree = try DockerfileParser.parseSyntax("# syntax = docker/dockerfile:1.7\n#Escape=`\n# check=skip=A,B\n\nFROM a\n")
        #expect(tree.directives.map(\.name) == ["syntax", "escape", "check"])
        #expect(tree.directives[0].value == "docker/dockerfile:1.7")
        #expect(tree.escapeToken == "`")
        #expect(tree.checkDirective.skip == ["A", "B"])
        // An unknown directive, a blank line or an instruction ends the directive block.
        let later = try DockerfileParser.parseSyntax("# foo=bar\n# escape=`\nFROM a\n")
        #expect(later.directives.isEmpty)
        #expect(later.escapeToken == "\\")
    }

    @Test func positions() throws {
        let tree = try DockerfileParser.parseSyntax("FROM a\n\n  RUN a \\\n  b\n# c\nCMD x\n")
        #expect(tree.nodes.map(\.startLine) == [1, 3, 6])
        #expect(tree.nodes.map(\.endLine) == [1, 4, 6])
        #expect(tree.nodes.map(\.column) == [1, 3, 1])
        #expect(tree.nodes[2].comments == ["c"])
    }

    @Test func emptyContinuationWarns() throws {
        let (_, diagnostics) = DockerfileLexer.parse("FROM a\nRUN a \\\n\nb\n")
        #expect(diagnostics.map(\.code) == ["NoEmptyContinuation"])
        #expect(diagnostics[0].location.line == 4)
    }
}
