import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A command under a real pseudo-terminal (as InteractiveTests' TerminalSession in the engine
/// tests): the test holds the master, the command gets the slave as stdin, stdout and stderr.
final class PseudoTerminal {
    let master: Int32
    let process = Process()
    private var output: [UInt8] = []
    private var cursor = 0

    init(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws {
        // /dev/ptmx with TIOCSPTLCK (unlock) and TIOCGPTN (the pts number): posix_openpt,
        // unlockpt and ptsname are hidden from Swift's Glibc.
        master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC)
        var unlock: Int32 = 0, number: UInt32 = 0
        guard master >= 0, ioctl(master, UInt(0x4004_5431), &unlock) == 0, ioctl(master, UInt(0x8004_5430), &number) == 0 else {
            throw TestFailure("cannot open a pseudo-terminal: errno \(errno)")
        }
        var size = winsize(ws_row: 30, ws_col: 100, ws_xpixel: 0, ws_ypixel: 0)
        _ = ioctl(master, UInt(TIOCSWINSZ), &size)
        guard let slave = FileHandle(forUpdatingAtPath: "/dev/pts/\(number)") else { throw TestFailure("cannot open /dev/pts/\(number)") }
        guard let path = executable.hasPrefix("/") ? executable : Host.which(executable) else {
            throw TestFailure("\(executable) is not installed: run scripts/test.sh, which installs the test peers")
        }
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
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
            if let end = find(needle) {
                cursor = end
                return true
            }
            var poller = pollfd(fd: master, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 1000) >= 0 else { return false }
            if poller.revents == 0 { continue }
            var buffer = [UInt8](repeating: 0, count: 4096)
            let count = read(master, &buffer, buffer.count)
            if count < 0 && errno == EINTR { continue }
            if count <= 0 {
                guard let end = find(needle) else { return false }
                cursor = end
                return true
            }
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

    /// Reads the rest of the output and returns the command's exit status.
    func finish() -> Int32 {
        _ = waitFor("\u{0}never\u{0}")
        process.waitUntilExit()
        return process.terminationStatus
    }
}
