@testable import Kujira
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `kujira` under a real pseudo-terminal: the test holds the master, the CLI gets the slave
/// as its stdin, stdout and stderr.
final class TerminalSession {
    let master: Int32
    let process = Foundation.Process()
    private var output: [UInt8] = []
    private var cursor = 0

    init(_ kujira: String, _ arguments: [String], rows: UInt16 = 30, columns: UInt16 = 100) throws {
        // posix_openpt/unlockpt/ptsname are hidden from Swift's Glibc: /dev/ptmx with the ioctls
        // TIOCSPTLCK (unlock) and TIOCGPTN (the pts number) does the same.
        master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC)
        var unlock: Int32 = 0, number: UInt32 = 0
        guard master >= 0, ioctl(master, UInt(0x4004_5431), &unlock) == 0, ioctl(master, UInt(0x8004_5430), &number) == 0 else {
            throw Failure(description: "cannot open a pseudo-terminal: errno \(errno)")
        }
        let name = "/dev/pts/\(number)"
        var size = winsize(ws_row: rows, ws_col: columns, ws_xpixel: 0, ws_ypixel: 0)
        _ = ioctl(master, UInt(TIOCSWINSZ), &size)
        guard let slave = FileHandle(forUpdatingAtPath: name) else { throw Failure(description: "cannot open \(name)") }
        process.executableURL = URL(fileURLWithPath: kujira)
        process.arguments = arguments
        process.standardInput = slave
        process.standardOutput = slave
        process.standardError = slave
        try process.run()
        try slave.close()
    }

    deinit {
        if process.isRunning { process.terminate() }
        close(master)
    }

    /// Everything the terminal showed so far.
    var text: String { String(decoding: output, as: UTF8.self) }

    /// Reads until `expected` shows up after the previous match; false at the end of output
    /// (or after a minute, a hang).
    func waitFor(_ expected: String) -> Bool {
        let needle = Array(expected.utf8)
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if let range = find(needle) {
                cursor = range
                return true
            }
            var poller = pollfd(fd: master, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 1000) >= 0 else { return false }
            if poller.revents == 0 { continue }
            var buffer = [UInt8](repeating: 0, count: 4096)
            let count = read(master, &buffer, buffer.count)
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { return find(needle).map { cursor = $0; return true } ?? false }
            output += buffer[0..<count]
        }
        return false
    }

    private func find(_ needle: [UInt8]) -> Int? {
        guard output.count - cursor >= needle.count else { return nil }
        for start in cursor...(output.count - needle.count) where output[start..<(start + needle.count)].elementsEqual(needle) {
            return start + needle.count
        }
        return nil
    }

    /// Types `text` (a carriage return is Enter).
    func type(_ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { write(master, $0.baseAddress, $0.count) }
    }

    /// Resizes the terminal and tells the client, as a terminal emulator does.
    func resize(rows: UInt16, columns: UInt16) {
        var size = winsize(ws_row: rows, ws_col: columns, ws_xpixel: 0, ws_ypixel: 0)
        _ = ioctl(master, UInt(TIOCSWINSZ), &size)
        kill(process.processIdentifier, SIGWINCH)
    }

    /// Reads the rest of the output and returns the CLI's exit status.
    func finish() -> Int32 {
        _ = waitFor("\u{0}never\u{0}")
        process.waitUntilExit()
        return process.terminationStatus
    }
}

/// `-i`, `-t`, attach, detach and `exec -it`, through the real `kujira` binary as root.
@Suite(.serialized, .enabled(if: EngineHost.enabled, "needs root (overlay mounts, cgroups, namespaces); KUJIRA_REQUIRE_PRIVILEGED=1 makes this a failure"))
struct InteractiveTests {
    func cli(_ box: Sandbox) -> [String] { ["--root", box.root, "--state", box.state] }

    /// Runs kujira with `arguments`, `input` on a pipe that is closed after it, stdout read
    /// to its end: what it printed and its exit status.
    func piped(_ arguments: [String], input text: String, errors: FileHandle) throws -> (String, Int32) {
        let process = Foundation.Process()
        process.executableURL = URL(fileURLWithPath: EngineHost.kujira)
        process.arguments = arguments
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        try input.fileHandleForWriting.write(contentsOf: Data(text.utf8))
        try input.fileHandleForWriting.close()
        let printed = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (String(decoding: printed, as: UTF8.self), process.terminationStatus)
    }

    @Test func runITGivesAShellWithItsExitCodeSizeAndLogs() throws {
        let box = try Sandbox()
        let session = try TerminalSession(EngineHost.kujira, cli(box) + ["run", "-it", "--name", "tty1", Sandbox.image, "sh"], rows: 30, columns: 100)
        #expect(session.waitFor("# "))
        // Sizes are printed as ROWSxCOLUMNS, which the echo of the typed line never contains:
        // the shell's line editor redraws on SIGWINCH, so the echo itself may come back in
        // pieces between escape sequences. A marker the shell computes ends each round.
        session.type("stty size | tr ' ' x\r")
        #expect(session.waitFor("30x100"))
        var resized = false
        for round in 0..<50 where !resized {
            session.resize(rows: 33, columns: 111)
            session.type("stty size | tr ' ' x; echo R$((\(round) + 1000))R\r")
            #expect(session.waitFor("R\(round + 1000)R"))
            resized = session.text.contains("33x111")
        }
        #expect(resized)
        session.type("echo h''i; exit 3\r")
        #expect(session.waitFor("hi"))
        #expect(session.finish() == 3)
        #expect((try box.inspect("tty1")["Config"] as? [String: Any])?["Tty"] as? Bool == true)
        let logs = try box.mustRun(["logs", "tty1"]).stdout
        #expect(logs.contains("hi\r\n"))
        #expect(try box.state("tty1")["ExitCode"] as? Int == 3)
    }

    @Test func pipedStdinReachesTheContainerAndEOFClosesIt() throws {
        let box = try Sandbox()
        let (printed, status) = try piped(cli(box) + ["run", "--rm", "-i", Sandbox.image, "cat"], input: "data\n",
                                          errors: FileHandle.standardError)
        #expect(printed == "data\n")
        #expect(status == 0)
    }

    @Test func largeInputAndOutputFlowTogether() throws {
        // 4 MiB through cat: the monitor must keep pumping output while a stdin write waits
        // for the container to read (both pipes fill up).
        let box = try Sandbox()
        let process = Foundation.Process()
        process.executableURL = URL(fileURLWithPath: EngineHost.kujira)
        process.arguments = cli(box) + ["run", "--rm", "-i", Sandbox.image, "cat"]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.standardError
        try process.run()
        let line = Data(String(repeating: "x", count: 1023).utf8 + [0x0A])
        let writer = Thread {
            for _ in 0..<4096 { try? input.fileHandleForWriting.write(contentsOf: line) }
            try? input.fileHandleForWriting.close()
        }
        writer.start()
        let printed = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(printed.count == 4096 * 1024)
        #expect(process.terminationStatus == 0)
    }

    @Test func startAttachesStdinAndAttachSelectsStreams() throws {
        let box = try Sandbox()
        try box.mustRun(["create", "-i", "--name", "reader", Sandbox.image, "sh", "-c", "read a; echo got $a; echo err >&2; exit 4"])
        let (printed, status) = try piped(cli(box) + ["start", "-a", "-i", "reader"], input: "hello\n", errors: FileHandle.nullDevice)
        #expect(printed == "got hello\n")
        #expect(status == 4)

        let onlyErr = try box.kujira(["run", "--rm", "-a", "stderr", Sandbox.image, "sh", "-c", "echo out; echo err >&2"])
        #expect(onlyErr.stdout.isEmpty && onlyErr.stderr == "err\n" && onlyErr.status == 0)
    }

    @Test func signalsAreProxiedWithoutATTY() throws {
        let box = try Sandbox()
        let process = Foundation.Process()
        process.executableURL = URL(fileURLWithPath: EngineHost.kujira)
        process.arguments = cli(box) + ["run", "--rm", Sandbox.image, "sh", "-c",
                                        "trap 'echo got TERM; exit 7' TERM; echo ready; while true; do sleep 0.1; done"]
        let output = Pipe()
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        var seen = Data()
        while !String(decoding: seen, as: UTF8.self).contains("ready\n") {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            seen += chunk
        }
        kill(process.processIdentifier, SIGTERM)
        seen += output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(String(decoding: seen, as: UTF8.self) == "ready\ngot TERM\n")
        #expect(process.terminationStatus == 7)
    }

    @Test func attachAndDetachLeaveTheContainerRunning() throws {
        let box = try Sandbox()
        try box.mustRun(["run", "-dit", "--name", "bg", Sandbox.image, "sh"])
        let session = try TerminalSession(EngineHost.kujira, cli(box) + ["attach", "bg"])
        session.type("echo att''ached\r")
        #expect(session.waitFor("attached"))
        session.type("\u{10}\u{11}")
        // As docker attach: "read escape sequence" and status 1; the container runs on.
        #expect(session.finish() == 1)
        #expect(session.text.contains("read escape sequence"))
        #expect(try box.state("bg")["Running"] as? Bool == true)
        // Custom keys; a partial prefix (ctrl-a, a no-op at the start of the shell's empty
        // line, then e) does not detach and goes to the shell.
        let custom = try TerminalSession(EngineHost.kujira, cli(box) + ["attach", "--detach-keys", "ctrl-a,q", "bg"])
        custom.type("\u{01}echo $((6*7))Z\r")
        #expect(custom.waitFor("42Z"))
        custom.type("\u{01}q")
        #expect(custom.finish() == 1)
        #expect(try box.state("bg")["Running"] as? Bool == true)
        try box.mustRun(["rm", "-f", "bg"])
    }

    /// Waits (bounded) until `ps` in container `name` lists `command`.
    func psShows(_ box: Sandbox, _ name: String, _ command: String) throws -> Bool {
        for _ in 0..<400 {
            if try box.mustRun(["exec", name, "ps", "-o", "args"]).stdout.contains(command) { return true }
            usleep(25_000)
        }
        return false
    }

    @Test func execITDetachKeysLeaveTheProcessRunning() throws {
        let box = try Sandbox()
        try box.mustRun(["run", "-d", "--name", "host", Sandbox.image, "sleep", "1000"])
        // The default keys: the shell becomes `sleep 777` on the terminal the CLI leaves; with
        // the terminal closed it would be hung up (SIGHUP), so it runs on only if the monitor
        // holds the terminal.
        let session = try TerminalSession(EngineHost.kujira, cli(box) + ["exec", "-it", "host", "sh"])
        #expect(session.waitFor("# "))
        session.type("echo $((6*7))Z; exec sleep 777\r")
        #expect(session.waitFor("42Z"))
        session.type("\u{10}\u{11}")
        #expect(session.finish() == 1)
        #expect(session.text.contains("read escape sequence"))
        #expect(try psShows(box, "host", "sleep 777"))
        #expect(try box.state("host")["Running"] as? Bool == true)

        let custom = try TerminalSession(EngineHost.kujira, cli(box) + ["exec", "-it", "--detach-keys", "ctrl-a,q", "host", "sh"])
        #expect(custom.waitFor("# "))
        custom.type("echo $((5*5))Y; exec sleep 555\r")
        #expect(custom.waitFor("25Y"))
        custom.type("\u{01}q")
        #expect(custom.finish() == 1)
        #expect(try psShows(box, "host", "sleep 555"))

        let bad = try box.kujira(["exec", "-it", "--detach-keys", "ctrl-1", "host", "sh"])
        #expect(bad.status == 125)
        #expect(bad.stderr.contains("invalid detach keys \"ctrl-1\""))
        try box.mustRun(["rm", "-f", "host"])
    }

    @Test func execITGivesAShell() throws {
        let box = try Sandbox()
        try box.mustRun(["run", "-d", "--name", "web", Sandbox.image, "sleep", "1000"])
        let session = try TerminalSession(EngineHost.kujira, cli(box) + ["exec", "-it", "web", "sh"], rows: 25, columns: 90)
        #expect(session.waitFor("# "))
        session.type("stty size; echo $((6*7)); exit 5\r")
        #expect(session.waitFor("25 90"))
        #expect(session.waitFor("42"))
        #expect(session.finish() == 5)
        try box.mustRun(["rm", "-f", "web"])
    }

    @Test func execInstancesRecordTheirExitCode() throws {
        let box = try Sandbox()
        try box.mustRun(["run", "-d", "--name", "web", Sandbox.image, "sleep", "1000"])
        let engine = try Engine(root: box.root, state: box.state, monitorExecutable: EngineHost.kujira)
        var options = ExecProcessOptions()
        options.env = ["CODE=7"]
        let execID = try engine.createExec("web", command: ["sh", "-c", "exit $CODE"], options: options)
        #expect(try engine.inspectExec(execID).running == false)
        #expect(try engine.startExec(execID) == 7)
        let instance = try engine.inspectExec(String(execID.prefix(12)))
        #expect(instance.exitCode == 7 && !instance.running && instance.pid > 0)
        #expect(throws: EngineError.self) { try engine.startExec(execID) }
        try box.mustRun(["rm", "-f", "web"])
    }
}

/// `--init`: the host's static init (catatonit, installed by scripts/test.sh) as PID 1.
@Suite(.enabled(if: EngineHost.enabled && (EngineHost.requirePrivileged || (try? InitProcess.locate()) != nil),
                "needs root and catatonit or tini-static; KUJIRA_REQUIRE_PRIVILEGED=1 makes this a failure"))
struct InitProcessTests {
    @Test func initIsPID1AndTheCommandIsItsChild() throws {
        let box = try Sandbox()
        let result = try box.mustRun(["run", "--rm", "--init", Sandbox.image, "sh", "-c", "echo $$; tr '\\0' ' ' < /proc/1/cmdline"])
        #expect(result.stdout.hasPrefix("2\n/dev/init -- sh -c"))
    }

    @Test func initForwardsStopSignal() throws {
        let box = try Sandbox()
        // sleep as PID 1 would ignore SIGTERM and be killed after the timeout (137); under the
        // init it gets the signal and dies of it (143).
        try box.mustRun(["run", "-d", "--init", "--name", "sleeper", Sandbox.image, "sleep", "1000"])
        try box.mustRun(["stop", "-t", "120", "sleeper"])
        #expect(try box.state("sleeper")["ExitCode"] as? Int == 143)
        #expect((try box.inspect("sleeper")["HostConfig"] as? [String: Any])?["Init"] as? Bool == true)
        try box.mustRun(["rm", "sleeper"])
    }
}

/// The attach protocol's frames and the terminal size encoding: no root needed.
struct AttachProtocolTests {
    @Test func framesRoundTrip() throws {
        var fds: [Int32] = [-1, -1]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        #expect(AttachFrame.writeAll(fds[0], AttachFrame.encode(AttachFrame.stdin, Array("hello".utf8))))
        #expect(AttachFrame.writeAll(fds[0], AttachFrame.encode(AttachFrame.resize, AttachFrame.sizePayload(TerminalSize(rows: 300, columns: 80)))))
        let first = try #require(AttachFrame.read(fds[1]))
        #expect(first.type == AttachFrame.stdin && first.payload == Array("hello".utf8))
        let second = try #require(AttachFrame.read(fds[1]))
        #expect(AttachFrame.size(from: second.payload[...]) == TerminalSize(rows: 300, columns: 80))
        // Docker's stdcopy header: stream, three zero bytes, big-endian length.
        #expect(AttachFrame.encode(AttachFrame.stderr, [1, 2, 3]) == [2, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3])
    }

    @Test func oldRecordsWithoutTTYFieldsDecode() throws {
        let json = """
        {"hostname":"h","user":"","env":[],"cmd":["sh"],"entrypoint":[],"workingDir":"","labels":{},
         "stopSignal":"SIGTERM","stopTimeout":10,"openStdin":false}
        """
        let config = try JSONDecoder().decode(ContainerConfig.self, from: Data(json.utf8))
        #expect(!config.tty && !config.stdinOnce)
    }
}
