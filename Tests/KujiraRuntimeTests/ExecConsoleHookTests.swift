import CKujiraRuntime
import Foundation
import Glibc
import KujiraOCI
import KujiraRuntime
import Testing

@Suite("exec, console sockets and hooks", .enabled(if: Privilege.shouldRun, Privilege.reason), .serialized)
struct ExecConsoleHookTests {
    @Test func execIntoRunningContainer() throws {
        let box = try Sandbox(script: "sleep 60")
        box.spec.hostname = "exectest"
        #expect(try box.runtime(["run", "--detach", "--bundle", box.bundle, "c1"]).status == 0)
        let result = try box.runtime(["exec", "--env", "X=1", "c1", "sh", "-c", "hostname; echo $X; readlink /proc/1/exe; exec ls /proc/self/fd"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "exectest\n1\n/bin/busybox\n0\n1\n2\n3\n")
        #expect(try box.runtime(["exec", "c1", "sh", "-c", "exit 7"]).status == 7)
        let pidFile = box.directory + "/exec.pid"
        let process = KujiraOCI.Process(user: User(uid: 0, gid: 0), args: ["sleep", "30"], env: ["PATH=/bin"], cwd: "/")
        try JSONEncoder().encode(process).write(to: URL(fileURLWithPath: box.directory + "/process.json"))
        let detached = try box.runtime(["exec", "--process", box.directory + "/process.json", "--detach", "--pid-file", pidFile, "c1"])
        #expect(detached.status == 0, "\(detached.stderr)")
        let pid = Int32(try String(contentsOfFile: pidFile, encoding: .utf8)) ?? 0
        #expect(try box.api.processes(id: "c1").contains(pid))
    }

    @Test func execReadsTheProcessFromStandardInput() throws {
        let box = try Sandbox(script: "sleep 60")
        #expect(try box.runtime(["run", "--detach", "--bundle", box.bundle, "c1"]).status == 0)
        let process = KujiraOCI.Process(user: User(uid: 0, gid: 0), args: ["sh", "-c", "echo from-stdin; exit 5"],
                                        env: ["PATH=/bin"], cwd: "/")
        let json = String(decoding: try JSONEncoder().encode(process), as: UTF8.self)
        let result = try box.runtime(["exec", "--process", "-", "c1"], input: json)
        #expect(result.status == 5, "\(result.stderr)")
        #expect(result.stdout == "from-stdin\n")
        let missing = try box.runtime(["exec", "--process", box.directory + "/absent.json", "c1"])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("cannot open process JSON \(box.directory)/absent.json"))
    }

    @Test func consoleSocketReceivesThePtyMaster() throws {
        let box = try Sandbox()
        box.spec.process?.terminal = true
        box.spec.process?.args = ["sh"]
        let socketPath = box.directory + "/console.sock"
        let listener = kujira_unix_listen(socketPath)
        #expect(listener >= 0)
        defer { close(listener) }
        let create = try box.runtime(["create", "--bundle", box.bundle, "--console-socket", socketPath, "c1"])
        #expect(create.status == 0, "\(create.stderr)")
        let connection = accept(listener, nil, nil)
        #expect(connection >= 0)
        defer { close(connection) }
        let master = kujira_recv_fd(connection)
        #expect(master >= 0)
        defer { close(master) }
        #expect(try box.runtime(["start", "c1"]).status == 0)
        let command = Array("echo h''i\n".utf8)
        _ = command.withUnsafeBytes { write(master, $0.baseAddress, $0.count) }
        var seen = ""
        var buffer = [UInt8](repeating: 0, count: 4096)
        for _ in 0..<200 where !seen.contains("hi\r\n") {
            var poller = pollfd(fd: master, events: Int16(POLLIN), revents: 0)
            if poll(&poller, 1, 50) > 0 {
                let n = read(master, &buffer, buffer.count)
                if n > 0 { seen += String(decoding: buffer[0..<n], as: UTF8.self) }
            }
        }
        #expect(seen.contains("hi\r\n"), "pty output: \(seen)")
    }

    @Test func hooksGetTheStateOnStdin() throws {
        let box = try Sandbox(script: "true")
        let out = box.directory
        func hook(_ name: String) -> Hook {
            Hook(path: "/bin/sh", args: ["sh", "-c", "cat > \(out)/\(name).json"], timeout: 10)
        }
        box.spec.hooks = Hooks(prestart: [hook("prestart")], createRuntime: [hook("createRuntime")],
                               poststart: [hook("poststart")], poststop: [hook("poststop")])
        box.spec.annotations = ["org.example.key": "value"]
        let result = try box.run()
        #expect(result.status == 0, "\(result.stderr)")
        for name in ["prestart", "createRuntime", "poststart", "poststop"] {
            let data = try Data(contentsOf: URL(fileURLWithPath: "\(out)/\(name).json"))
            let state = try JSONDecoder().decode(KujiraOCI.State.self, from: data)
            #expect(state.id == "c1", "\(name)")
            #expect(state.bundle == box.bundle, "\(name)")
            #expect(state.annotations?["org.example.key"] == "value", "\(name)")
            if name != "poststop" { #expect((state.pid ?? 0) > 0, "\(name)") }
        }
        // A failing prestart hook fails create, and nothing is left behind.
        box.spec.hooks = Hooks(prestart: [Hook(path: "/bin/sh", args: ["sh", "-c", "echo nope >&2; exit 3"])])
        let failed = try box.run("c2")
        #expect(failed.status != 0)
        #expect(failed.stderr.contains("prestart hook #0") && failed.stderr.contains("nope"), "\(failed.stderr)")
        #expect(try box.api.list().isEmpty)
        // A hook past its timeout is killed.
        box.spec.hooks = Hooks(createRuntime: [Hook(path: "/bin/sh", args: ["sh", "-c", "sleep 30"], timeout: 1)])
        let slow = try box.run("c3")
        #expect(slow.stderr.contains("timed out"), "\(slow.stderr)")
    }
}
