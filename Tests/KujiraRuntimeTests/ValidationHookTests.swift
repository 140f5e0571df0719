import Foundation
import Glibc
import KujiraOCI
import Testing

/// runtime-tools' hook cases (validation/hooks, hooks_stdin, prestart, prestart_fail,
/// poststart, poststart_fail, poststop, poststop_fail), each run by kujira-runtime and by
/// Debian's runc on the same bundle: which hooks ran, in what order, what state each read on
/// stdin, and the exit status of create/start/delete.
@Suite("Validation with runc: hooks", .enabled(if: Runc.shouldRun, Runc.reason), .serialized)
struct ValidationHookTests {
    static let stages = ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"]

    /// A bundle whose hooks each save their stdin as `<stage>.json` and append
    /// "<stage> <status> <$VALIDATION>" to `order`, in the rootfs's /hooks (the host path
    /// for every hook but startContainer, which runs in the container); `failing` exits 7.
    /// The process notes whether the startContainer hook ran before it.
    static func bundle(failing: String? = nil) throws -> RuncPair {
        let pair = try RuncPair(script: "test -f /hooks/startContainer.json && echo after-startContainer > /hooks/process || echo without-startContainer > /hooks/process")
        pair.spec.root?.readonly = false
        var hooks = Hooks()
        for stage in stages {
            let directory = stage == "startContainer" ? "/hooks" : pair.rootfs + "/hooks"
            let script = "cat > \(directory)/\(stage).json; status=$(sed -n 's/.*\"status\": *\"\\([a-z]*\\)\".*/\\1/p' \(directory)/\(stage).json); "
                + "echo \(stage) $status $VALIDATION >> \(directory)/order" + (stage == failing ? "; exit 7" : "")
            let hook = [Hook(path: "/bin/sh", args: ["sh", "-c", script], env: ["PATH=/bin:/usr/bin", "VALIDATION=env-passed"], timeout: 30)]
            switch stage {
            case "prestart": hooks.prestart = hook
            case "createRuntime": hooks.createRuntime = hook
            case "createContainer": hooks.createContainer = hook
            case "startContainer": hooks.startContainer = hook
            case "poststart": hooks.poststart = hook
            default: hooks.poststop = hook
            }
        }
        pair.spec.hooks = hooks
        pair.spec.annotations = ["org.example.hooks": "yes"]
        return pair
    }

    /// What one runtime's hooks left: the order lines, the states read, the process's note.
    struct Trace {
        var order: [String]
        var states: [String: [String: Any]]
        var process: String
    }

    static func collect(_ pair: RuncPair) -> Trace {
        let directory = pair.rootfs + "/hooks"
        let read = { (name: String) in (try? String(contentsOfFile: directory + "/" + name, encoding: .utf8)) ?? "" }
        var states: [String: [String: Any]] = [:]
        for stage in stages {
            if let object = try? JSONSerialization.jsonObject(with: Data(read(stage + ".json").utf8)) as? [String: Any] { states[stage] = object }
        }
        let trace = Trace(order: read("order").split(separator: "\n").map(String.init), states: states, process: read("process"))
        try? FileManager.default.removeItem(atPath: directory)
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return trace
    }

    /// Every hook runs once, in lifecycle order, with its env, reading the state with the
    /// status of its step. poststart: Kujira runs it after the process started and passes
    /// "running"; runc 1.1 passes "created" and runs it concurrently with the
    /// startContainer hook, so only its presence is compared.
    @Test func allHooksRunInOrderWithTheState() throws {
        let pair = try Self.bundle()
        _ = Self.collect(pair)
        var traces: [String: Trace] = [:]
        for side in pair.sides {
            #expect(try side.call(["create", "--bundle", pair.bundle, side.id("h")]).status == 0, "\(side.name)")
            #expect(try side.call(["start", side.id("h")]).status == 0, "\(side.name)")
            #expect(side.awaitStatus("h", "stopped"), "\(side.name)")
            #expect(try side.call(["delete", side.id("h")]).status == 0, "\(side.name)")
            traces[side.name] = Self.collect(pair)
        }
        let ours = try #require(traces["kujira"]), theirs = try #require(traces["runc"])
        #expect(ours.order == ["prestart creating env-passed", "createRuntime creating env-passed", "createContainer creating env-passed",
                               "startContainer created env-passed", "poststart running env-passed", "poststop stopped env-passed"])
        #expect(ours.order.filter { !$0.hasPrefix("poststart") } == theirs.order.filter { !$0.hasPrefix("poststart") })
        #expect(theirs.order.contains { $0.hasPrefix("poststart") })
        #expect(ours.process == "after-startContainer\n" && theirs.process == ours.process)
        for stage in Self.stages {
            let mine = try #require(ours.states[stage], "\(stage)"), runcs = try #require(theirs.states[stage], "\(stage)")
            #expect(mine["id"] as? String == "k-h" && runcs["id"] as? String == "r-h")
            #expect(mine["bundle"] as? String == pair.bundle && runcs["bundle"] as? String == pair.bundle)
            #expect(mine["annotations"] as? [String: String] == ["org.example.hooks": "yes"])
            #expect(runcs["annotations"] as? [String: String] == ["org.example.hooks": "yes"])
            if stage != "poststop" { #expect(((mine["pid"] as? Int) ?? 0) > 0, "\(stage)") }
            // runc 1.1 writes "root" into the hooks' state; the spec's state has no such field.
            #expect(Set(mine.keys).subtracting(["owner"]) == Set(runcs.keys).subtracting(["owner", "root"]), "\(stage): \(mine.keys) vs \(runcs.keys)")
        }
    }

    /// A failing prestart, createRuntime or createContainer hook fails `create` in both; the
    /// later hooks and the process do not run; the container is destroyed and the poststop
    /// hooks run ("continue the lifecycle at step 12"; Kujira ran none before this suite).
    @Test(arguments: ["prestart", "createRuntime", "createContainer"])
    func aFailingCreateHookFailsCreate(stage: String) throws {
        let pair = try Self.bundle(failing: stage)
        _ = Self.collect(pair)
        var orders: [String: [String]] = [:]
        for side in pair.sides {
            let created = try side.call(["create", "--bundle", pair.bundle, side.id("f")])
            #expect(created.status != 0, "\(side.name)")
            #expect(try side.call(["state", side.id("f")]).status != 0, "\(side.name)")
            let trace = Self.collect(pair)
            #expect(trace.process.isEmpty)
            orders[side.name] = trace.order
        }
        let failedAt = try #require(Self.stages.firstIndex(of: stage))
        let expected = Self.stages[...failedAt].map { "\($0) creating env-passed" } + ["poststop stopped env-passed"]
        #expect(orders["kujira"] == expected)
        #expect(orders["runc"] == expected)
    }

    /// A failing startContainer hook: the process never runs, the container stops, delete
    /// works and runs poststop, in both. Kujira's `start` fails (lifecycle step 7: "the
    /// runtime MUST generate an error"); runc 1.1's exits 0, the hook running in its init
    /// after `start` has returned, so its status is not compared. Kujira runs no poststart
    /// hook then; runc 1.1 does.
    @Test func aFailingStartContainerHookStopsTheContainer() throws {
        let pair = try Self.bundle(failing: "startContainer")
        _ = Self.collect(pair)
        var traces: [String: Trace] = [:]
        for side in pair.sides {
            #expect(try side.call(["create", "--bundle", pair.bundle, side.id("s")]).status == 0, "\(side.name)")
            let started = try side.call(["start", side.id("s")])
            if side.name == "kujira" {
                #expect(started.status != 0)
                #expect(started.stderr.contains("a startContainer hook of container k-s failed"), "\(started.stderr)")
            }
            #expect(side.awaitStatus("s", "stopped"), "\(side.name)")
            #expect(try side.call(["delete", side.id("s")]).status == 0, "\(side.name)")
            traces[side.name] = Self.collect(pair)
        }
        #expect(traces["kujira"]?.order.contains { $0.hasPrefix("poststart") } == false)
        for (name, trace) in traces {
            #expect(trace.process.isEmpty, "\(name)")
            #expect(trace.order.contains("startContainer created env-passed"), "\(name)")
            #expect(trace.order.last == "poststop stopped env-passed", "\(name)")
        }
    }

    /// A failing poststart hook is a warning: the container runs on and `start` succeeds
    /// (runtime-spec: "the runtime MUST log a warning, but the remaining hooks and lifecycle
    /// continue"). runc 1.1 runs poststart hooks inside `create` and fails it instead, so
    /// only Kujira is asserted.
    @Test func aFailingPoststartHookIsAWarning() throws {
        let pair = try Self.bundle(failing: "poststart")
        _ = Self.collect(pair)
        #expect(try pair.kujira(["create", "--bundle", pair.bundle, "k-p"]).status == 0)
        let started = try pair.kujira(["start", "k-p"])
        #expect(started.status == 0)
        #expect(started.stderr.contains("poststart hook #0 (/bin/sh) exited with status 7"), "\(started.stderr)")
        #expect(eventually { pair.sides[0].status("p") == "stopped" })
        #expect(try pair.kujira(["delete", "k-p"]).status == 0)
        let trace = Self.collect(pair)
        #expect(trace.process == "after-startContainer\n")
        #expect(trace.order.last == "poststop stopped env-passed")
    }

    /// A failing poststop hook is a warning: delete succeeds and the container is gone, in
    /// both.
    @Test func aFailingPoststopHookIsAWarning() throws {
        let pair = try Self.bundle(failing: "poststop")
        _ = Self.collect(pair)
        for side in pair.sides {
            #expect(try side.call(["run", "--bundle", pair.bundle, side.id("d")]).status == 0, "\(side.name)")
            #expect(try side.call(["state", side.id("d")]).status != 0)
            let trace = Self.collect(pair)
            #expect(trace.order.last == "poststop stopped env-passed", "\(side.name)")
        }
        #expect(try pair.kujira(["create", "--bundle", pair.bundle, "k-w"]).status == 0)
        #expect(try pair.kujira(["kill", "k-w", "KILL"]).status == 0)
        let deleted = try pair.kujira(["delete", "--force", "k-w"])
        #expect(deleted.status == 0)
        #expect(deleted.stderr.contains("poststop hook #0 (/bin/sh) exited with status 7"), "\(deleted.stderr)")
    }
}
