import Foundation
import KujiraOCI
import Testing
@testable import KujiraRuntime

/// Docker's default profile: its shape per capability set and architecture, and its effect
/// in a real process.
struct DefaultProfileTests {
    static let docker = Set(DefaultCapabilities.dockerNames)

    static func rules(_ profile: LinuxSeccomp, for name: String) -> [LinuxSyscall] {
        (profile.syscalls ?? []).filter { $0.names.contains(name) }
    }

    static func allows(_ profile: LinuxSeccomp, _ name: String) -> Bool {
        rules(profile, for: name).contains { $0.action == "SCMP_ACT_ALLOW" && ($0.args ?? []).isEmpty }
    }

    @Test func dockerDefaultsOnX86_64() {
        let profile = DefaultSeccompProfile.profile(
            capabilities: Self.docker, hostArchitecture: "SCMP_ARCH_X86_64", kernel: KernelVersion(major: 6, minor: 1)
        )
        #expect(profile.defaultAction == "SCMP_ACT_ERRNO")
        #expect(profile.defaultErrnoRet == 1)
        #expect(profile.architectures == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"])
        for name in ["read", "write", "execve", "openat", "clock_gettime", "io_uring_setup", "arch_prctl", "modify_ldt",
            "chroot", "ptrace"] {
            #expect(Self.allows(profile, name), "\(name) should be allowed")
        }
        for name in ["mount", "unshare", "setns", "keyctl", "add_key", "bpf", "reboot", "init_module", "cacheflush",
            "open_by_handle_at", "perf_event_open", "clone3", "kcmp", "pidfd_getfd"] {
            #expect(!Self.allows(profile, name), "\(name) should not be allowed")
        }
        // clone only without namespace flags; clone3 answers ENOSYS so libc falls back to clone.
        let clone = Self.rules(profile, for: "clone")
        #expect(clone.count == 1)
        #expect(clone.first?.args == [LinuxSeccompArg(index: 0, value: 0x7E02_0000, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ")])
        #expect(Self.rules(profile, for: "clone3").first?.errnoRet == 38)
        #expect(Self.rules(profile, for: "clone3").first?.action == "SCMP_ACT_ERRNO")
        // personality: five allowed values; socket: anything but AF_VSOCK.
        #expect(Set(Self.rules(profile, for: "personality").compactMap { $0.args?.first?.value }) == [0, 8, 0x20000, 0x20008, 0xffff_ffff])
        #expect(Self.rules(profile, for: "socket").first?.args == [LinuxSeccompArg(index: 0, value: 40, op: "SCMP_CMP_NE")])
    }

    @Test func sysAdminOpensNamespaceSyscalls() {
        let profile = DefaultSeccompProfile.profile(
            capabilities: Self.docker.union(["sys_admin"]), hostArchitecture: "SCMP_ARCH_X86_64", kernel: nil
        )
        for name in ["mount", "umount2", "unshare", "setns", "clone", "clone3", "sethostname", "bpf", "fsopen"] {
            #expect(Self.allows(profile, name), "\(name) should be allowed with CAP_SYS_ADMIN")
        }
        #expect(!Self.rules(profile, for: "clone").contains { $0.args != nil })
        #expect(!Self.rules(profile, for: "clone3").contains { $0.action == "SCMP_ACT_ERRNO" })
    }

    @Test(arguments: [
        ("CAP_SYS_PTRACE", ["kcmp", "pidfd_getfd", "process_madvise"]),
        ("CAP_SYS_MODULE", ["init_module", "finit_module", "delete_module"]),
        ("CAP_SYS_TIME", ["settimeofday", "clock_settime"]),
        ("CAP_SYS_BOOT", ["reboot"]),
        ("CAP_SYS_NICE", ["mbind", "set_mempolicy"]),
        ("CAP_DAC_READ_SEARCH", ["open_by_handle_at"]),
        ("CAP_BPF", ["bpf"]),
        ("CAP_PERFMON", ["perf_event_open"]),
        ("CAP_SYSLOG", ["syslog"]),
        ("CAP_SYS_RAWIO", ["iopl", "ioperm"]),
        ("CAP_SYS_PACCT", ["acct"]),
        ("CAP_SYS_TTY_CONFIG", ["vhangup"]),
    ])
    func capabilityConditionalRules(capability: String, syscalls: [String]) {
        let without = DefaultSeccompProfile.profile(capabilities: Self.docker, hostArchitecture: "SCMP_ARCH_X86_64", kernel: nil)
        let with = DefaultSeccompProfile.profile(
            capabilities: Self.docker.union([capability]), hostArchitecture: "SCMP_ARCH_X86_64", kernel: nil
        )
        for name in syscalls {
            #expect(!Self.allows(without, name), "\(name) without \(capability)")
            #expect(Self.allows(with, name), "\(name) with \(capability)")
        }
    }

    @Test func otherArchitecturesGetTheirOwnRules() {
        let arm = DefaultSeccompProfile.profile(capabilities: Self.docker, hostArchitecture: "SCMP_ARCH_AARCH64", kernel: nil)
        #expect(arm.architectures == ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"])
        #expect(Self.allows(arm, "cacheflush"))
        #expect(!Self.allows(arm, "arch_prctl"))

        let s390 = DefaultSeccompProfile.profile(capabilities: Self.docker, hostArchitecture: "SCMP_ARCH_S390X", kernel: nil)
        #expect(s390.architectures == ["SCMP_ARCH_S390X", "SCMP_ARCH_S390"])
        #expect(Self.rules(s390, for: "clone").first?.args?.first?.index == 1, "s390 passes clone flags second")
        #expect(Self.allows(s390, "s390_runtime_instr"))
    }

    @Test func ptraceNeedsLinux4_8() {
        let old = DefaultSeccompProfile.profile(
            capabilities: Self.docker, hostArchitecture: "SCMP_ARCH_X86_64", kernel: KernelVersion(major: 4, minor: 4)
        )
        #expect(!Self.allows(old, "ptrace"))
        let new = DefaultSeccompProfile.profile(
            capabilities: Self.docker, hostArchitecture: "SCMP_ARCH_X86_64", kernel: KernelVersion(major: 4, minor: 8)
        )
        #expect(Self.allows(new, "ptrace"))
    }

    @Test func kernelVersionParses() {
        #expect(KernelVersion(release: "6.1.0-18-amd64") == KernelVersion(major: 6, minor: 1))
        #expect(KernelVersion(release: "4.8") == KernelVersion(major: 4, minor: 8))
        #expect(KernelVersion(release: "5.10rc1") == KernelVersion(major: 5, minor: 10))
        #expect(KernelVersion(release: "linux") == nil)
        #expect(KernelVersion.running != nil)
        #expect(KernelVersion(major: 4, minor: 19) > KernelVersion(major: 4, minor: 8))
    }

    @Test func compilesForThisHost() throws {
        for caps in [Self.docker, Self.docker.union(["CAP_SYS_ADMIN", "CAP_SYS_PTRACE"])] {
            let profile = DefaultSeccompProfile.profile(capabilities: caps)
            let program = try SeccompCompiler.compile(profile, noNewPrivileges: false)
            #expect(program.bpf.count % 8 == 0)
            #expect(program.instructionCount > 100)
            #expect(program.instructionCount <= SeccompProgram.maximumInstructions)
            #expect(program.enosysStubLength > 0)
        }
    }
}

/// Docker's default profile installed in a real process.
@Suite(.enabled(if: SeccompProbe.enabled, SeccompProbe.skipReason))
struct DefaultProfileKernelTests {
    static var busybox: String? {
        ["/bin/busybox", "/usr/bin/busybox"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    @Test func blocksEscapesAndAllowsOrdinaryWork() throws {
        let profile = DefaultSeccompProfile.profile(capabilities: DefaultProfileTests.docker)
        let program = try SeccompCompiler.compile(profile, noNewPrivileges: true)
        let outcome = try SeccompProbe.run(
            program,
            [
                "unshare:0x10000000",  // CLONE_NEWUSER
                "keyctl", "personality:0x0040000",  // ADDR_NO_RANDOMIZE
                "socket:40",  // AF_VSOCK
                "getpid", "personality:0", "socket:1",  // AF_UNIX
            ]
        )
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.errno("unshare") == EPERM)
        #expect(outcome.errno("keyctl") == EPERM)
        #expect(outcome.stdout.contains("personality ret=-1 errno=\(EPERM)"))
        #expect(outcome.stdout.contains("personality ret=0 errno=0") || outcome.stdout.contains("personality ret=8 errno=0"))
        let sockets = outcome.stdout.split(separator: "\n").filter { $0.hasPrefix("socket ") }
        #expect(sockets.first?.hasSuffix("errno=\(EPERM)") == true, "AF_VSOCK refused: \(sockets)")
        #expect(sockets.last?.hasSuffix("errno=0") == true, "AF_UNIX allowed: \(sockets)")
        #expect(outcome.errno("getpid") == 0)
    }

    @Test(.enabled(if: SeccompProbe.mkdiratNumber > 0, "syscall numbers are tabled for x86_64, arm64 and riscv64"))
    func clone3AnswersENOSYSWithoutSysAdmin() throws {
        let profile = DefaultSeccompProfile.profile(capabilities: DefaultProfileTests.docker)
        let program = try SeccompCompiler.compile(profile, noNewPrivileges: true)
        let outcome = try SeccompProbe.run(program, ["syscall:435"])  // clone3 (same number everywhere)
        #expect(outcome.errno("syscall") == ENOSYS)
    }

    @Test(.enabled(if: DefaultProfileKernelTests.busybox != nil || SeccompProbe.requirePrivileged, "needs busybox-static"))
    func busyboxRunsUnderTheProfile() throws {
        let busybox = try #require(Self.busybox, "busybox-static is not installed")
        let profile = DefaultSeccompProfile.profile(capabilities: DefaultProfileTests.docker)
        let program = try SeccompCompiler.compile(profile, noNewPrivileges: true)
        let ok = try SeccompProbe.run(program, ["exec:\(busybox),sh,-c,echo hello; ls / >/dev/null && true"])
        #expect(ok.status == 0, "\(ok.stdout) \(ok.stderr)")
        #expect(ok.stdout.contains("hello"))
        // And the filter is inherited across execve: busybox's unshare is refused.
        let denied = try SeccompProbe.run(program, ["exec:\(busybox),unshare,-U,true"])
        #expect(denied.status != 0)
        #expect(denied.stderr.contains("Operation not permitted"), "\(denied.stderr)")
    }

    @Test(.enabled(if: geteuid() == 0 || SeccompProbe.requirePrivileged, "needs root: unshare(CLONE_NEWUTS) needs CAP_SYS_ADMIN"))
    func sysAdminProfileAllowsUnshare() throws {
        let profile = DefaultSeccompProfile.profile(capabilities: DefaultProfileTests.docker.union(["CAP_SYS_ADMIN"]))
        let program = try SeccompCompiler.compile(profile, noNewPrivileges: true)
        let outcome = try SeccompProbe.run(program, ["unshare:0x04000000"])  // CLONE_NEWUTS
        #expect(outcome.errno("unshare") == 0, "\(outcome.stdout)")
    }
}
