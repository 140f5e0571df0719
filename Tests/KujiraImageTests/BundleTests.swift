import Foundation
import Glibc
import KujiraArchive
import KujiraOCI
import Testing
@testable import KujiraImage

/// A layer with users and groups, and a config that uses them.
func userLayer() throws -> TestLayer {
    try TestLayer([
        .dir("etc/"),
        .file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\napp:x:1001:1002:App:/home/app:/bin/sh\n"),
        .file("etc/group", "root:x:0:\nstaff:x:50:app\nappg:x:1002:\nother:x:77:root,app\n"),
        .dir("home/app/"), .dir("bin/"), .file("bin/sh", "#!\n", mode: 0o755),
    ])
}

func userConfig(user: String) -> ImageConfig {
    var config = ImageConfig()
    config.user = user
    config.env = ["PATH=/bin", "FOO=bar"]
    config.entrypoint = ["/bin/sh", "-c"]
    config.cmd = ["echo hi"]
    config.workingDir = "/home/app"
    config.labels = ["org.example.team": "whales"]
    config.exposedPorts = ["80/tcp", "53/udp"]
    config.stopSignal = "SIGTERM"
    return config
}

@Suite("Bundle")
struct BundleTests {
    @Test("config.json matches umoci's for args, env, cwd, user and annotations; defaults are Docker's",
          .enabled(if: privileged && umociAvailable, "needs root and umoci"),
          arguments: ["app", "app:staff", "", "1001:50", "4242"])
    func matchesUmoci(user: String) throws {
        let dir = try TemporaryDirectory("kj-bundle")
        defer { dir.remove() }
        let layout = try TestLayout(directory: "\(dir.path)/layout", layers: [try userLayer()], config: userConfig(user: user))
        let store = try ImageStore(root: "\(dir.path)/store")
        try layout.importInto(store, name: "app")
        let spec = try store.unpackBundle("app", to: "\(dir.path)/kujira")
        try umociUnpack(layout: layout.directory, tag: layout.tag, bundle: "\(dir.path)/umoci")

        let written = try JSONDecoder().decode(Spec.self, from: Data(try FileSystem.readFile("\(dir.path)/kujira/config.json")))
        #expect(written == spec)
        let theirs = try JSONDecoder().decode(Spec.self, from: Data(try FileSystem.readFile("\(dir.path)/umoci/config.json")))
        let ours = try #require(spec.process), umoci = try #require(theirs.process)
        #expect(ours.args == umoci.args)
        #expect(ours.cwd == umoci.cwd)
        // umoci leaves the primary gid out of additionalGids; Kujira puts it first, as
        // containerd and Docker do since CVE-2023-25173.
        #expect(ours.user.uid == umoci.user.uid && ours.user.gid == umoci.user.gid)
        #expect(ours.user.additionalGids == [umoci.user.gid] + (umoci.user.additionalGids ?? []).filter { $0 != umoci.user.gid })
        #expect(ours.env == umoci.env?.filter { $0 != "TERM=xterm" })
        #expect(spec.annotations == theirs.annotations)
        #expect(spec.root?.path == "rootfs")
        // Docker's defaults where the brief asks for them.
        #expect(ours.terminal == false && ours.noNewPrivileges == false)
        #expect(ours.capabilities?.bounding?.count == 14)
        #expect(spec.linux?.namespaces?.map(\.type.rawValue) == ["pid", "network", "ipc", "uts", "mount"])
        #expect(spec.mounts?.map(\.destination).prefix(6) == ["/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys"])
        #expect(ours.rlimits == [POSIXRlimit(type: "RLIMIT_NOFILE", hard: 1024, soft: 1024)])
    }

    @Test("user forms resolve as runc resolves them", arguments: [
        // The primary gid leads the supplementary groups (containerd and Docker since CVE-2023-25173).
        ("", 0, 0, [0, 77], "/root"), ("app", 1001, 1002, [1002, 50, 77], "/home/app"), ("1001", 1001, 1002, [1002, 50, 77], "/home/app"),
        ("app:staff", 1001, 50, [50], "/home/app"), ("app:77", 1001, 77, [77], "/home/app"), ("1001:50", 1001, 50, [50], "/home/app"),
        ("4242", 4242, 0, [0], nil), ("4242:4343", 4242, 4343, [4343], nil),
    ] as [(String, UInt32, UInt32, [UInt32], String?)])
    func userForms(spec: String, uid: UInt32, gid: UInt32, groups: [UInt32], home: String?) throws {
        let box = try Sandbox()
        defer { box.remove() }
        try unpack(try userLayer(), into: box.root)
        let user = try BundleSpec.resolveUser(spec, rootfs: box.root)
        #expect(user == BundleSpec.ResolvedUser(uid: uid, gid: gid, additionalGids: groups, home: home))
    }

    @Test func unknownNamesAreErrors() throws {
        let box = try Sandbox()
        defer { box.remove() }
        try unpack(try userLayer(), into: box.root)
        #expect(throws: ImageStoreError.self) { try BundleSpec.resolveUser("ghost", rootfs: box.root) }
        #expect(throws: ImageStoreError.self) { try BundleSpec.resolveUser("app:ghosts", rootfs: box.root) }
    }

    @Test("/etc/passwd is read inside the rootfs, even through an absolute symlink")
    func passwdIsConfined() throws {
        let box = try Sandbox()
        defer { box.remove() }
        try writeFile("\(box.outside)/passwd", Array("evil:x:0:0::/evil:/bin/sh\n".utf8))
        try unpack(try TestLayer([.dir("etc/"), .symlink("etc/passwd", to: "\(box.outside)/passwd")]), into: box.root)
        #expect(throws: ImageStoreError.self) { try BundleSpec.resolveUser("evil", rootfs: box.root) }
    }

    @Test("a failed unpack leaves no bundle; a non-empty directory is refused")
    func failuresLeaveNothing() throws {
        let dir = try TemporaryDirectory("kj-bundle")
        defer { dir.remove() }
        var layer = try userLayer()
        layer.diffID = Digest.sha256(of: Array("wrong".utf8))
        let layout = try TestLayout(directory: "\(dir.path)/layout", layers: [layer])
        let store = try ImageStore(root: "\(dir.path)/store")
        try layout.importInto(store, name: "bad")
        #expect { try store.unpackBundle("bad", to: "\(dir.path)/bundle") } throws: { ($0 as? LayerError)?.code == .diffIDMismatch }
        #expect(!FileSystem.exists("\(dir.path)/bundle"))

        mkdir("\(dir.path)/full", 0o755)
        try writeFile("\(dir.path)/full/x", [])
        #expect { try store.unpackBundle("bad", to: "\(dir.path)/full") } throws: { ($0 as? ImageStoreError)?.code == .invalidArgument }
    }
}
