import Foundation
import Testing
@testable import Kujira
import KujiraOCI

/// Health checks through the real `kujira` binary, as root against the real kernel: the
/// monitor runs the check in the container on schedule and keeps `State.Health`.
@Suite(.enabled(if: EngineHost.enabled, "needs root (overlay mounts, cgroups, namespaces); KUJIRA_REQUIRE_PRIVILEGED=1 makes this a failure"))
struct HealthTests {
    static func health(_ box: Sandbox, _ name: String) -> [String: Any] {
        ((try? box.state(name))?["Health"] as? [String: Any]) ?? [:]
    }

    static func log(_ health: [String: Any]) -> [[String: Any]] {
        (health["Log"] as? [[String: Any]]) ?? []
    }

    @Test func passingCheckMakesTheContainerHealthy() throws {
        let box = try Sandbox()
        let since = String(Date().timeIntervalSince1970 - 1)
        try box.mustRun(["run", "-d", "--name", "fine", "--health-cmd", "echo ok", "--health-interval", "100ms", Sandbox.image, "sleep", "100"])
        #expect(box.eventually(60) { Self.health(box, "fine")["Status"] as? String == "healthy" })
        let health = Self.health(box, "fine")
        #expect(health["FailingStreak"] as? Int == 0)
        let entry = Self.log(health).last ?? [:]
        #expect(entry["ExitCode"] as? Int == 0)
        #expect(entry["Output"] as? String == "ok\n")
        #expect((entry["Start"] as? String ?? "").hasPrefix("20") && (entry["End"] as? String ?? "").hasPrefix("20"))
        #expect(try box.mustRun(["ps"]).stdout.contains("(healthy)"))
        #expect(try box.mustRun(["ps", "--filter", "health=healthy", "--format", "{{.Names}}"]).stdout == "fine\n")
        #expect(try box.mustRun(["ps", "--filter", "health=none", "--filter", "health=unhealthy", "-q"]).stdout.isEmpty)
        let config = (try box.inspect("fine")["Config"] as? [String: Any])?["Healthcheck"] as? [String: Any]
        #expect(config?["Test"] as? [String] == ["CMD-SHELL", "echo ok"])
        #expect(config?["Interval"] as? Int == 100_000_000)
        let until = String(Date().timeIntervalSince1970 + 1)
        let actions = try box.mustRun(["events", "--since", since, "--until", until, "--filter", "container=fine", "--format", "{{.Action}}"]).stdout
        #expect(actions.contains("health_status: healthy"))
        // Docker marks the health of a container whose checks have stopped unhealthy.
        try box.mustRun(["stop", "-t", "1", "fine"])
        #expect(Self.health(box, "fine")["Status"] as? String == "unhealthy")
        try box.mustRun(["rm", "-f", "fine"])
    }

    /// A check whose process fails after it was forked into the container (its working
    /// directory is gone) is reaped by the monitor: before, each stayed a zombie in the
    /// container's pid namespace, so the container's init could not finish exiting and
    /// `rm -f` hung for good.
    @Test func aCheckThatCannotStartLeavesTheContainerRemovable() throws {
        let box = try Sandbox()
        try box.mustRun(["run", "-d", "--name", "lost", "--network", "none", "-w", "/wd", "--health-cmd", "true",
                         "--health-interval", "50ms", Sandbox.image, "sh", "-c", "cd /; rmdir /wd; sleep 100"])
        #expect(box.eventually(60) { (Self.health(box, "lost")["FailingStreak"] as? Int ?? 0) >= 3 })
        let output = Self.log(Self.health(box, "lost")).last?["Output"] as? String ?? ""
        #expect(output.contains("chdir"), "\(output)")
        let id = try #require(try box.inspect("lost")["Id"] as? String)
        let record = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(box.root)/containers/\(id)/config.v2.json")))
        let monitor = (((record as? [String: Any])?["state"] as? [String: Any])?["monitorPid"] as? Int).map(Int32.init) ?? 0
        // Bounded only so that the old hang fails the test instead of stalling the suite.
        let removed = try Sandbox.exec("/usr/bin/timeout", ["120", EngineHost.kujira, "--root", box.root, "--state", box.state, "rm", "-f", "lost"])
        #expect(removed.status == 0, "\(removed.stderr)")
        if removed.status != 0 && monitor > 0 { kill(monitor, SIGKILL) }  // so that the sandbox can clean up
    }

    @Test func failingCheckMakesTheContainerUnhealthyAndKeepsFiveResults() throws {
        let box = try Sandbox()
        try box.mustRun(["run", "-d", "--name", "sick", "--health-cmd", "echo bad >&2; exit 3", "--health-interval", "50ms",
                         "--health-retries", "2", Sandbox.image, "sleep", "100"])
        #expect(box.eventually(60) { (Self.health(box, "sick")["FailingStreak"] as? Int ?? 0) >= 7 })
        let health = Self.health(box, "sick")
        #expect(health["Status"] as? String == "unhealthy")
        let log = Self.log(health)
        #expect(log.count == 5)
        #expect(log.allSatisfy { $0["ExitCode"] as? Int == 3 && $0["Output"] as? String == "bad\n" })
        #expect(try box.mustRun(["ps"]).stdout.contains("(unhealthy)"))
        try box.mustRun(["rm", "-f", "sick"])
    }

    @Test func checkThatHangsTimesOut() throws {
        let box = try Sandbox()
        try box.mustRun(["run", "-d", "--name", "slow", "--health-cmd", "sleep 100", "--health-timeout", "200ms", "--health-interval", "50ms",
                         "--health-retries", "1", Sandbox.image, "sleep", "100"])
        #expect(box.eventually(60) { Self.health(box, "slow")["Status"] as? String == "unhealthy" })
        let entry = Self.log(Self.health(box, "slow")).first ?? [:]
        #expect(entry["ExitCode"] as? Int == -1)
        #expect(entry["Output"] as? String == "Health check exceeded timeout (200ms)")
        try box.mustRun(["rm", "-f", "slow"])
    }

    @Test func failuresInTheStartPeriodDoNotCount() throws {
        let box = try Sandbox()
        try box.mustRun(["run", "-d", "--name", "warming", "--health-cmd", "test -f /tmp/ready", "--health-start-period", "1h",
                         "--health-start-interval", "50ms", "--health-interval", "1h", "--health-retries", "1",
                         Sandbox.image, "sleep", "100"])
        #expect(box.eventually(60) { Self.log(Self.health(box, "warming")).count >= 3 })
        let health = Self.health(box, "warming")
        #expect(health["Status"] as? String == "starting")
        #expect(health["FailingStreak"] as? Int == 0)
        #expect(Self.log(health).allSatisfy { $0["ExitCode"] as? Int == 1 })
        #expect(try box.mustRun(["ps"]).stdout.contains("(health: starting)"))
        try box.mustRun(["exec", "warming", "touch", "/tmp/ready"])
        #expect(box.eventually(60) { Self.health(box, "warming")["Status"] as? String == "healthy" })
        try box.mustRun(["rm", "-f", "warming"])
    }

    @Test func imageHealthcheckIsInheritedAndCanBeDisabled() throws {
        let box = try Sandbox()
        let context = "\(box.dir)/context"
        try FileManager.default.createDirectory(atPath: context, withIntermediateDirectories: true)
        try "FROM \(Sandbox.image)\nHEALTHCHECK --interval=100ms --retries=1 CMD [\"sh\", \"-c\", \"exit 1\"]\n"
            .write(toFile: "\(context)/Dockerfile", atomically: false, encoding: .utf8)
        try box.mustRun(["build", "-t", "localhost/checked:test", context])
        try box.mustRun(["run", "-d", "--name", "inherited", "localhost/checked:test", "sleep", "100"])
        #expect(box.eventually(60) { Self.health(box, "inherited")["Status"] as? String == "unhealthy" })
        // --health-cmd replaces the test only; the image's interval and retries stay.
        try box.mustRun(["run", "-d", "--name", "overridden", "--health-cmd", "true", "localhost/checked:test", "sleep", "100"])
        let config = (try box.inspect("overridden")["Config"] as? [String: Any])?["Healthcheck"] as? [String: Any]
        #expect(config?["Test"] as? [String] == ["CMD-SHELL", "true"])
        #expect(config?["Interval"] as? Int == 100_000_000)
        #expect(box.eventually(60) { Self.health(box, "overridden")["Status"] as? String == "healthy" })
        try box.mustRun(["run", "-d", "--name", "unchecked", "--no-healthcheck", "localhost/checked:test", "sleep", "100"])
        #expect(try box.state("unchecked")["Health"] == nil)
        let disabled = (try box.inspect("unchecked")["Config"] as? [String: Any])?["Healthcheck"] as? [String: Any]
        #expect(disabled?["Test"] as? [String] == ["NONE"])
        for name in ["inherited", "overridden", "unchecked"] { try box.mustRun(["rm", "-f", name]) }
    }

    @Test func badHealthOptionsAreRefused() throws {
        let box = try Sandbox()
        let bad = try box.kujira(["create", "--health-cmd", "true", "--health-interval", "soon", Sandbox.image])
        #expect(bad.status == 125 && bad.stderr.contains("--health-interval") && bad.stderr.contains("invalid duration"))
        let conflict = try box.kujira(["create", "--health-cmd", "true", "--no-healthcheck", Sandbox.image])
        #expect(conflict.status == 125 && conflict.stderr.contains("--no-healthcheck"))
        let noCommand = try box.kujira(["create", "--health-interval", "1s", Sandbox.image])
        #expect(noCommand.status == 125 && noCommand.stderr.contains("--health-cmd"))
    }
}

/// The health check's merge and duration parsing, without a container.
struct HealthUnitTests {
    @Test func goDurations() throws {
        #expect(try GoDuration.parse("30s", what: "x") == 30_000_000_000)
        #expect(try GoDuration.parse("1m30s", what: "x") == 90_000_000_000)
        #expect(try GoDuration.parse("1.5h", what: "x") == 5_400_000_000_000)
        #expect(try GoDuration.parse("250ms", what: "x") == 250_000_000)
        #expect(try GoDuration.parse("0", what: "x") == 0)
        #expect(throws: EngineError.self) { try GoDuration.parse("10", what: "x") }
        #expect(throws: EngineError.self) { try GoDuration.parse("s", what: "x") }
        #expect(throws: EngineError.self) { try GoDuration.parse("", what: "x") }
        #expect(Engine.goDurationText(200_000_000) == "200ms")
        #expect(Engine.goDurationText(30_000_000_000) == "30s")
        #expect(Engine.goDurationText(90_000_000_000) == "1m30s")
    }

    @Test func mergeFollowsDocker() throws {
        let image = Healthcheck(test: ["CMD", "check"], interval: 5_000_000_000, retries: 4)
        var options = ContainerOptions(image: "x")
        #expect(try Healthcheck.merged(image: image, options: options) == image)
        options.healthTimeout = "2s"
        let merged = try Healthcheck.merged(image: image, options: options)
        #expect(merged?.test == ["CMD", "check"] && merged?.timeout == 2_000_000_000 && merged?.interval == 5_000_000_000 && merged?.retries == 4)
        options.healthCmd = "curl -f localhost"
        #expect(try Healthcheck.merged(image: image, options: options)?.test == ["CMD-SHELL", "curl -f localhost"])
        var disabled = ContainerOptions(image: "x")
        disabled.noHealthcheck = true
        #expect(try Healthcheck.merged(image: image, options: disabled)?.isEnabled == false)
        let defaults = Healthcheck(test: ["CMD", "x"]).effective
        #expect(defaults.interval == 30_000_000_000 && defaults.timeout == 30_000_000_000 && defaults.retries == 3
                && defaults.startPeriod == 0 && defaults.startInterval == 5_000_000_000)
        #expect(Healthcheck(test: ["CMD-SHELL", "a b"]).command == ["/bin/sh", "-c", "a b"])
    }
}
