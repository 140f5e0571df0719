import Foundation
import KujiraOCI
@testable import KujiraRuntime
import Testing

/// Unit tests of the Swift half: spec → plan, mount options, the plan encoding. No root needed.
struct PlanTests {
    static let layout = CgroupMountLayout(hierarchies: [.init(mountPoint: "/sys/fs/cgroup/cpu,cpuacct", directory: "/sys/fs/cgroup/cpu,cpuacct/c1")])

    static func plan(_ configure: (inout Spec) -> Void = { _ in }) throws -> InitPlan {
        var spec = RuntimeTemplates.spec()
        spec.process?.terminal = false
        configure(&spec)
        return try InitPlan.forContainer(spec: spec, rootfs: "/r", options: CreateOptions(), cgroupLayout: layout, seccomp: nil)
    }

    @Test func mountOptionsSplitLikeRunc() throws {
        let options = try MountOptions(["nosuid", "ro", "rw", "rbind", "rslave", "mode=755", "size=1m", "noexec"], destination: "/x")
        #expect(options.flags == MountFlag.nosuid | MountFlag.bind | MountFlag.rec | MountFlag.noexec)
        #expect(options.propagation == MountFlag.slave | MountFlag.rec)
        #expect(options.data == ["mode=755", "size=1m"])
        // idmap, ridmap and tmpcopyup are options of the runtime, never mount data.
        let extensions = try MountOptions(["rbind", "ridmap", "tmpcopyup"], destination: "/x")
        #expect(extensions.idmap == .recursive && extensions.tmpCopyUp && extensions.data.isEmpty)
    }

    @Test func defaultSpecPlan() throws {
        let plan = try Self.plan()
        let expectedFlags: UInt64 = 0x2000_0000 | 0x4000_0000 | 0x0800_0000 | 0x0400_0000 | 0x0002_0000
        #expect(plan.cloneFlags == expectedFlags)
        #expect(plan.args == ["sh"])
        #expect(plan.rootReadonly)
        let bounding: UInt64 = (1 << 29) | (1 << 5) | (1 << 10)
        #expect(plan.capabilities?.bounding == bounding)
        #expect(plan.rlimits == [InitPlan.Rlimit(resource: 7, soft: 1024, hard: 1024)])
        // Order: mounts, devices, /dev links, the cwd, read-only paths, masked paths.
        guard case .mount(let first) = plan.operations.first else { Issue.record("no mount first"); return }
        #expect(first.destination == "/proc" && first.type == "proc")
        let kinds = plan.operations.map { op -> String in
            switch op {
            case .mount: "m"
            case .device: "d"
            case .symlink: "s"
            case .mask: "k"
            case .readonly: "r"
            case .makeDirectory: "c"
            case .hooks: "h"
            }
        }.joined()
        #expect(kinds.range(of: "^[ms]+d+s+cr+k+$", options: String.CompareOptions.regularExpression) != nil, "\(kinds)")
        // The cgroup mount became a tmpfs, a bind per hierarchy and links for co-mounted ones.
        let link = InitPlan.Operation.symlink(path: "/sys/fs/cgroup/cpu", target: "cpu,cpuacct")
        #expect(plan.operations.contains(link))
    }

    @Test func invalidConfigsAreRefusedWithReasons() throws {
        // An unknown capability is a warning (runtime-spec: "MUST be logged as a warning").
        let unknown = try Self.plan { $0.process?.capabilities?.bounding = ["CAP_NOPE", "CAP_KILL"] }
        #expect(unknown.warnings == ["unknown capability \"CAP_NOPE\" in process.capabilities.bounding ignored"])
        #expect(unknown.capabilities?.bounding == 1 << 5)
        // A sysctl no namespace of the container isolates would change the host.
        #expect(throws: RuntimeError.self) { try Self.plan { $0.linux?.sysctl = ["vm.swappiness": "10"] } }
        #expect(throws: RuntimeError.self) {
            try Self.plan {
                $0.linux?.sysctl = ["net.ipv4.ip_forward": "1"]
                $0.linux?.namespaces?.removeAll { $0.type.rawValue == "network" }
            }
        }
        #expect(throws: RuntimeError.self) {
            try Self.plan {
                $0.linux?.sysctl = ["kernel.shmmni": "100"]
                $0.linux?.namespaces?.removeAll { $0.type.rawValue == "ipc" }
            }
        }
        #expect(try Self.plan { $0.linux?.sysctl = ["kernel.shmmni": "100", "net.core.somaxconn": "300", "fs.mqueue.msg_max": "20"] }.sysctls.count == 3)
        #expect(throws: RuntimeError.self) { try Self.plan { $0.process?.args = [] } }
        #expect(throws: RuntimeError.self) { try Self.plan { $0.process?.cwd = "relative" } }
        #expect(throws: RuntimeError.self) { try Self.plan { $0.linux?.namespaces?.append(LinuxNamespace(type: .user)) } }
        #expect(throws: RuntimeError.self) { try Self.plan { $0.process?.terminal = true } }
        // SELinux and AppArmor: refused, not silently ignored.
        #expect(throws: RuntimeError.self) { try Self.plan { $0.linux?.mountLabel = "system_u:object_r:container_file_t:s0" } }
        #expect(throws: RuntimeError.self) { try Self.plan { $0.process?.selinuxLabel = "system_u:system_r:container_t:s0" } }
        #expect(throws: RuntimeError.self) { try Self.plan { $0.process?.apparmorProfile = "docker-default" } }
        do {
            _ = try Self.plan { $0.linux?.seccomp = LinuxSeccomp(defaultAction: "SCMP_ACT_ALLOW") }
            Issue.record("seccomp without a compiler was accepted")
        } catch let error as RuntimeError {
            #expect(error.code == .unsupported)
        }
    }

    @Test func seccompCompilerPlugsIn() throws {
        var spec = RuntimeTemplates.spec()
        spec.process?.terminal = false
        spec.linux?.seccomp = LinuxSeccomp(defaultAction: "SCMP_ACT_ALLOW")
        let program = SeccompProgram(bpf: [6, 0, 0, 0, 0, 0, 0xff, 0x7f], flags: 0, needsListener: false)  // BPF_RET | K, SECCOMP_RET_ALLOW
        let plan = try InitPlan.forContainer(spec: spec, rootfs: "/r", options: CreateOptions(), cgroupLayout: Self.layout,
                                             seccomp: { _, _ in program })
        #expect(plan.seccomp == program)
    }

    @Test(arguments: ["", ".", "..", "a/b", "a b", "x\u{0}"]) func invalidContainerIDs(id: String) {
        #expect(throws: RuntimeError.self) { try StateDirectory.validate(id) }
    }

    @Test func planEncodingIsTaggedRecords() throws {
        var plan = InitPlan()
        plan.args = ["sh"]
        plan.hostname = "h"
        let bytes = plan.encoded()
        // First record: KJ_T_MODE (1), 8 bytes, value 1.
        #expect(Array(bytes[0..<16]) == [1, 0, 0, 0, 8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0])
        // The hostname record ends with its NUL.
        let hostname: [UInt8] = [9, 0, 0, 0, 2, 0, 0, 0, UInt8(ascii: "h"), 0]
        #expect(bytes.indices.contains { Array(bytes[$0..<min($0 + 10, bytes.count)]) == hostname })
    }

    @Test func paths() {
        #expect(cleanAbsolutePath("/a/./b/../../../c//d/") == "/c/d")
        #expect(unescapeMountinfo("/a\\040b") == "/a b")
    }

    /// kujira-init is compiled with -Wall -Wextra -Werror here, since SwiftPM passes no such flags.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/cc"), "needs a C compiler"))
    func initCompilesWithoutWarnings() throws {
        let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Sources/kujira-init").path
        let files = try FileManager.default.contentsOfDirectory(atPath: sources).filter { $0.hasSuffix(".c") }.map { sources + "/" + $0 }
        let result = try runCommand("/usr/bin/cc", ["-Wall", "-Wextra", "-Werror", "-fsyntax-only"] + files)
        #expect(result.status == 0, "\(result.stderr)")
    }
}
