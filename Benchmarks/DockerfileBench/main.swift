// kujira-dockerfile-bench: parses a Dockerfile and reports how long it took.
//
//   kujira-dockerfile-bench FILE [--mode full|syntax|check] [--repeat N]
//
// full:   DockerfileParser.parse (line parser, instruction validation, stage graph, lint)
// syntax: DockerfileParser.parseSyntax (the line parser only, like dockerfile-parse)
// check:  DockerfileLinter.check (full plus expansion of every stage)
// The process exits non-zero if the file is refused. Used by Benchmarks/dockerfile/bench.sh.

import Foundation
import KujiraDockerfile

var arguments = CommandLine.arguments.dropFirst()
guard let path = arguments.first else {
    FileHandle.standardError.write(Data("usage: kujira-dockerfile-bench FILE [--mode full|syntax|check] [--repeat N]\n".utf8))
    exit(2)
}
arguments = arguments.dropFirst()
var mode = "full"
var repeats = 1
while let flag = arguments.first {
    arguments = arguments.dropFirst()
    switch flag {
    case "--mode": mode = arguments.first ?? mode; arguments = arguments.dropFirst()
    case "--repeat": repeats = Int(arguments.first ?? "1") ?? 1; arguments = arguments.dropFirst()
    default: break
    }
}
guard let data = FileManager.default.contents(atPath: path) else {
    FileHandle.standardError.write(Data("cannot read \(path)\n".utf8))
    exit(2)
}
let text = String(decoding: data, as: UTF8.self)
var best = Double.infinity
var count = 0
// Results stay alive until the end so that freeing them is not timed.
var keep: [Any] = []
for _ in 0..<repeats {
    let start = DispatchTime.now().uptimeNanoseconds
    switch mode {
    case "syntax":
        guard let tree = try? DockerfileParser.parseSyntax(text, fileName: path) else { exit(1) }
        count = tree.nodes.count
        keep.append(tree)
    case "check":
        let diagnostics = DockerfileLinter.check(text, fileName: path)
        count = diagnostics.count
        keep.append(diagnostics)
    default:
        do {
            let df = try DockerfileParser.parse(text, fileName: path)
            count = df.stages.reduce(df.globalArgs.count) { $0 + 1 + $1.instructions.count }
            keep.append(df)
        } catch {
            print(error)
            exit(1)
        }
    }
    let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    best = min(best, elapsed)
}
print("\(mode): \(count) items, \(data.count) bytes, best of \(repeats): \(String(format: "%.4f", best)) s")
