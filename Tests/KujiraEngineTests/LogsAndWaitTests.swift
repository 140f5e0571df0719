import Foundation
import Testing
@testable import Kujira

/// Log drivers, rotation, `logs --since/--until` and `wait` conditions through the real
/// `kujira` binary (and the engine API for the waits), as root against the real kernel.
@Suite(.enabled(if: EngineHost.enabled, "needs root (overlay mounts, cgroups, namespaces); KUJIRA_REQUIRE_PRIVILEGED=1 makes this a failure"))
struct LogsAndWaitTests {
    static let counting = "i=0; while [ $i -lt 200 ]; do echo line$i; i=$((i+1)); done"

    /// The numbers of `lineN` lines, in order.
    static func numbers(_ text: String) -> [Int] {
        text.split(separator: "\n").compactMap { $0.hasPrefix("line") ? Int($0.dropFirst(4)) : nil }
    }

    @Test func jsonFileRotatesBySizeAndCountAndLogsReadsAcrossFiles() throws {
        let box = try Sandbox()
        try box.mustRun(["run", "--name", "chatty", "--log-opt", "max-size=1k", "--log-opt", "max-file=3", Sandbox.image, "sh", "-c", Self.counting])
        let document = try box.inspect("chatty")
        let path = document["LogPath"] as? String ?? ""
        let fm = FileManager.default
        #expect(fm.fileExists(atPath: path) && fm.fileExists(atPath: "\(path).1") && fm.fileExists(atPath: "\(path).2"))
        #expect(!fm.fileExists(atPath: "\(path).3"))
        for file in [path, "\(path).1", "\(path).2"] {
            let size = (try? fm.attributesOfItem(atPath: file)[.size] as? Int) ?? Int.max
            #expect(size < 1024 + 200)
        }
        let config = (document["HostConfig"] as? [String: Any])?["LogConfig"] as? [String: Any]
        #expect(config?["Type"] as? String == "json-file")
        #expect((config?["Config"] as? [String: String]) == ["max-size": "1k", "max-file": "3"])
        let numbers = Self.numbers(try box.mustRun(["logs", "chatty"]).stdout)
        #expect(numbers.last == 199)
        #expect(numbers.count > 20 && numbers.count < 200)
        #expect(numbers == Array((200 - numbers.count)..<200))
        #expect(Self.numbers(try box.mustRun(["logs", "--tail", "3", "chatty"]).stdout) == [197, 198, 199])
    }

    @Test func maxFileOneTruncatesAndFollowEndsWithTheLastLine() throws {
        let box = try Sandbox()
        try box.mustRun(["run", "-d", "--name", "single", "--log-opt", "max-size=1k", "--log-opt", "max-file=1", Sandbox.image,
                         "sh", "-c", "sleep 1; " + Self.counting])
        let followed = Self.numbers(try box.mustRun(["logs", "-f", "single"]).stdout)
        #expect(followed.last == 199)
        #expect(followed == followed.sorted())
        let path = try box.inspect("single")["LogPath"] as? String ?? ""
        #expect(!FileManager.default.fileExists(atPath: "\(path).1"))
        let numbers = Self.numbers(try box.mustRun(["logs", "single"]).stdout)
        #expect(numbers.last == 199 && numbers.count < 200 && numbers == Array((200 - numbers.count)..<200))
    }

    @Test func noneDriverKeepsNothingAndLogsRefuses() throws {
        let box = try Sandbox()
        let run = try box.mustRun(["run", "--name", "quiet", "--log-driver", "none", Sandbox.image, "echo", "hi"])
        #expect(run.stdout == "hi\n")  // attached output still reaches the client
        let logs = try box.kujira(["logs", "quiet"])
        #expect(logs.status != 0 && logs.stderr.contains("does not support reading"))
        let document = try box.inspect("quiet")
        #expect(document["LogPath"] as? String == "")
        let id = document["Id"] as? String ?? ""
        #expect(!FileManager.default.fileExists(atPath: "\(box.root)/containers/\(id)/\(id)-json.log"))
    }

    @Test func badLogOptionsAreRefused() throws {
        let box = try Sandbox()
        let driver = try box.kujira(["create", "--log-driver", "syslog", Sandbox.image])
        #expect(driver.status == 125 && driver.stderr.contains("syslog") && driver.stderr.contains("json-file"))
        let files = try box.kujira(["create", "--log-opt", "max-file=2", Sandbox.image])
        #expect(files.status == 125 && files.stderr.contains("max-size"))
        let unknown = try box.kujira(["create", "--log-opt", "colour=blue", Sandbox.image])
        #expect(unknown.status == 125 && unknown.stderr.contains("colour"))
        #expect(try box.mustRun(["ps", "-a", "-q"]).stdout.isEmpty)
    }

    @Test func logsSinceAndUntil() throws {
        let box = try Sandbox()
        try box.mustRun(["run", "--name", "abc", Sandbox.image, "sh", "-c", "echo a; echo b; echo c"])
        let stamped = try box.mustRun(["logs", "-t", "abc"]).stdout.split(separator: "\n").map { $0.split(separator: " ") }
        #expect(stamped.count == 3)
        guard stamped.count == 3 else { return }
        let second = String(stamped[1][0])
        #expect(try box.mustRun(["logs", "--since", second, "abc"]).stdout == "b\nc\n")
        #expect(try box.mustRun(["logs", "--until", second, "abc"]).stdout == "a\nb\n")
        #expect(try box.mustRun(["logs", "--since", "1h", "abc"]).stdout == "a\nb\nc\n")
        #expect(try box.mustRun(["logs", "--until", "1h", "abc"]).stdout.isEmpty)
        #expect(try box.mustRun(["logs", "--since", "0", "abc"]).stdout == "a\nb\nc\n")
        #expect(try box.mustRun(["logs", "--since", "4102444800", "abc"]).stdout.isEmpty)  // 2100-01-01
        let bad = try box.kujira(["logs", "--since", "yesterday", "abc"])
        #expect(bad.status == 125 && bad.stderr.contains("--since"))
    }

    @Test func waitConditions() throws {
        let box = try Sandbox()
        let engine = try Engine(root: box.root, state: box.state, monitorExecutable: EngineHost.kujira)
        // next-exit on a container that is not running waits for the exit after the next start.
        try box.mustRun(["create", "--name", "later", Sandbox.image, "sh", "-c", "exit 7"])
        let later = try engine.container("later")  // the state the wait counts from
        let nextExit = Waiter { try engine.wait(from: later, condition: .nextExit) }
        try box.mustRun(["start", "later"])
        #expect(try nextExit.result() == 7)
        // not-running returns at once for a stopped container.
        #expect(try box.mustRun(["wait", "--condition", "not-running", "later"]).stdout == "7\n")
        // removed waits for the removal and reports the exit code.
        try box.mustRun(["run", "-d", "--name", "doomed", Sandbox.image, "sleep", "1000"])
        let doomed = try engine.container("doomed")
        let removed = Waiter { try engine.wait(from: doomed, condition: .removed) }
        try box.mustRun(["rm", "-f", "doomed"])
        #expect(try removed.result() == 137)
        let bad = try box.kujira(["wait", "--condition", "soon", "later"])
        #expect(bad.status == 125 && bad.stderr.contains("next-exit"))
    }
}

/// Runs `body` on a thread of its own; ``result()`` waits for it.
final class Waiter: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var outcome: Swift.Result<Int32, any Error> = .success(-1)

    init(_ body: @escaping @Sendable () throws -> Int32) {
        let thread = Thread { [self] in
            outcome = Swift.Result { try body() }
            done.signal()
        }
        thread.start()
    }

    func result() throws -> Int32 {
        done.wait()
        return try outcome.get()
    }
}
