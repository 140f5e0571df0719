import Foundation
import Glibc
import Testing

/// `kujira-runtime run` of a config with `process.terminal: true` and no `--console-socket`
/// (what `spec` writes) takes the terminal itself, as runc: the container gets a pty of the
/// caller's window size and its output reaches the caller.
@Suite("run in the foreground with a terminal", .enabled(if: Privilege.shouldRun, Privilege.reason), .serialized)
struct ForegroundTerminalTests {
    /// Runs kujira-runtime with `arguments` on a new pty of 33 × 91 (stdin, stdout and stderr
    /// its slave; nothing is ever typed): the exit status and everything written to the pty.
    static func onTerminal(_ box: Sandbox, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC)
        var unlock: Int32 = 0, number: UInt32 = 0
        #expect(master >= 0 && ioctl(master, 0x4004_5431, &unlock) == 0 && ioctl(master, 0x8004_5430, &number) == 0)  // TIOCSPTLCK, TIOCGPTN
        defer { close(master) }
        var size = winsize(ws_row: 33, ws_col: 91, ws_xpixel: 0, ws_ypixel: 0)
        #expect(ioctl(master, UInt(TIOCSWINSZ), &size) == 0)
        let slave = open("/dev/pts/\(number)", O_RDWR | O_NOCTTY | O_CLOEXEC)
        try #require(slave >= 0)
        let process = Foundation.Process()
        process.executableURL = URL(fileURLWithPath: box.runtimePath)
        process.arguments = ["--root", box.root] + arguments
        let handle = FileHandle(fileDescriptor: slave, closeOnDealloc: true)
        process.standardInput = handle
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        process.waitUntilExit()
        try handle.close()
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        _ = fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK)
        while true {
            let n = read(master, &buffer, buffer.count)
            if n <= 0 { break }
            output += buffer[0..<n]
        }
        return (process.terminationStatus, String(decoding: output, as: UTF8.self).replacingOccurrences(of: "\r\n", with: "\n"))
    }

    @Test func runWithoutConsoleSocketUsesTheCallersTerminal() throws {
        // /dev/console is the same pty (stat's major:minor in hex: 136 = 0x88).
        let box = try Sandbox(script: "tty; stty size; stat -c %t:%T /dev/console; stat -c %t:%T $(tty); exit 3")
        box.spec.process?.terminal = true
        try box.writeSpec()
        let (status, output) = try Self.onTerminal(box, ["run", "--bundle", box.bundle, "fg1"])
        #expect(status == 3)
        #expect(output == "/dev/pts/0\n33 91\n88:0\n88:0\n", "\(output.debugDescription)")
        #expect(try box.api.list().isEmpty)
        let leftovers = (try? FileManager.default.contentsOfDirectory(atPath: "/tmp"))?.filter { $0.hasPrefix("kujira-runtime-console-") } ?? []
        #expect(leftovers.isEmpty, "console socket directories left: \(leftovers)")
    }

    @Test func execTTYWithoutConsoleSocketUsesTheCallersTerminal() throws {
        let box = try Sandbox(script: "sleep 60")
        #expect(try box.runtime(["run", "--detach", "--bundle", box.bundle, "fg3"]).status == 0)
        let (status, output) = try Self.onTerminal(box, ["exec", "--tty", "fg3", "sh", "-c", "tty; stty size; exit 4"])
        #expect(status == 4)
        #expect(output.hasSuffix("33 91\n") && output.hasPrefix("/dev/pts/"), "\(output.debugDescription)")
        _ = try box.runtime(["delete", "--force", "fg3"])
    }

    /// CVE-2025-52565: an image whose /dev/console is a symlink (here with the image's own /dev,
    /// no tmpfs over it) must not get the pty mounted where the link points.
    @Test func aConsoleSymlinkIsNotFollowed() throws {
        let box = try Sandbox(script: "true")
        box.spec.process?.terminal = true
        box.spec.mounts?.removeAll { $0.destination == "/dev" }
        try FileManager.default.createDirectory(atPath: box.rootfs + "/escape", withIntermediateDirectories: true)
        try "outside\n".write(toFile: box.rootfs + "/escape/target", atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: box.rootfs + "/dev/console", withDestinationPath: "../escape/target")
        try box.writeSpec()
        let (status, output) = try Self.onTerminal(box, ["run", "--bundle", box.bundle, "fg4"])
        #expect(status != 0)
        #expect(output.contains("/dev/console"), "\(output.debugDescription)")
        #expect(try String(contentsOfFile: box.rootfs + "/escape/target", encoding: .utf8) == "outside\n")
        #expect(!Peers.mounts(under: box.rootfs).contains { $0.hasSuffix("/escape/target") })
    }

    @Test func detachedRunStillNeedsAConsoleSocket() throws {
        let box = try Sandbox(script: "true")
        box.spec.process?.terminal = true
        let result = try box.runtime(["run", "--detach", "--bundle", box.bundle, "fg2"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("--console-socket is required"), "\(result.stderr)")
    }
}
