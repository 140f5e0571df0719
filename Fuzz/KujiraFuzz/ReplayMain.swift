// Without libFuzzer (a plain `swift build`), kujira-fuzz replays inputs: each argument is a
// file (or a directory of files) fed once to the fuzz target, e.g. the committed corpus or
// a crash file libFuzzer wrote. Fuzz/run.sh builds with -DKUJIRA_LIBFUZZER instead, and
// libFuzzer supplies `main`.
#if !KUJIRA_LIBFUZZER
import Glibc

@main
enum ReplayMain {
    static func main() {
        var files: [String] = []
        for argument in CommandLine.arguments.dropFirst() {
            if let dir = opendir(argument) {
                var names: [String] = []
                while let entry = readdir(dir) {
                    let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                    if name != "." && name != ".." { names.append(name) }
                }
                closedir(dir)
                files += names.sorted().map { argument + "/" + $0 }
            } else {
                files.append(argument)
            }
        }
        for file in files {
            guard let handle = fopen(file, "rb") else {
                print("kujira-fuzz: cannot read \(file)")
                exit(2)
            }
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, handle) }
                if n == 0 { break }
                bytes += chunk[..<n]
            }
            fclose(handle)
            _ = bytes.withUnsafeBufferPointer { fuzzOneInput($0.baseAddress, $0.count) }
            print("ok \(file) (\(bytes.count) bytes)")
        }
    }
}
#endif
