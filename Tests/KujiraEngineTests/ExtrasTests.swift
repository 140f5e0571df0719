import Foundation
import Testing

/// commit, cp, export, diff, top, stats, rename, events and system df through the real
/// `kujira` binary, as root against the real kernel.
@Suite(.serialized, .enabled(if: EngineHost.enabled, "needs root (overlay mounts, cgroups, namespaces); KUJIRA_REQUIRE_PRIVILEGED=1 makes this a failure"))
struct ExtrasTests {
    /// The container changes every commit/diff test makes: one file added, one changed, one
    /// deleted.
    static let changes = "echo new > /tmp/added; echo extra >> /etc/passwd; rm /etc/group"

    /// The entry names of a tar file (`tar -tf`, which detects compression).
    func tarList(_ path: String) throws -> [String] {
        let result = try Sandbox.exec("/usr/bin/tar", ["-tf", path])
        guard result.status == 0 else { throw Failure(description: "tar -tf \(path): \(result.stderr)") }
        return result.stdout.split(separator: "\n").map(String.init)
    }

    @Test func diffListsAddedChangedAndDeleted() throws {
        let box = try Sandbox()
        try box.mustRun(["run", "--name", "changer", Sandbox.image, "sh", "-c", Self.changes])
        let lines = try box.mustRun(["diff", "changer"]).stdout.split(separator: "\n").map(String.init)
        #expect(lines == ["C /etc", "D /etc/group", "C /etc/passwd", "C /tmp", "A /tmp/added"])
    }

    @Test func commitWritesExactlyTheChangesAndRuns() throws {
        let box = try Sandbox()
        try box.mustRun(["run", "--name", "changer", Sandbox.image, "sh", "-c", Self.changes])
        let id = try box.mustRun(["commit", "-m", "a message", "-c", "ENV COMMITTED=yes", "changer", "localhost/committed:t1"])
            .stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(id.hasPrefix("sha256:"))

        // The new (last) layer of the saved image holds the changes and nothing else.
        let archive = "\(box.dir)/saved.tar", unpacked = "\(box.dir)/saved"
        try box.mustRun(["save", "-o", archive, "localhost/committed:t1"])
        try FileManager.default.createDirectory(atPath: unpacked, withIntermediateDirectories: true)
        #expect(try Sandbox.exec("/usr/bin/tar", ["-xf", archive, "-C", unpacked]).status == 0)
        let manifestData = try Data(contentsOf: URL(fileURLWithPath: "\(unpacked)/manifest.json"))
        let manifest = try #require(try JSONSerialization.jsonObject(with: manifestData) as? [[String: Any]])
        let layers = try #require(manifest.first?["Layers"] as? [String])
        #expect(layers.count == 2)
        let last = try #require(layers.last)
        let entries = try tarList("\(unpacked)/\(last)").map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        #expect(entries.sorted() == ["etc", "etc/.wh.group", "etc/passwd", "tmp", "tmp/added"])

        let run = try box.mustRun(["run", "--rm", "localhost/committed:t1", "sh", "-c",
                                   "cat /tmp/added; tail -n 1 /etc/passwd; test -e /etc/group || echo gone; echo $COMMITTED"])
        #expect(run.stdout == "new\nextra\ngone\nyes\n")
        let history = try box.mustRun(["image", "inspect", "localhost/committed:t1"]).stdout
        #expect(history.contains("COMMITTED=yes"))
    }

    @Test func commitOfARunningContainerPausesAndThaws() throws {
        let box = try Sandbox()
        try box.mustRun(["run", "-d", "--name", "live", Sandbox.image, "sh", "-c", "echo data > /tmp/live; sleep 100"])
        #expect(box.eventually(10) { (try? box.kujira(["exec", "live", "cat", "/tmp/live"]).stdout) == "data\n" })
        try box.mustRun(["commit", "live", "liveapp"])
        #expect(try box.state("live")["Status"] as? String == "running")
        // A short name is stored as docker names it and found again by the same short name.
        #expect(try box.mustRun(["run", "--rm", "liveapp", "cat", "/tmp/live"]).stdout == "data\n")
        #expect(try box.mustRun(["images"]).stdout.contains("liveapp"))
        try box.mustRun(["rm", "-f", "live"])
    }

    /// A commit killed while the container is frozen leaves a marker naming a dead process;
    /// the next command that reads the container thaws it.
    @Test func aFreezeLeftByADeadCommitIsUndone() throws {
        let box = try Sandbox()
        let id = try box.mustRun(["run", "-d", Sandbox.image, "sleep", "100"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let v2 = "/sys/fs/cgroup/kujira/\(id)/cgroup.freeze", v1 = "/sys/fs/cgroup/freezer/kujira/\(id)/freezer.state"
        let isV2 = FileManager.default.fileExists(atPath: v2)
        try (isV2 ? "1" : "FROZEN").write(toFile: isV2 ? v2 : v1, atomically: false, encoding: .utf8)
        func frozen() -> Bool {
            let text = (try? String(contentsOfFile: isV2 ? "/sys/fs/cgroup/kujira/\(id)/cgroup.events" : v1, encoding: .utf8)) ?? ""
            return isV2 ? text.contains("frozen 1") : text.hasPrefix("FROZEN")
        }
        #expect(box.eventually(10) { frozen() })
        // The pid of a process that has exited: what a `kill -9`ed commit leaves behind.
        let gone = try Sandbox.exec("/bin/sh", ["-c", "echo $$"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        try "\(gone) 1".write(toFile: "\(box.root)/containers/\(id)/commit-pause", atomically: false, encoding: .utf8)
        try box.mustRun(["ps"])
        #expect(!frozen())
        #expect(!FileManager.default.fileExists(atPath: "\(box.root)/containers/\(id)/commit-pause"))
        try box.mustRun(["rm", "-f", id])
    }

    @Test func copyBothWaysWithDirectories() throws {
        let box = try Sandbox()
        try box.mustRun(["run", "-d", "--name", "files", Sandbox.image, "sh", "-c",
                         "mkdir -p /data/sub; echo a > /data/sub/a; echo b > /data/b; touch /tmp/ready; sleep 100"])
        #expect(box.eventually(10) { (try? box.kujira(["exec", "files", "test", "-e", "/tmp/ready"]).status) == 0 })
        let fm = FileManager.default
        // Out: a directory onto a missing path takes that name; SRC/. copies the content.
        try box.mustRun(["cp", "files:/data", "\(box.dir)/out"])
        #expect(try String(contentsOfFile: "\(box.dir)/out/sub/a", encoding: .utf8) == "a\n")
        try fm.createDirectory(atPath: "\(box.dir)/existing", withIntermediateDirectories: true)
        try box.mustRun(["cp", "files:/data", "\(box.dir)/existing"])
        #expect(fm.fileExists(atPath: "\(box.dir)/existing/data/b"))
        try box.mustRun(["cp", "files:/data/.", "\(box.dir)/existing"])
        #expect(fm.fileExists(atPath: "\(box.dir)/existing/sub/a"))
        try box.mustRun(["cp", "files:/data/b", "\(box.dir)/renamed"])
        #expect(try String(contentsOfFile: "\(box.dir)/renamed", encoding: .utf8) == "b\n")

        // In: a file into a directory, a directory onto a missing path.
        try "host file\n".write(toFile: "\(box.dir)/hostfile", atomically: false, encoding: .utf8)
        try fm.createDirectory(atPath: "\(box.dir)/hostdir/inner", withIntermediateDirectories: true)
        try "x\n".write(toFile: "\(box.dir)/hostdir/inner/x", atomically: false, encoding: .utf8)
        try box.mustRun(["cp", "\(box.dir)/hostfile", "files:/tmp/"])
        #expect(try box.mustRun(["exec", "files", "cat", "/tmp/hostfile"]).stdout == "host file\n")
        try box.mustRun(["cp", "\(box.dir)/hostdir", "files:/tmp/newdir"])
        #expect(try box.mustRun(["exec", "files", "cat", "/tmp/newdir/inner/x"]).stdout == "x\n")
        #expect(try box.mustRun(["exec", "files", "stat", "-c", "%u", "/tmp/newdir/inner/x"]).stdout == "0\n")

        // A missing destination ending in / is an error, as in Docker.
        #expect(try box.kujira(["cp", "files:/data/b", "\(box.dir)/missing/"]).status != 0)

        // `-`: a tar stream on stdout, and one read from stdin.
        let cli = "\(EngineHost.kujira) --root \(box.root) --state \(box.state)"
        #expect(try Sandbox.exec("/bin/sh", ["-c", "\(cli) cp files:/data - > \(box.dir)/data.tar"]).status == 0)
        #expect(try tarList("\(box.dir)/data.tar").sorted() == ["data/", "data/b", "data/sub/", "data/sub/a"])
        try box.mustRun(["exec", "files", "mkdir", "/tmp/fromtar"])
        #expect(try Sandbox.exec("/bin/sh", ["-c", "tar -C \(box.dir)/hostdir -cf - . | \(cli) cp - files:/tmp/fromtar"]).status == 0)
        #expect(try box.mustRun(["exec", "files", "cat", "/tmp/fromtar/inner/x"]).stdout == "x\n")
        try box.mustRun(["rm", "-f", "files"])
    }

    @Test func copyCannotEscapeTheRootfsThroughSymlinks() throws {
        let box = try Sandbox()
        let unique = "kujira-cp-escape-\(UUID().uuidString)"
        try box.mustRun(["run", "-d", "--name", "tricky", Sandbox.image, "sh", "-c",
                         "echo inside > /etc/secret; ln -s /etc/shadow /tmp/shadowlink; ln -s ../../../../etc/secret /tmp/secretlink;"
                         + " ln -s /etc /tmp/etclink; touch /tmp/ready; sleep 100"])
        #expect(box.eventually(10) { (try? box.kujira(["exec", "tricky", "test", "-e", "/tmp/ready"]).status) == 0 })
        // Reading: the link resolves inside the container, which has no /etc/shadow.
        let shadow = try box.kujira(["cp", "-L", "tricky:/tmp/shadowlink", "\(box.dir)/stolen"])
        #expect(shadow.status != 0)
        #expect(!FileManager.default.fileExists(atPath: "\(box.dir)/stolen"))
        try box.mustRun(["cp", "-L", "tricky:/tmp/secretlink", "\(box.dir)/secret"])
        #expect(try String(contentsOfFile: "\(box.dir)/secret", encoding: .utf8) == "inside\n")
        // A file named like a whiteout is refused instead of deleting its sibling on the host.
        try box.mustRun(["exec", "tricky", "sh", "-c", "mkdir /tmp/wh; echo keep > /tmp/wh/keep; touch /tmp/wh/.wh.victim"])
        try FileManager.default.createDirectory(atPath: "\(box.dir)/wh", withIntermediateDirectories: true)
        try "precious\n".write(toFile: "\(box.dir)/wh/victim", atomically: false, encoding: .utf8)
        #expect(try box.kujira(["cp", "tricky:/tmp/wh/.", "\(box.dir)/wh"]).status != 0)
        #expect(try String(contentsOfFile: "\(box.dir)/wh/victim", encoding: .utf8) == "precious\n")
        // Writing through a directory symlink lands in the container's /etc, not the host's.
        try "planted\n".write(toFile: "\(box.dir)/plant", atomically: false, encoding: .utf8)
        try box.mustRun(["cp", "\(box.dir)/plant", "tricky:/tmp/etclink/\(unique)"])
        #expect(!FileManager.default.fileExists(atPath: "/etc/\(unique)"))
        #expect(try box.mustRun(["exec", "tricky", "cat", "/etc/\(unique)"]).stdout == "planted\n")
        try box.mustRun(["rm", "-f", "tricky"])
    }

    @Test func exportListsTheRootfs() throws {
        let box = try Sandbox()
        try box.mustRun(["run", "--name", "exported", Sandbox.image, "sh", "-c", "echo hi > /root/hello"])
        try box.mustRun(["export", "-o", "\(box.dir)/export.tar", "exported"])
        let entries = try tarList("\(box.dir)/export.tar")
        #expect(entries.contains("bin/busybox"))
        #expect(entries.contains("etc/passwd"))
        #expect(entries.contains("root/hello"))
    }

    @Test func topListsTheProcess() throws {
        let box = try Sandbox()
        try box.mustRun(["run", "-d", "--name", "sleeper", Sandbox.image, "sleep", "100"])
        let output = try box.mustRun(["top", "sleeper"]).stdout
        let lines = output.split(separator: "\n")
        #expect(lines.first?.hasPrefix("UID") == true && lines.first?.contains("CMD") == true)
        #expect(lines.dropFirst().contains { $0.hasSuffix("sleep 100") })
        try box.mustRun(["rm", "-f", "sleeper"])
    }

    @Test func statsShowMemoryAndPids() throws {
        let box = try Sandbox()
        try box.mustRun(["run", "-d", "--name", "busy", Sandbox.image, "sleep", "100"])
        let line = try box.mustRun(["stats", "--no-stream", "--format", "{{.PIDs}}|{{.MemUsage}}", "busy"]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let parts = line.split(separator: "|")
        #expect(parts.count == 2)
        #expect((Int(parts.first ?? "") ?? 0) >= 1)
        let usage = parts.last?.split(separator: " ").first.map(String.init) ?? ""
        let digits = usage.prefix { $0.isNumber || $0 == "." }
        #expect((Double(digits) ?? 0) > 0, "memory usage \(usage)")
        try box.mustRun(["rm", "-f", "busy"])
    }

    @Test func renameKeepsNamesUnique() throws {
        let box = try Sandbox()
        try box.mustRun(["create", "--name", "first", Sandbox.image, "true"])
        try box.mustRun(["create", "--name", "second", Sandbox.image, "true"])
        try box.mustRun(["rename", "first", "renamed"])
        #expect(try box.inspect("renamed")["Name"] as? String == "/renamed")
        #expect(try box.kujira(["inspect", "first"]).status != 0)
        let clash = try box.kujira(["rename", "second", "renamed"])
        #expect(clash.status != 0 && clash.stderr.contains("already in use"))
    }

    @Test func eventsShowCreateStartDie() throws {
        let box = try Sandbox()
        let since = String(Date().timeIntervalSince1970 - 1)
        _ = try box.kujira(["run", "--name", "evented", Sandbox.image, "sh", "-c", "exit 3"])
        let until = String(Date().timeIntervalSince1970 + 1)
        let output = try box.mustRun(["events", "--since", since, "--until", until, "--filter", "container=evented",
                                      "--format", "{{.Action}}"]).stdout
        #expect(output == "create\nstart\ndie\n")
        let die = try box.mustRun(["events", "--since", since, "--until", until, "--filter", "container=evented",
                                   "--filter", "event=die", "--format", "{{.Actor.Attributes.exitCode}}"]).stdout
        #expect(die == "3\n")
    }

    @Test func imageCommandsEmitEvents() throws {
        let box = try Sandbox()
        let since = String(Date().timeIntervalSince1970 - 0.001)
        try box.mustRun(["tag", Sandbox.image, "localhost/other:t"])
        try box.mustRun(["rmi", "localhost/other:t"])
        let until = String(Date().timeIntervalSince1970 + 0.5)
        let output = try box.mustRun(["events", "--since", since, "--until", until, "--filter", "type=image",
                                      "--format", "{{.Action}} {{.Actor.Attributes.name}}"]).stdout
        #expect(output == "tag localhost/other:t\nuntag localhost/other:t\n")
    }

    @Test func systemPruneRemovesStoppedContainersAndUntaggedImages() throws {
        let box = try Sandbox()
        try box.mustRun(["run", "--name", "stopped", Sandbox.image, "sh", "-c", "echo x > /tmp/x"])
        let untagged = try box.mustRun(["commit", "stopped"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        try box.mustRun(["run", "-d", "--name", "alive", Sandbox.image, "sleep", "100"])
        let output = try box.mustRun(["system", "prune", "-f"]).stdout
        #expect(output.contains("Deleted Containers:") && output.contains("Total reclaimed space:"))
        let names = try box.mustRun(["ps", "-a"]).stdout
        #expect(names.contains("alive") && !names.contains("stopped"))
        #expect(try box.kujira(["image", "inspect", untagged]).status != 0)
        #expect(try box.kujira(["image", "inspect", Sandbox.image]).status == 0)
        // --volumes: unused anonymous volumes go, named ones and ones in use stay.
        try box.mustRun(["volume", "create", "named-kept"])
        try box.mustRun(["run", "-d", "--name", "holder", "-v", "/held", Sandbox.image, "sleep", "100"])
        try box.mustRun(["run", "--name", "leaver", "-v", "/left", Sandbox.image, "true"])
        try box.mustRun(["rm", "leaver"])
        let before = try box.mustRun(["volume", "ls", "-q"]).stdout.split(separator: "\n").map(String.init)
        #expect(before.count == 3)
        let pruned = try box.mustRun(["system", "prune", "-f", "--volumes"]).stdout
        #expect(pruned.contains("Deleted Volumes:"), "\(pruned)")
        let after = try box.mustRun(["volume", "ls", "-q"]).stdout.split(separator: "\n").map(String.init)
        #expect(after.count == 2 && after.contains("named-kept"), "\(after)")
        try box.mustRun(["rm", "-f", "-v", "alive", "holder"])
    }

    @Test func systemDfCountsImagesAndContainers() throws {
        let box = try Sandbox()
        func counts() throws -> [String: String] {
            let output = try box.mustRun(["system", "df", "--format", "{{.Type}}={{.TotalCount}}/{{.Active}}"]).stdout
            var result: [String: String] = [:]
            for line in output.split(separator: "\n") {
                let parts = line.split(separator: "=")
                if parts.count == 2 { result[String(parts[0])] = String(parts[1]) }
            }
            return result
        }
        #expect(try counts()["Images"] == "1/0")
        #expect(try counts()["Containers"] == "0/0")
        try box.mustRun(["create", "--name", "counted", Sandbox.image, "true"])
        #expect(try counts()["Images"] == "1/1")
        #expect(try counts()["Containers"] == "1/0")
        #expect(try counts()["Local Volumes"] == "0/0")
        try box.mustRun(["volume", "create", "dfvol"])
        try box.mustRun(["create", "--name", "user", "-v", "dfvol:/data", Sandbox.image, "true"])
        #expect(try counts()["Local Volumes"] == "1/1")
        let info = try box.mustRun(["info", "--format", "{{.Containers}} {{.Images}} {{.Driver}}"]).stdout
        #expect(info.hasPrefix("2 1 "), "\(info)")
    }
}
