import Foundation
import Testing

/// `kujira cp` into and out of a container's volumes, bind mounts and tmpfs mounts, running
/// and stopped, through the real binary as root.
@Suite(.serialized, .enabled(if: EngineHost.enabled, "needs root (overlay mounts, cgroups, namespaces); KUJIRA_REQUIRE_PRIVILEGED=1 makes this a failure"))
struct CopyMountTests {
    /// A sandbox with host directories for a writable bind (`bind`), a read-only one (`ro`)
    /// and a file to copy in (`in.txt`).
    static func prepare(_ box: Sandbox) throws {
        let fm = FileManager.default
        for sub in ["bind", "ro", "out"] { try fm.createDirectory(atPath: "\(box.dir)/\(sub)", withIntermediateDirectories: true) }
        try "from host\n".write(toFile: "\(box.dir)/in.txt", atomically: false, encoding: .utf8)
        try "read only\n".write(toFile: "\(box.dir)/ro/kept", atomically: false, encoding: .utf8)
    }

    /// The run arguments of the container every test copies with.
    static func mounts(_ box: Sandbox) -> [String] {
        ["--network", "none", "-v", "copyvol:/vol", "-v", "\(box.dir)/bind:/srv/bind", "-v", "\(box.dir)/ro:/ro:ro", "--tmpfs", "/scratch"]
    }

    /// The host directory of volume `name`.
    static func volumeSource(_ box: Sandbox, _ name: String) throws -> String {
        let text = try box.mustRun(["volume", "inspect", name]).stdout
        let documents = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]]
        return try #require(documents?.first?["Mountpoint"] as? String)
    }

    func read(_ path: String) -> String? { try? String(contentsOfFile: path, encoding: .utf8) }

    @Test func runningContainerSeesItsVolumeBindAndTmpfs() throws {
        let box = try Sandbox()
        try Self.prepare(box)
        try box.mustRun(["run", "-d", "--name", "mounted"] + Self.mounts(box) + [Sandbox.image, "sh", "-c",
                         "echo v > /vol/made; echo b > /srv/bind/made; echo t > /scratch/made; touch /tmp/ready; sleep 100"])
        #expect(box.eventually(10) { (try? box.kujira(["exec", "mounted", "test", "-e", "/tmp/ready"]).status) == 0 })
        let volume = try Self.volumeSource(box, "copyvol")

        // In: each file lands on the mount, where the container and the host see it.
        for target in ["/vol", "/srv/bind", "/scratch"] {
            try box.mustRun(["cp", "\(box.dir)/in.txt", "mounted:\(target)/"])
            #expect(try box.mustRun(["exec", "mounted", "cat", "\(target)/in.txt"]).stdout == "from host\n")
        }
        #expect(read("\(volume)/in.txt") == "from host\n")
        #expect(read("\(box.dir)/bind/in.txt") == "from host\n")
        // The tmpfs hides the rootfs directory under it: the copy did not go there.
        #expect(try box.mustRun(["diff", "mounted"]).stdout.contains("/scratch/in.txt") == false)

        // Out: what the container wrote on each mount.
        for (target, content) in [("/vol", "v\n"), ("/srv/bind", "b\n"), ("/scratch", "t\n")] {
            let local = "\(box.dir)/out/\(target.split(separator: "/").last ?? "x")"
            try box.mustRun(["cp", "mounted:\(target)/made", local])
            #expect(read(local) == content, "\(target)")
        }
        // A directory on a mount, copied whole.
        try box.mustRun(["cp", "mounted:/vol", "\(box.dir)/out/volcopy"])
        #expect(read("\(box.dir)/out/volcopy/made") == "v\n")
        // The engine's /etc/hosts is there; the kernel's file systems (/proc, /sys) are not.
        try box.mustRun(["cp", "mounted:/etc/hosts", "\(box.dir)/out/hosts"])
        #expect(read("\(box.dir)/out/hosts")?.contains("localhost") == true)
        #expect(try box.kujira(["cp", "mounted:/proc/1/status", "\(box.dir)/out/status"]).status != 0)
        #expect(try box.kujira(["cp", "mounted:/sys/kernel", "\(box.dir)/out/kernel"]).status != 0)
        #expect(!FileManager.default.fileExists(atPath: "\(box.dir)/out/status"))

        // A read-only mount refuses a copy in with Docker's words; reading from it works.
        let refused = try box.kujira(["cp", "\(box.dir)/in.txt", "mounted:/ro/"])
        #expect(refused.status != 0 && refused.stderr.contains("mounted volume is marked read-only"), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: "\(box.dir)/ro/in.txt"))
        try box.mustRun(["cp", "mounted:/ro/kept", "\(box.dir)/out/kept"])
        #expect(read("\(box.dir)/out/kept") == "read only\n")
        try box.mustRun(["rm", "-f", "mounted"])
        try box.mustRun(["volume", "rm", "copyvol"])
    }

    @Test func stoppedContainerReachesVolumesAndBindsFromItsRecord() throws {
        let box = try Sandbox()
        try Self.prepare(box)
        try box.mustRun(["run", "--name", "stopped"] + Self.mounts(box) + [Sandbox.image, "sh", "-c",
                         "echo v > /vol/made; echo b > /srv/bind/made; echo t > /scratch/made"])
        let volume = try Self.volumeSource(box, "copyvol")

        for target in ["/vol", "/srv/bind"] {
            try box.mustRun(["cp", "\(box.dir)/in.txt", "stopped:\(target)/"])
        }
        #expect(read("\(volume)/in.txt") == "from host\n")
        #expect(read("\(box.dir)/bind/in.txt") == "from host\n")
        for (target, content) in [("/vol", "v\n"), ("/srv/bind", "b\n")] {
            let local = "\(box.dir)/out/\(target.split(separator: "/").last ?? "x")"
            try box.mustRun(["cp", "stopped:\(target)/made", local])
            #expect(read(local) == content, "\(target)")
        }
        // The tmpfs went with the run: what was written there is gone, as in Docker.
        #expect(try box.kujira(["cp", "stopped:/scratch/made", "\(box.dir)/out/scratch"]).status != 0)
        let refused = try box.kujira(["cp", "\(box.dir)/in.txt", "stopped:/ro/"])
        #expect(refused.status != 0 && refused.stderr.contains("mounted volume is marked read-only"), "\(refused.stderr)")

        // The next run sees what was copied into its mounts while it was stopped.
        #expect(try box.mustRun(["run", "--rm", "--network", "none", "-v", "copyvol:/vol", Sandbox.image, "cat", "/vol/in.txt"]).stdout
                == "from host\n")
        try box.mustRun(["rm", "-f", "stopped"])
        try box.mustRun(["volume", "rm", "copyvol"])
    }

    @Test func stoppedContainerCopiesOfAParentDirectoryGoThroughItsMounts() throws {
        let box = try Sandbox()
        try Self.prepare(box)
        let fm = FileManager.default
        try box.mustRun(["run", "--name", "parent", "--network", "none", "-v", "nestedvol:/srv/app/data", "-v", "\(box.dir)/ro:/srv/app/ro:ro",
                         Sandbox.image, "sh", "-c", "echo top > /srv/app/top; echo inner > /srv/app/data/inner"])
        // Out: the directory, with the volume's and the bind's content under it.
        try box.mustRun(["cp", "parent:/srv/app", "\(box.dir)/out/app"])
        #expect(read("\(box.dir)/out/app/top") == "top\n")
        #expect(read("\(box.dir)/out/app/data/inner") == "inner\n")
        #expect(read("\(box.dir)/out/app/ro/kept") == "read only\n")
        // In: entries under the volume's mount point land in the volume.
        try fm.createDirectory(atPath: "\(box.dir)/tree/data", withIntermediateDirectories: true)
        try "new\n".write(toFile: "\(box.dir)/tree/data/new", atomically: false, encoding: .utf8)
        try "plain\n".write(toFile: "\(box.dir)/tree/plain", atomically: false, encoding: .utf8)
        try box.mustRun(["cp", "\(box.dir)/tree/.", "parent:/srv/app"])
        #expect(read("\(try Self.volumeSource(box, "nestedvol"))/new") == "new\n")
        #expect(try box.mustRun(["run", "--rm", "--network", "none", "-v", "nestedvol:/v", Sandbox.image, "cat", "/v/new"]).stdout == "new\n")
        try box.mustRun(["cp", "parent:/srv/app/plain", "\(box.dir)/out/plain"])
        #expect(read("\(box.dir)/out/plain") == "plain\n")
        // An entry under the read-only bind is refused, and nothing reaches the bind.
        try fm.createDirectory(atPath: "\(box.dir)/tree2/ro", withIntermediateDirectories: true)
        try "x\n".write(toFile: "\(box.dir)/tree2/ro/x", atomically: false, encoding: .utf8)
        let refused = try box.kujira(["cp", "\(box.dir)/tree2/.", "parent:/srv/app"])
        #expect(refused.status != 0 && refused.stderr.contains("mounted volume is marked read-only"), "\(refused.stderr)")
        #expect(!fm.fileExists(atPath: "\(box.dir)/ro/x"))
        try box.mustRun(["rm", "-f", "parent"])
        try box.mustRun(["volume", "rm", "nestedvol"])
    }

    /// Symlinks in a mount resolve inside the container: never to the mount source's parent
    /// or to the host's files, whether the container runs or not.
    @Test(arguments: [true, false])
    func symlinksInMountsStayInTheContainer(running: Bool) throws {
        let box = try Sandbox()
        try Self.prepare(box)
        let fm = FileManager.default
        // Planted on the host side of the bind: a relative link climbing out of it, and an
        // absolute one naming /etc.
        try fm.createSymbolicLink(atPath: "\(box.dir)/bind/up", withDestinationPath: "../../../../../..")
        try fm.createSymbolicLink(atPath: "\(box.dir)/bind/etc", withDestinationPath: "/etc")
        let script = "ln -s /srv/bind /bindlink; ln -s ../.. /vol/up; touch /tmp/ready"
        if running {
            try box.mustRun(["run", "-d", "--name", "links"] + Self.mounts(box) + [Sandbox.image, "sh", "-c", script + "; sleep 100"])
            #expect(box.eventually(10) { (try? box.kujira(["exec", "links", "test", "-e", "/tmp/ready"]).status) == 0 })
        } else {
            try box.mustRun(["run", "--name", "links"] + Self.mounts(box) + [Sandbox.image, "sh", "-c", script])
        }
        let unique = "kujira-cp-mount-\(UUID().uuidString)"
        try "planted\n".write(toFile: "\(box.dir)/\(unique)", atomically: false, encoding: .utf8)

        // /srv/bind/up is the container's / (.. stops at the root): the file lands in the
        // container's rootfs, not in a parent of the bind source on the host.
        try box.mustRun(["cp", "\(box.dir)/\(unique)", "links:/srv/bind/up/"])
        #expect(!fm.fileExists(atPath: "\(box.dir)/../\(unique)") && !fm.fileExists(atPath: "/\(unique)"))
        try box.mustRun(["cp", "links:/\(unique)", "\(box.dir)/out/back"])
        #expect(read("\(box.dir)/out/back") == "planted\n")
        // /srv/bind/etc is the container's /etc.
        try box.mustRun(["cp", "links:/srv/bind/etc/passwd", "\(box.dir)/out/passwd"])
        #expect(read("\(box.dir)/out/passwd")?.hasPrefix("root:x:0:0:root:/root:/bin/sh\nnobody:") == true)
        try box.mustRun(["cp", "\(box.dir)/\(unique)", "links:/srv/bind/etc/"])
        #expect(!fm.fileExists(atPath: "/etc/\(unique)"))
        // A link in the rootfs leads into the bind; one in the volume back to the container's /.
        try box.mustRun(["cp", "\(box.dir)/in.txt", "links:/bindlink/"])
        #expect(read("\(box.dir)/bind/in.txt") == "from host\n")
        try box.mustRun(["cp", "\(box.dir)/in.txt", "links:/vol/up/tmp/"])
        try box.mustRun(["cp", "links:/tmp/in.txt", "\(box.dir)/out/tmpcopy"])
        #expect(read("\(box.dir)/out/tmpcopy") == "from host\n")
        let volume = try Self.volumeSource(box, "copyvol")
        #expect(!fm.fileExists(atPath: "\(volume)/../../tmp/in.txt"))
        try box.mustRun(["rm", "-f", "links"])
        try box.mustRun(["volume", "rm", "copyvol"])
    }

    @Test func readOnlyRootfsRefusesCopiesIn() throws {
        let box = try Sandbox()
        try Self.prepare(box)
        try box.mustRun(["run", "-d", "--name", "sealed", "--read-only", "--network", "none", "-v", "\(box.dir)/bind:/srv/bind",
                         Sandbox.image, "sleep", "100"])
        let refused = try box.kujira(["cp", "\(box.dir)/in.txt", "sealed:/root/"])
        #expect(refused.status != 0 && refused.stderr.contains("container rootfs is marked read-only"), "\(refused.stderr)")
        // A writable mount of the read-only container takes the copy.
        try box.mustRun(["cp", "\(box.dir)/in.txt", "sealed:/srv/bind/"])
        #expect(read("\(box.dir)/bind/in.txt") == "from host\n")
        try box.mustRun(["rm", "-f", "sealed"])
    }
}
