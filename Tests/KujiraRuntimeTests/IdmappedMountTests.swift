import Foundation
import Glibc
import KujiraOCI
@testable import KujiraRuntime
import Testing

/// How mounts[].uidMappings/gidMappings and the idmap/ridmap options become plan steps.
@Suite("Idmap mount rules")
struct IdmapRuleTests {
    static let layout = CgroupMountLayout(hierarchies: [])
    static let map = [LinuxIDMapping(containerID: 1000, hostID: 0, size: 1)]

    static func step(_ mount: Mount, container: IDMappedMount.Maps? = nil) throws -> InitPlan.MountStep? {
        let steps = try InitPlan.mountSteps(mount, cgroupLayout: layout, cgroupNamespace: false, containerMappings: container)
        guard case .mount(let step) = steps.first else { return nil }
        return step
    }

    @Test func mapsWithoutAnOptionMeanIdmap() throws {
        let step = try Self.step(Mount(destination: "/data", type: "bind", source: "/srv", options: ["rbind"], uidMappings: Self.map, gidMappings: Self.map))
        #expect(step?.idmap == IDMappedMount(uidMap: "1000 0 1\n", gidMap: "1000 0 1\n", recursive: false))
        let recursive = try Self.step(Mount(destination: "/data", type: "bind", source: "/srv", options: ["rbind", "ridmap"], uidMappings: Self.map, gidMappings: Self.map))
        #expect(recursive?.idmap?.recursive == true)
        // A plain mount has no idmap record at all.
        #expect(try Self.step(Mount(destination: "/data", type: "bind", source: "/srv", options: ["rbind"]))?.idmap == nil)
    }

    @Test func idmapWithoutMapsUsesTheContainers() throws {
        let container = IDMappedMount.Maps(uid: [LinuxIDMapping(containerID: 0, hostID: 100000, size: 65536)],
                                           gid: [LinuxIDMapping(containerID: 0, hostID: 200000, size: 65536)])
        let step = try Self.step(Mount(destination: "/data", type: "bind", source: "/srv", options: ["idmap"]), container: container)
        #expect(step?.idmap == IDMappedMount(uidMap: "0 100000 65536\n", gidMap: "0 200000 65536\n", recursive: false))
        #expect(throws: RuntimeError.self) { try Self.step(Mount(destination: "/data", type: "bind", source: "/srv", options: ["idmap"])) }
    }

    @Test func badIdmapMountsAreRefused() throws {
        // Not a bind.
        #expect(throws: RuntimeError.self) {
            try Self.step(Mount(destination: "/data", type: "tmpfs", source: "tmpfs", options: ["idmap"], uidMappings: Self.map, gidMappings: Self.map))
        }
        // Only one of the two maps.
        #expect(throws: RuntimeError.self) { try Self.step(Mount(destination: "/data", type: "bind", source: "/srv", uidMappings: Self.map)) }
        // A zero-sized or overflowing range.
        #expect(throws: RuntimeError.self) {
            try Self.step(Mount(destination: "/data", type: "bind", source: "/srv", uidMappings: [LinuxIDMapping(containerID: 0, hostID: 0, size: 0)], gidMappings: Self.map))
        }
        #expect(throws: RuntimeError.self) {
            try Self.step(Mount(destination: "/data", type: "bind", source: "/srv", uidMappings: [LinuxIDMapping(containerID: UInt32.max, hostID: 0, size: 2)], gidMappings: Self.map))
        }
    }

    @Test func featuresAnnounceIdmapAndTmpcopyup() {
        let features = RuntimeTemplates.features(cgroups: true, seccomp: true)
        #expect(features.linux?.mountExtensions?.idmap?.enabled == true)
        for option in ["idmap", "ridmap", "tmpcopyup"] { #expect(features.mountOptions?.contains(option) == true) }
    }
}

/// Id-mapped binds in real containers (kernel 5.12+; ext4 and, since 6.3, tmpfs support them).
/// runc 1.1 has no id-mapped mounts (it binds without mapping), so there is nothing to compare.
@Suite("Idmapped mounts", .enabled(if: Privilege.shouldRun, Privilege.reason))
struct IdmappedMountTests {
    /// A host directory owned by 1000 with `f` (1000) and `r` (root), and a tmpfs submount
    /// `sub` holding `g` (1000).
    static func source(in box: Sandbox) throws -> String {
        let source = box.directory + "/source"
        let fm = FileManager.default
        try fm.createDirectory(atPath: source + "/sub", withIntermediateDirectories: true)
        let mounted = try runCommand("/bin/mount", ["-t", "tmpfs", "-o", "size=1m,mode=755", "kujira-idmap-test", source + "/sub"])
        try #require(mounted.status == 0, "\(mounted.stderr)")
        for file in ["f", "r", "sub/g"] { #expect(fm.createFile(atPath: source + "/" + file, contents: nil)) }
        for path in ["", "/f", "/sub", "/sub/g"] { chown(source + path, 1000, 1000) }
        return source
    }

    static let owners = "stat -c '%n %u:%g' /data/f /data/r /data/sub/g"

    @Test func hostFilesOfUser1000AreRootsInside() throws {
        let box = try Sandbox(script: Self.owners + "; touch /data/new && stat -c '%n %u:%g' /data/new")
        defer { box.cleanup() }
        let source = try Self.source(in: box)
        defer { _ = try? runCommand("/bin/umount", [source + "/sub"]) }
        let map = [LinuxIDMapping(containerID: 1000, hostID: 0, size: 1)]
        box.spec.mounts = (box.spec.mounts ?? []) + [Mount(destination: "/data", type: "bind", source: source, options: ["rbind", "idmap"],
                                                           uidMappings: map, gidMappings: map)]
        let result = try box.run("i1")
        #expect(result.status == 0, "\(result.stderr)")
        // idmap maps the top mount only: the tmpfs below keeps its owners.
        #expect(result.stdout == "/data/f 0:0\n/data/r 65534:65534\n/data/sub/g 1000:1000\n/data/new 0:0\n")
        // Written by the container's root, owned by 1000 on the host.
        var st = stat()
        #expect(stat(source + "/new", &st) == 0 && st.st_uid == 1000 && st.st_gid == 1000)
    }

    @Test func ridmapMapsEveryMountBelow() throws {
        let box = try Sandbox(script: Self.owners)
        defer { box.cleanup() }
        let source = try Self.source(in: box)
        defer { _ = try? runCommand("/bin/umount", [source + "/sub"]) }
        let map = [LinuxIDMapping(containerID: 1000, hostID: 0, size: 1)]
        box.spec.mounts = (box.spec.mounts ?? []) + [Mount(destination: "/data", type: "bind", source: source, options: ["rbind", "ridmap", "ro"],
                                                           uidMappings: map, gidMappings: map)]
        let result = try box.run("i2")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "/data/f 0:0\n/data/r 65534:65534\n/data/sub/g 0:0\n")
    }

    /// `idmap` without maps of its own, in a container with a user namespace: the container's
    /// maps, so files owned by 0 on disk belong to the container's root.
    @Test func idmapWithTheContainersUserNamespace() throws {
        let box = try Sandbox(script: "stat -c '%n %u:%g' /data/r /data/f; touch /data/made && stat -c '%n %u:%g' /data/made")
        defer { box.cleanup() }
        let source = try Self.source(in: box)
        defer { _ = try? runCommand("/bin/umount", [source + "/sub"]) }
        let base = UInt32(1_500_000_000) + UInt32(getpid() % 1000) * 65536
        let namespaces = box.spec.linux?.namespaces ?? []
        box.spec.linux?.namespaces = namespaces + [LinuxNamespace(type: .user)]
        box.spec.linux?.uidMappings = [LinuxIDMapping(containerID: 0, hostID: base, size: 65536)]
        box.spec.linux?.gidMappings = [LinuxIDMapping(containerID: 0, hostID: base, size: 65536)]
        // On disk 0 is the container's root here: let it write into the source.
        chown(source, 0, 0)
        // The container's root may not create the mount point in the root-owned rootfs.
        try FileManager.default.createDirectory(atPath: box.rootfs + "/data", withIntermediateDirectories: true)
        let mounts = (box.spec.mounts ?? []).filter { $0.type != "cgroup" }
        box.spec.mounts = mounts + [Mount(destination: "/data", type: "bind", source: source, options: ["bind", "idmap"])]
        let result = try box.run("i3")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "/data/r 0:0\n/data/f 1000:1000\n/data/made 0:0\n")
        var st = stat()
        #expect(stat(source + "/made", &st) == 0 && st.st_uid == 0 && st.st_gid == 0)
    }

    @Test func anUnsupportedFilesystemFailsNamingTheMount() throws {
        // procfs does not support id-mapped mounts.
        let box = try Sandbox(script: "true")
        defer { box.cleanup() }
        let map = [LinuxIDMapping(containerID: 0, hostID: 1000, size: 1)]
        box.spec.mounts = (box.spec.mounts ?? []) + [Mount(destination: "/hostproc", type: "bind", source: "/proc/self", options: ["bind"],
                                                           uidMappings: map, gidMappings: map)]
        let result = try box.run("i4")
        #expect(result.status != 0)
        #expect(result.stderr.contains("/hostproc") && result.stderr.contains("id-mapp"), "\(result.stderr)")
    }
}

/// `tmpcopyup`: a tmpfs that starts with the content of the directory it covers.
@Suite("TmpCopyUp", .enabled(if: Privilege.shouldRun, Privilege.reason))
struct TmpCopyUpTests {
    @Test func tmpfsGetsTheImagesContentWithOwnersAndModes() throws {
        let script = "cd /etc/conf && find . | sort && stat -c '%n %u:%g %a' . d d/x l s && readlink l && cat d/x && echo more > new"
        let box = try Sandbox(script: script)
        defer { box.cleanup() }
        let conf = box.rootfs + "/etc/conf"
        let fm = FileManager.default
        try fm.createDirectory(atPath: conf + "/d", withIntermediateDirectories: true)
        try "hello\n".write(toFile: conf + "/d/x", atomically: false, encoding: .utf8)
        try fm.createSymbolicLink(atPath: conf + "/l", withDestinationPath: "d/x")
        #expect(fm.createFile(atPath: conf + "/s", contents: nil))
        // Readable by others: the process has no CAP_DAC_OVERRIDE. (runc 1.1 cannot copy a
        // fifo, so the tree has none; FifoCopyUp below checks ours.)
        chown(conf + "/d", 12, 34); chmod(conf + "/d", 0o715)
        chown(conf + "/d/x", 56, 78); chmod(conf + "/d/x", 0o604)
        chmod(conf + "/s", 0o4755)
        lchown(conf + "/l", 9, 9)
        box.spec.mounts = (box.spec.mounts ?? []) + [Mount(destination: "/etc/conf", type: "tmpfs", source: "tmpfs", options: ["tmpcopyup", "mode=755"])]
        let ours = try box.run("t1")
        #expect(ours.status == 0, "\(ours.stderr)")
        let lines = ours.stdout.split(separator: "\n").map(String.init)
        #expect(Array(lines.prefix(5)) == [".", "./d", "./d/x", "./l", "./s"])
        #expect(Array(lines.dropFirst(5).prefix(5)) == [". 0:0 755", "d 12:34 715", "d/x 56:78 604", "l 9:9 777", "s 0:0 4755"])
        #expect(Array(lines.dropFirst(10).prefix(2)) == ["d/x", "hello"])
        // The write went to the tmpfs, not the image.
        #expect(!fm.fileExists(atPath: conf + "/new"))
        if FileManager.default.isExecutableFile(atPath: RecursiveMountTests.runc) {
            try box.writeSpec()
            let runcRoot = box.directory + "/runc-state"
            let theirs = try runCommand(RecursiveMountTests.runc, ["--root", runcRoot, "run", "--bundle", box.bundle, "t1"])
            _ = try? runCommand(RecursiveMountTests.runc, ["--root", runcRoot, "delete", "--force", "t1"])
            #expect(theirs.status == 0, "\(theirs.stderr)")
            // runc copies content, owners and modes too (its times differ: it does not keep them).
            #expect(Array(theirs.stdout.split(separator: "\n").map(String.init).prefix(12)) == Array(lines.prefix(12)))
        }
    }

    @Test func fifoCopyUp() throws {
        let box = try Sandbox(script: "stat -c '%n %F %a' /run/p")
        defer { box.cleanup() }
        try FileManager.default.createDirectory(atPath: box.rootfs + "/run", withIntermediateDirectories: true)
        #expect(mkfifo(box.rootfs + "/run/p", 0o640) == 0)
        chmod(box.rootfs + "/run/p", 0o640)
        box.spec.mounts = (box.spec.mounts ?? []) + [Mount(destination: "/run", type: "tmpfs", source: "tmpfs", options: ["tmpcopyup"])]
        let result = try box.run("t2")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "/run/p fifo 640\n")
    }

    @Test func tmpcopyupIsOnlyForTmpfs() throws {
        let layout = CgroupMountLayout(hierarchies: [])
        #expect(throws: RuntimeError.self) {
            try InitPlan.mountSteps(Mount(destination: "/x", type: "bind", source: "/srv", options: ["bind", "tmpcopyup"]), cgroupLayout: layout, cgroupNamespace: false)
        }
        let steps = try InitPlan.mountSteps(Mount(destination: "/x", type: "tmpfs", source: "tmpfs", options: ["tmpcopyup", "size=1m"]), cgroupLayout: layout, cgroupNamespace: false)
        guard case .mount(let step) = steps.first else { Issue.record("no mount step"); return }
        #expect(step.tmpCopyUp && step.data == "size=1m")
    }
}
