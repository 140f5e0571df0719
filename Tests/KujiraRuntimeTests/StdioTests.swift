import Foundation
import Glibc
import KujiraOCI
import KujiraRuntime
import Testing

/// `CreateOptions.stdio` / `ExecOptions.stdio`: the container process gets the given fds as
/// 0-2 while the caller's own fds 0-2 stay untouched; and the embedded, libc-only kujira-init.
@Suite("Explicit stdio fds and the embedded init", .enabled(if: Privilege.shouldRun, Privilege.reason))
struct StdioTests {
    /// Opens `path` (O_CLOEXEC) and fails the test if it cannot.
    private func open(_ path: String, _ flags: Int32) throws -> Int32 {
        let fd = Glibc.open(path, flags | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw TestFailure("cannot open \(path): \(String(cString: strerror(errno)))") }
        return fd
    }

    private func contents(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }

    @Test func createUsesTheGivenStdio() throws {
        let box = try Sandbox(script: "read line; echo \"out:$line\"; echo \"err:$line\" >&2")
        try box.writeSpec()
        let (inPath, outPath, errPath) = (box.directory + "/in", box.directory + "/out", box.directory + "/err")
        try "hello\n".write(toFile: inPath, atomically: true, encoding: .utf8)
        let input = try open(inPath, O_RDONLY)
        let output = try open(outPath, O_WRONLY | O_CREAT | O_TRUNC)
        let error = try open(errPath, O_WRONLY | O_CREAT | O_TRUNC)
        let runtime = ContainerRuntime(root: box.root)
        try runtime.create(id: "s1", bundle: box.bundle,
                           options: CreateOptions(stdio: StdioFDs(input: input, output: output, error: error)))
        // The init holds its own copies: the caller may close its fds right away.
        [input, output, error].forEach { close($0) }
        try runtime.start(id: "s1")
        #expect(try eventually { try runtime.state(id: "s1").status == .stopped })
        #expect(contents(outPath) == "out:hello\n")
        #expect(contents(errPath) == "err:hello\n")
        try runtime.delete(id: "s1")
    }

    @Test func stdioFdsMayBeSwapped() throws {
        // The container's stdout is the file given as "error" and the other way round: each
        // source is copied out of the way before any target number is replaced.
        let box = try Sandbox(script: "echo to-stdout; echo to-stderr >&2")
        try box.writeSpec()
        let (aPath, bPath) = (box.directory + "/a", box.directory + "/b")
        let a = try open(aPath, O_WRONLY | O_CREAT | O_TRUNC)
        let b = try open(bPath, O_WRONLY | O_CREAT | O_TRUNC)
        defer { close(a); close(b) }
        let null = try open("/dev/null", O_RDONLY)
        defer { close(null) }
        let runtime = ContainerRuntime(root: box.root)
        try runtime.create(id: "s2", bundle: box.bundle, options: CreateOptions(stdio: StdioFDs(input: null, output: b, error: a)))
        try runtime.start(id: "s2")
        #expect(try eventually { try runtime.state(id: "s2").status == .stopped })
        #expect(contents(bPath) == "to-stdout\n")
        #expect(contents(aPath) == "to-stderr\n")
        try runtime.delete(id: "s2")
    }

    @Test func execUsesTheGivenStdio() throws {
        let box = try Sandbox(script: "sleep 60")
        try box.writeSpec()
        let runtime = ContainerRuntime(root: box.root)
        try runtime.create(id: "s3", bundle: box.bundle)
        try runtime.start(id: "s3")
        let outPath = box.directory + "/exec-out"
        let output = try open(outPath, O_WRONLY | O_CREAT | O_TRUNC)
        let null = try open("/dev/null", O_RDWR)
        defer { close(null) }
        var process = box.spec.process ?? Process(args: [], cwd: "/")
        process.args = ["sh", "-c", "echo exec-out; echo exec-err >&2"]
        try runtime.exec(id: "s3", process: process, options: ExecOptions(stdio: StdioFDs(input: null, output: output, error: output)))
        close(output)
        #expect(eventually { contents(outPath) == "exec-out\nexec-err\n" })
        try runtime.delete(id: "s3", force: true)
    }

    @Test func aClosedStdioFdIsRefused() throws {
        let box = try Sandbox()
        try box.writeSpec()
        // Far above any fd this process opens: a number closed here could be reused at once
        // by another thread (or by the runtime itself) in this multi-threaded test process.
        let closed: Int32 = 1_000_003
        let runtime = ContainerRuntime(root: box.root)
        #expect {
            try runtime.create(id: "s4", bundle: box.bundle, options: CreateOptions(stdio: StdioFDs(output: closed)))
        } throws: { error in
            "\(error)".contains("stdio fd \(closed)") && "\(error)".contains("not open")
        }
        #expect(try runtime.list().isEmpty)
    }

    @Test func theEmbeddedInitLinksOnlyLibc() throws {
        // No initPath and no $KUJIRA_INIT_PATH: the image built by Plugins/KujiraInitImage.
        let box = try Sandbox(script: "true")
        try box.writeSpec()
        let runtime = ContainerRuntime(root: box.root)
        let state = try runtime.create(id: "s5", bundle: box.bundle)
        defer { try? runtime.delete(id: "s5", force: true) }
        let exe = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(state.pid)/exe")
        #expect(exe.hasPrefix("/memfd:kujira-init"))
        let maps = contents("/proc/\(state.pid)/maps")
        #expect(maps.contains("libc.so"))
        #expect(!maps.contains("libswiftCore"))
        #expect(!maps.contains("libstdc++"))
    }
}
