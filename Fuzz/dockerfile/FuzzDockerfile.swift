// libFuzzer entry point for KujiraDockerfile. Built together with the library sources as one
// module by run.sh (swiftc -sanitize=fuzzer,address), so it calls internal API directly.
//
// Properties checked on every input:
// - no entry point crashes, traps or hangs (parse, lint, evaluate, .dockerignore, expansion);
// - a syntax tree the parser accepts prints to text that parses to the same dump and heredocs;
// - the byte-level fast paths (heredoc words, unquoted `--mount` records) agree with the
//   general readers.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDockerfile(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    _ = DockerfileLinter.check(text)
    _ = try? DockerIgnore(text)
    _ = try? ShellLexer().processWords(text, env: ["a": "b", "e": ""])
    // The byte-level fast paths agree with the general readers.
    let lexed: [Heredoc]? = try? HeredocScanner.lexedHeredocs(in: text)
    let fast: [Heredoc]? = try? HeredocScanner.heredocs(in: text)
    if lexed != fast {
        fatalError("heredoc fast path differs on \(GoText.quote(text))")
    }
    func csv(_ r: Result<[String], ValueError>) -> String {
        switch r {
        case .success(let fields): return "fields \(fields)"
        case .failure(let e): return "error \(e.message)"
        }
    }
    if csv(RunFlags.csvFields(text)) != csv(RunFlags.quotedCSVFields(text)) {
        fatalError("csv fast path differs on \(GoText.quote(text))")
    }
    if let df = try? DockerfileParser.parse(text) {
        _ = DockerfileEvaluator.evaluate(df)
    }
    if let tree = try? DockerfileParser.parseSyntax(text) {
        let printed = DockerfilePrinter.print(tree)
        guard let again = try? DockerfileParser.parseSyntax(printed),
              again.dump() == tree.dump(),
              again.nodes.map(\.heredocs) == tree.nodes.map(\.heredocs)
        else {
            print("round trip failed\n--- input\n\(text)\n--- printed\n\(printed)")
            fatalError("round trip failed")
        }
    }
    return 0
}
