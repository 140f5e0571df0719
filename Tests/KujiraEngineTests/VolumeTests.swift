import Foundation
import Synchronization
import Testing

extension Sandbox {
    /// `localhost/volume:test`: the busybox image plus `/srv/app` (a file and a subdirectory,
    /// owned 1234:5678, mode 750) declared as a VOLUME.
    static let volumeImage = "localhost/volume:test"

    func importVolumeImage() throws {
        let rootfs = "\(dir)/rootfs"
        let fm = FileManager.default
        try fm.createDirectory(atPath: "\(rootfs)/srv/app/sub", withIntermediateDirectories: true)
        try "from the image\n".write(toFile: "\(rootfs)/srv/app/file", atomically: false, encoding: .utf8)
        try "inner\n".write(toFile: "\(rootfs)/srv/app/sub/inner", atomically: false, encoding: .utf8)
        for path in ["srv/app", "srv/app/file", "srv/app/sub", "srv/app/sub/inner"] {
            guard chown("\(rootfs)/\(path)", 1234, 5678) == 0 else { throw Failure(description: "chown \(path) failed") }
        }
        chmod("\(rootfs)/srv/app", 0o750)
        try mustRun(["import", "--change", "CMD [\"sh\"]", "--change", "VOLUME /srv/app", rootfs, Self.volumeImage])
    }

    /// The names `volume ls -q` prints.
    func volumeNames() throws -> [String] {
        try mustRun(["volume", "ls", "-q"]).stdout.split(separator: "\n").map(String.init)
    }
}

/// Volumes, bind mounts and tmpfs through the real `kujira` binary, as root.
@Suite(.enabled(if: EngineHost.enabled, "needs root (overlay mounts, bind mounts, namespaces); KUJIRA_REQUIRE_PRIVILEGED=1 makes this a failure"))
struct VolumeTests {
    @Test func aNamedVolumeKeepsDataAcrossContainers() throws {
        let box = try Sandbox()
        #expect(try box.mustRun(["volume", "create", "--label", "team=web", "keep"]).stdout == "keep\n")
        try box.mustRun(["run", "--rm", "-v", "keep:/data", Sandbox.image, "sh", "-c", "echo persisted > /data/file"])
        #expect(try box.mustRun(["run", "--rm", "-v", "keep:/other", Sandbox.image, "cat", "/other/file"]).stdout == "persisted\n")
        let inspected = try JSONSerialization.jsonObject(with: Data(box.mustRun(["volume", "inspect", "keep"]).stdout.utf8)) as? [[String: Any]]
        let volume = inspected?.first
        #expect(volume?["Name"] as? String == "keep")
        #expect(volume?["Driver"] as? String == "local")
        #expect(volume?["Mountpoint"] as? String == "\(box.root)/volumes/keep/_data")
        #expect((volume?["Labels"] as? [String: String])?["team"] == "web")
    }

    @Test func copyUpFillsAnEmptyVolumeWithContentAndOwnership() throws {
        let box = try Sandbox()
        try box.importVolumeImage()
        let result = try box.mustRun(["run", "--rm", "-v", "filled:/srv/app", Sandbox.volumeImage, "sh", "-c",
                                      "stat -c '%u:%g %a' /srv/app /srv/app/file; cat /srv/app/file /srv/app/sub/inner"])
        #expect(result.stdout == "1234:5678 750\n1234:5678 644\nfrom the image\ninner\n")
        // The copy is in the volume itself, for the next container.
        #expect(try String(contentsOfFile: "\(box.root)/volumes/filled/_data/file", encoding: .utf8) == "from the image\n")
    }

    @Test func aVolumeWithDataIsNotOverwritten() throws {
        let box = try Sandbox()
        try box.importVolumeImage()
        try box.mustRun(["run", "--rm", "-v", "mine:/data", Sandbox.image, "sh", "-c", "echo mine > /data/own"])
        #expect(try box.mustRun(["run", "--rm", "-v", "mine:/srv/app", Sandbox.volumeImage, "ls", "/srv/app"]).stdout == "own\n")
    }

    @Test func nocopyLeavesTheVolumeEmpty() throws {
        let box = try Sandbox()
        try box.importVolumeImage()
        #expect(try box.mustRun(["run", "--rm", "-v", "bare:/srv/app:nocopy", Sandbox.volumeImage, "ls", "-A", "/srv/app"]).stdout == "")
        #expect(try box.mustRun(["run", "--rm", "--mount", "type=volume,src=bare2,dst=/srv/app,volume-nocopy", Sandbox.volumeImage,
                                 "ls", "-A", "/srv/app"]).stdout == "")
    }

    @Test func imageVolumesBecomeAnonymousVolumesShownInInspect() throws {
        let box = try Sandbox()
        try box.importVolumeImage()
        try box.mustRun(["create", "--name", "anon", Sandbox.volumeImage, "cat", "/srv/app/file"])
        let mounts = try box.inspect("anon")["Mounts"] as? [[String: Any]] ?? []
        #expect(mounts.count == 1)
        let mount = mounts.first ?? [:]
        let name = mount["Name"] as? String ?? ""
        #expect(mount["Type"] as? String == "volume")
        #expect(name.count == 64)
        #expect(mount["Destination"] as? String == "/srv/app")
        #expect(mount["Driver"] as? String == "local")
        #expect(mount["RW"] as? Bool == true)
        #expect(mount["Source"] as? String == "\(box.root)/volumes/\(name)/_data")
        try box.mustRun(["start", "anon"])
        #expect(try box.mustRun(["wait", "anon"]).stdout == "0\n")
        #expect(try box.mustRun(["logs", "anon"]).stdout == "from the image\n")
        #expect(try box.volumeNames() == [name])
        // `rm -v` removes the anonymous volume with the container.
        try box.mustRun(["rm", "-v", "anon"])
        #expect(try box.volumeNames().isEmpty)
    }

    @Test func volumeRmIsRefusedWhileInUse() throws {
        let box = try Sandbox()
        try box.mustRun(["create", "--name", "user", "-v", "busy:/data", Sandbox.image, "true"])
        let refused = try box.kujira(["volume", "rm", "busy"])
        #expect(refused.status == 125)
        #expect(refused.stderr.contains("in use") && refused.stderr.contains("user"))
        #expect(try box.volumeNames() == ["busy"])
        try box.mustRun(["rm", "user"])
        try box.mustRun(["volume", "rm", "-f", "busy"])
        #expect(try box.volumeNames().isEmpty)
        // -f tolerates a missing volume, a plain rm names it.
        try box.mustRun(["volume", "rm", "-f", "busy"])
        let missing = try box.kujira(["volume", "rm", "busy"])
        #expect(missing.status == 125 && missing.stderr.contains("no such volume: busy"))
    }

    @Test func aRunningUserBlocksEvenAForcedRemove() throws {
        let box = try Sandbox()
        try box.mustRun(["run", "-d", "--name", "runner", "-v", "live:/data", Sandbox.image, "sleep", "100"])
        let refused = try box.kujira(["volume", "rm", "-f", "live"])
        #expect(refused.status == 125 && refused.stderr.contains("running container runner"))
        try box.mustRun(["rm", "-f", "runner"])
        try box.mustRun(["volume", "rm", "live"])
    }

    @Test func pruneRemovesOnlyAnonymousVolumesUnlessAll() throws {
        let box = try Sandbox()
        try box.mustRun(["volume", "create", "named"])
        try box.mustRun(["volume", "create", "used"])
        try box.mustRun(["create", "--name", "holder", "-v", "used:/u", Sandbox.image, "true"])
        try box.mustRun(["create", "--name", "gone", "-v", "/anon", Sandbox.image, "true"])
        try box.mustRun(["rm", "gone"])  // without -v: the anonymous volume stays, dangling
        let anonymous = try box.volumeNames().filter { $0.count == 64 }
        #expect(anonymous.count == 1)
        #expect(try box.mustRun(["volume", "ls", "-q", "--filter", "dangling=true"]).stdout.split(separator: "\n").sorted()
            == (anonymous + ["named"]).sorted().map { Substring($0) })
        let pruned = try box.mustRun(["volume", "prune", "-f"]).stdout
        #expect(pruned.contains(anonymous[0]))
        #expect(try box.volumeNames() == ["named", "used"])
        try box.mustRun(["volume", "prune", "-f", "-a"])
        #expect(try box.volumeNames() == ["used"])
    }

    @Test func autoRemoveRemovesAnonymousVolumesButNotNamedOnes() throws {
        let box = try Sandbox()
        try box.mustRun(["run", "--rm", "-v", "named:/n", "-v", "/anon", Sandbox.image, "sh", "-c", "echo x > /anon/f; echo y > /n/f"])
        #expect(try box.volumeNames() == ["named"])
    }

    @Test func aTmpfsVolumeIsATmpfsInTheContainer() throws {
        let box = try Sandbox()
        try box.mustRun(["volume", "create", "--opt", "type=tmpfs", "--opt", "device=tmpfs", "--opt", "o=size=2m", "scratch"])
        let mounts = try box.mustRun(["run", "--rm", "-v", "scratch:/scratch", Sandbox.image, "sh", "-c",
                                      "echo x > /scratch/f && grep ' /scratch ' /proc/mounts"]).stdout
        #expect(mounts.hasPrefix("tmpfs /scratch tmpfs "))
        #expect(mounts.contains("size=2048k"))
        // Unmounted on the host once no container uses it.
        let mountinfo = try readProcFile("/proc/self/mountinfo")
        #expect(!mountinfo.contains("\(box.root)/volumes/scratch/_data"))
    }

    @Test func aReadOnlyBindMountIsReadOnly() throws {
        let box = try Sandbox()
        let host = "\(box.dir)/hostdir"
        try FileManager.default.createDirectory(atPath: host, withIntermediateDirectories: true)
        try "host\n".write(toFile: "\(host)/file", atomically: false, encoding: .utf8)
        let result = try box.kujira(["run", "--rm", "-v", "\(host):/h:ro", Sandbox.image, "sh", "-c", "cat /h/file; touch /h/new"])
        #expect(result.stdout == "host\n")
        #expect(result.status != 0 && result.stderr.contains("Read-only file system"))
        #expect(!FileManager.default.fileExists(atPath: "\(host)/new"))
        // --mount readonly too, and a writable bind writes through.
        #expect(try box.kujira(["run", "--rm", "--mount", "type=bind,src=\(host),dst=/h,readonly", Sandbox.image, "touch", "/h/new"]).status != 0)
        try box.mustRun(["run", "--rm", "-v", "\(host):/h", Sandbox.image, "touch", "/h/new"])
        #expect(FileManager.default.fileExists(atPath: "\(host)/new"))
        // -v creates a missing host directory.
        try box.mustRun(["run", "--rm", "-v", "\(box.dir)/made/here:/m", Sandbox.image, "true"])
        #expect(FileManager.default.fileExists(atPath: "\(box.dir)/made/here"))
    }

    @Test func mountWithAMissingSourceErrorsClearly() throws {
        let box = try Sandbox()
        let missing = "\(box.dir)/no-such-dir"
        let result = try box.kujira(["run", "--rm", "--mount", "type=bind,src=\(missing),dst=/x", Sandbox.image, "true"])
        #expect(result.status == 125)
        #expect(result.stderr.contains("bind source path does not exist: \(missing)"))
        #expect(!FileManager.default.fileExists(atPath: missing))
        #expect(try box.mustRun(["ps", "-a", "-q"]).stdout.isEmpty)
        let bad = try box.kujira(["run", "--rm", "--mount", "type=volume,dst=/x,bind-propagation=shared", Sandbox.image, "true"])
        #expect(bad.status == 125 && bad.stderr.contains("bind-propagation does not apply to type=volume"))
    }

    @Test func volumesFromSharesMounts() throws {
        let box = try Sandbox()
        let host = "\(box.dir)/shared-host"
        try box.mustRun(["create", "--name", "source", "-v", "shared:/s", "-v", "\(host):/h", Sandbox.image, "true"])
        try box.mustRun(["run", "--rm", "--volumes-from", "source", Sandbox.image, "sh", "-c", "echo v > /s/f; echo b > /h/f"])
        #expect(try box.mustRun(["run", "--rm", "-v", "shared:/x", Sandbox.image, "cat", "/x/f"]).stdout == "v\n")
        #expect(try String(contentsOfFile: "\(host)/f", encoding: .utf8) == "b\n")
        let readOnly = try box.kujira(["run", "--rm", "--volumes-from", "source:ro", Sandbox.image, "touch", "/s/g"])
        #expect(readOnly.status != 0 && readOnly.stderr.contains("Read-only file system"))
        let missing = try box.kujira(["run", "--rm", "--volumes-from", "nobody", Sandbox.image, "true"])
        #expect(missing.status == 125 && missing.stderr.contains("no such container: nobody"))
    }

    @Test func aReadOnlyRootWithATmpfs() throws {
        let box = try Sandbox()
        let result = try box.mustRun(["run", "--rm", "--read-only", "--tmpfs", "/run:size=1m", "--mount", "type=tmpfs,dst=/cache,tmpfs-size=1m",
                                      Sandbox.image, "sh", "-c",
                                      "echo a > /run/a && echo b > /cache/b && cat /run/a /cache/b; touch /root-file 2>/dev/null || echo read-only"])
        #expect(result.stdout == "a\nb\nread-only\n")
    }

    @Test func badVolumeInputIsRefusedClearly() throws {
        let box = try Sandbox()
        let badName = try box.kujira(["volume", "create", "-bad"])
        #expect(badName.status != 0)
        let badOption = try box.kujira(["volume", "create", "--opt", "colour=blue", "v1"])
        #expect(badOption.status == 125 && badOption.stderr.contains("invalid volume option colour"))
        let relative = try box.kujira(["run", "--rm", "-v", "data:relative", Sandbox.image, "true"])
        #expect(relative.status == 125 && relative.stderr.contains("must be absolute"))
        let duplicate = try box.kujira(["run", "--rm", "-v", "a1:/x", "-v", "b1:/x", Sandbox.image, "true"])
        #expect(duplicate.status == 125 && duplicate.stderr.contains("duplicate mount point /x"))
        #expect(try box.volumeNames().isEmpty)
    }

    @Test func aBindStyleVolumeMountsItsDevice() throws {
        let box = try Sandbox()
        let host = "\(box.dir)/device-dir"
        try FileManager.default.createDirectory(atPath: host, withIntermediateDirectories: true)
        try "on the host\n".write(toFile: "\(host)/file", atomically: false, encoding: .utf8)
        try box.mustRun(["volume", "create", "--opt", "type=none", "--opt", "o=bind", "--opt", "device=\(host)", "hostvol"])
        let result = try box.mustRun(["run", "--rm", "--mount", "type=volume,src=hostvol,dst=/v", Sandbox.image, "sh", "-c",
                                      "cat /v/file; echo back > /v/back"])
        #expect(result.stdout == "on the host\n")
        #expect(try String(contentsOfFile: "\(host)/back", encoding: .utf8) == "back\n")
        // Mounted only while a container uses it: the volume's own folder stays empty.
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(box.root)/volumes/hostvol/_data").isEmpty)
    }

    @Test func inspectShowsBindMountsAsDocker() throws {
        let box = try Sandbox()
        let host = "\(box.dir)/inspected"
        try box.mustRun(["create", "--name", "binds", "-v", "\(host):/b:ro", "--mount", "type=volume,src=lab,dst=/l,volume-label=k=v",
                         Sandbox.image, "true"])
        let mounts = (try box.inspect("binds")["Mounts"] as? [[String: Any]] ?? []).sorted { ($0["Destination"] as? String ?? "") < ($1["Destination"] as? String ?? "") }
        #expect(mounts.count == 2)
        let bind = mounts.first ?? [:], volume = mounts.last ?? [:]
        #expect(bind["Type"] as? String == "bind" && bind["Source"] as? String == host && bind["Mode"] as? String == "ro")
        #expect(bind["RW"] as? Bool == false && bind["Propagation"] as? String == "rprivate" && bind["Name"] == nil)
        #expect(volume["Type"] as? String == "volume" && volume["Name"] as? String == "lab" && volume["Driver"] as? String == "local")
        #expect(try box.mustRun(["volume", "ls", "-q", "--filter", "label=k=v"]).stdout == "lab\n")
        #expect(try box.mustRun(["volume", "ls", "-q", "--filter", "dangling=true"]).stdout == "")
    }

    @Test func aKilledMonitorLeavesNoVolumeMount() throws {
        let box = try Sandbox()
        try box.mustRun(["volume", "create", "--opt", "type=tmpfs", "--opt", "o=size=1m", "orphan"])
        let id = try box.mustRun(["run", "-d", "-v", "orphan:/o", Sandbox.image, "sleep", "100"]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let data = "\(box.root)/volumes/orphan/_data"
        #expect(try readProcFile("/proc/self/mountinfo").contains(data))
        let record = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(box.root)/containers/\(id)/config.v2.json")))
        let monitor = (((record as? [String: Any])?["state"] as? [String: Any])?["monitorPid"] as? Int).map(Int32.init) ?? 0
        #expect(monitor > 0)
        kill(monitor, SIGKILL)
        // Wait for the monitor to be gone (not a timing assertion: the reconcile below is what is checked).
        _ = box.eventually(30) {
            let stat = (try? String(contentsOfFile: "/proc/\(monitor)/stat", encoding: .utf8)) ?? ""
            return stat.isEmpty || stat.contains(") Z ")
        }
        #expect(try box.mustRun(["ps", "-a"]).stdout.contains("Exited (137)"))
        #expect(!(try readProcFile("/proc/self/mountinfo")).contains(data))
        try box.mustRun(["rm", id])
        try box.mustRun(["volume", "rm", "orphan"])
    }

    @Test func concurrentCreatesShareOneNewVolume() throws {
        let box = try Sandbox()
        let statuses = Mutex<[Int32]>([])
        let errors = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 6) { index in
            let result = try? box.kujira(["create", "--name", "c\(index)", "-v", "together:/t", Sandbox.image, "true"])
            statuses.withLock { $0.append(result?.status ?? -1) }
            if let result, result.status != 0 { errors.withLock { $0.append(result.stderr) } }
        }
        #expect(statuses.withLock { $0 } == Array(repeating: 0, count: 6), "\(errors.withLock { $0 })")
        #expect(try box.volumeNames() == ["together"])
        let users = try box.kujira(["volume", "rm", "together"])
        #expect(users.status == 125 && users.stderr.contains("c0, c1, c2, c3, c4, c5"))
    }
}
