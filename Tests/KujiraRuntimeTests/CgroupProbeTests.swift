import Testing
@testable import KujiraRuntime

/// Probing and path resolution against the /proc tables of hosts this machine is not.
@Suite struct CgroupProbeTests {
    static let procCgroups = """
        #subsys_name\thierarchy\tnum_cgroups\tenabled
        cpuset\t3\t1\t1
        cpu\t1\t1\t1
        cpuacct\t2\t1\t1
        blkio\t7\t1\t1
        memory\t4\t72\t1
        devices\t5\t1\t1
        freezer\t6\t1\t1
        net_cls\t0\t1\t1
        hugetlb\t0\t1\t1
        pids\t8\t1\t1
        rdma\t0\t1\t0

        """

    /// This machine's table: v1 controllers plus an empty cgroup2 at /sys/fs/cgroup/unified.
    static let hybridMountinfo = """
        31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
        32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
        33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
        34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
        35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
        36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
        37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
        38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
        39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
        40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
        41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw

        """

    static let hybridSelf = """
        9:name=systemd:/
        8:pids:/
        7:blkio:/
        6:freezer:/
        5:devices:/
        4:memory:/process_api/abc
        3:cpuset:/
        2:cpuacct:/
        1:cpu:/
        0::/

        """

    /// A classic v1 host with cpu and cpuacct co-mounted and an optional field in mountinfo.
    static let legacyMountinfo = """
        25 18 0:22 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
        27 25 0:24 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:8 - cgroup cgroup rw,cpu,cpuacct
        28 25 0:25 / /sys/fs/cgroup/memory rw,nosuid shared:9 - cgroup cgroup rw,memory
        29 25 0:26 / /sys/fs/cgroup/pids rw,nosuid shared:10 - cgroup cgroup rw,pids

        """

    /// A pure v2 host (Debian 12 default).
    static let unifiedMountinfo = """
        24 18 0:21 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot

        """

    @Test func hybridHostIsHybrid() throws {
        let layout = try CgroupLayout.probe(mountinfo: Self.hybridMountinfo, procCgroups: Self.procCgroups)
        #expect(layout.mode == .hybrid)
        #expect(layout.unified?.mountPoint == "/sys/fs/cgroup/unified")
        #expect(layout.v1["memory"]?.mountPoint == "/sys/fs/cgroup/memory")
        #expect(layout.v1["name=systemd"]?.mountPoint == "/sys/fs/cgroup/systemd")
        #expect(layout.v1["hugetlb"] == nil)
        #expect(layout.enabledControllers.contains("hugetlb"))
        #expect(!layout.enabledControllers.contains("rdma"))
    }

    @Test func legacyHostWithCoMountedControllers() throws {
        let layout = try CgroupLayout.probe(mountinfo: Self.legacyMountinfo, procCgroups: Self.procCgroups)
        #expect(layout.mode == .legacy)
        #expect(layout.unified == nil)
        #expect(layout.v1["cpu"]?.mountPoint == "/sys/fs/cgroup/cpu,cpuacct")
        #expect(layout.v1["cpuacct"] == layout.v1["cpu"])
        #expect(layout.v1["rw"] == nil)
    }

    @Test func unifiedHost() throws {
        let layout = try CgroupLayout.probe(mountinfo: Self.unifiedMountinfo, procCgroups: "#subsys_name\thierarchy\tnum_cgroups\tenabled\n")
        #expect(layout.mode == .unified)
        #expect(layout.unified?.mountPoint == "/sys/fs/cgroup")
        #expect(layout.v1.isEmpty)
    }

    @Test func noCgroupsIsAnError() {
        #expect(throws: CgroupError.self) {
            try CgroupLayout.probe(mountinfo: "22 1 0:5 / /proc rw - proc proc rw\n", procCgroups: "")
        }
    }

    @Test func mountinfoEscapesAreDecoded() throws {
        let text = "41 31 0:38 / /mnt/my\\040cgroup rw - cgroup2 cgroup2 rw\n"
        let layout = try CgroupLayout.probe(mountinfo: text, procCgroups: "")
        #expect(layout.unified?.mountPoint == "/mnt/my cgroup")
    }

    @Test func membershipParsesV1AndV2Lines() {
        let own = CgroupMembership.parse("2:cpu,cpuacct:/a\n1:name=systemd:/user.slice\n0::/user.slice/x.scope\n")
        #expect(own.paths["cpu"] == "/a")
        #expect(own.paths["cpuacct"] == "/a")
        #expect(own.paths["name=systemd"] == "/user.slice")
        #expect(own.paths[""] == "/user.slice/x.scope")
    }

    /// runc 1.1.5 on this machine put `cgroupsPath` absent at `<mount>/<own cgroup>/<id>`
    /// (memory under /process_api/…, the others under /), and into the unified tree too.
    @Test func hybridDefaultPathIsRelativeToOwnCgroupLikeRunc() throws {
        let system = CgroupSystem(mountinfo: Self.hybridMountinfo, procCgroups: Self.procCgroups, selfCgroup: Self.hybridSelf)
        let manager = try CgroupManagerFactory.make(cgroupsPath: nil, containerID: "c1", system: system)
        let dirs = manager.directories
        #expect(manager is CgroupV1Manager)
        #expect(manager.path == "c1")
        #expect(dirs["memory"] == "/sys/fs/cgroup/memory/process_api/abc/c1")
        #expect(dirs["pids"] == "/sys/fs/cgroup/pids/c1")
        #expect(dirs["name=systemd"] == "/sys/fs/cgroup/systemd/c1")
        #expect(dirs[""] == "/sys/fs/cgroup/unified/c1")
        #expect(dirs["hugetlb"] == nil)
    }

    @Test func hybridAbsolutePathIgnoresOwnCgroup() throws {
        let system = CgroupSystem(mountinfo: Self.hybridMountinfo, procCgroups: Self.procCgroups, selfCgroup: Self.hybridSelf)
        let manager = try CgroupManagerFactory.make(cgroupsPath: "/kujira/c1", containerID: "c1", system: system)
        #expect(manager.directories["memory"] == "/sys/fs/cgroup/memory/kujira/c1")
        #expect(manager.directories[""] == "/sys/fs/cgroup/unified/kujira/c1")
    }

    @Test func relativePathCannotClimbOut() throws {
        let system = CgroupSystem(mountinfo: Self.hybridMountinfo, procCgroups: Self.procCgroups, selfCgroup: Self.hybridSelf)
        let manager = try CgroupManagerFactory.make(cgroupsPath: "../../x/./y", containerID: "c1", system: system)
        #expect(manager.directories["memory"] == "/sys/fs/cgroup/memory/process_api/abc/x/y")
        #expect(throws: CgroupError.self) {
            try CgroupManagerFactory.make(cgroupsPath: "/..", containerID: "c1", system: system)
        }
    }

    @Test func legacyCoMountedControllersShareADirectory() throws {
        let system = CgroupSystem(mountinfo: Self.legacyMountinfo, procCgroups: Self.procCgroups, selfCgroup: "0::/\n")
        let manager = try #require(
            try CgroupManagerFactory.make(cgroupsPath: "/k/c", containerID: "c", system: system) as? CgroupV1Manager)
        #expect(manager.unifiedDirectory == nil)
        #expect(manager.directories["cpu"] == "/sys/fs/cgroup/cpu,cpuacct/k/c")
        #expect(manager.distinctDirectories.count == 3)
    }

    /// runc's fs2: relative paths go under the parent of the runtime's own cgroup.
    @Test func unifiedRelativePathUsesParentOfOwnCgroup() throws {
        let system = CgroupSystem(
            mountinfo: Self.unifiedMountinfo, procCgroups: "", selfCgroup: "0::/user.slice/session-1.scope\n")
        let relative = try CgroupManagerFactory.make(cgroupsPath: nil, containerID: "c1", system: system)
        #expect(relative is CgroupV2Manager)
        #expect(relative.directories[""] == "/sys/fs/cgroup/user.slice/c1")
        let absolute = try CgroupManagerFactory.make(cgroupsPath: "/kujira/c1", containerID: "c1", system: system)
        #expect(absolute.directories[""] == "/sys/fs/cgroup/kujira/c1")
    }

    /// Inside a cgroup namespace the mount root is a sub-cgroup; own paths are made relative.
    @Test func mountRootIsStrippedFromOwnPath() {
        let mount = CgroupMount(mountPoint: "/sys/fs/cgroup/memory", root: "/docker/abc")
        #expect(CgroupManagerFactory.ownPath("/docker/abc/sub", mount: mount) == "/sub")
        #expect(CgroupManagerFactory.ownPath("/docker/abc", mount: mount) == "/")
        #expect(CgroupManagerFactory.ownPath("/other", mount: mount) == "/other")
    }

    @Test func restoreRebuildsV1ManagerFromRecordedDirectories() throws {
        let manager = try CgroupManagerFactory.restore(
            path: "/k/c", directories: ["memory": "/sys/fs/cgroup/memory/k/c", "": "/sys/fs/cgroup/unified/k/c"])
        let v1 = try #require(manager as? CgroupV1Manager)
        #expect(v1.unifiedDirectory == "/sys/fs/cgroup/unified/k/c")
        #expect(throws: CgroupError.self) {
            try CgroupManagerFactory.restore(path: "x", directories: ["memory": "/sys/fs/cgroup/memory/../../etc"])
        }
    }
}
