import Foundation
import KujiraOCI
import Testing
@testable import KujiraRuntime

/// What the compiler produces and refuses, without loading anything into the kernel.
struct SeccompCompilerTests {
    static let denyMkdir = LinuxSeccomp(
        defaultAction: "SCMP_ACT_ALLOW",
        syscalls: [LinuxSyscall(names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO")]
    )

    /// Runs `body`, which must throw a ``SecurityError``; returns it.
    static func failure(_ body: () throws -> Void) -> SecurityError? {
        do {
            try body()
            return nil
        } catch let error as SecurityError {
            return error
        } catch {
            return nil
        }
    }

    /// The `struct sock_filter` instructions of a program.
    static func instructions(_ bpf: [UInt8]) -> [(code: UInt16, jt: UInt8, jf: UInt8, k: UInt32)] {
        stride(from: 0, to: bpf.count, by: 8).map { at in
            let code = UInt16(bpf[at]) | UInt16(bpf[at + 1]) << 8
            let k = (0..<4).reduce(UInt32(0)) { $0 | UInt32(bpf[at + 4 + $1]) << (8 * UInt32($1)) }
            return (code, bpf[at + 2], bpf[at + 3], k)
        }
    }

    @Test func programIsWholeInstructions() throws {
        let program = try SeccompCompiler.compile(Self.denyMkdir, noNewPrivileges: true)
        #expect(!program.bpf.isEmpty)
        #expect(program.bpf.count % 8 == 0)
        #expect(program.instructionCount == program.bpf.count / 8)
        #expect(program.instructionCount <= SeccompProgram.maximumInstructions)
        #expect(program.flags == 0)
        #expect(!program.needsListener)
        #expect(!program.installBeforeDroppingCapabilities)
        // Allow by default: there is nothing to answer ENOSYS for.
        #expect(program.enosysStubLength == 0)
        // Every classic BPF program ends in a return.
        #expect(Self.instructions(program.bpf).last?.code == 0x06)
    }

    @Test func libseccompRendersTheRules() throws {
        let pfc = try SeccompCompiler.pseudoFilterCode(Self.denyMkdir)
        #expect(pfc.contains("mkdir"))
        #expect(pfc.contains("ERRNO(1)"))
    }

    @Test func noNewPrivilegesOffAsksForEarlyInstall() throws {
        let program = try SeccompCompiler.compile(Self.denyMkdir, noNewPrivileges: false)
        #expect(program.installBeforeDroppingCapabilities)
    }

    @Test func restrictiveDefaultGetsTheENOSYSStub() throws {
        let profile = LinuxSeccomp(
            defaultAction: "SCMP_ACT_ERRNO", architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            syscalls: [LinuxSyscall(names: ["read", "write", "exit_group"], action: "SCMP_ACT_ALLOW")]
        )
        let program = try SeccompCompiler.compile(profile, noNewPrivileges: true)
        #expect(program.enosysStubLength > 0)
        let stub = Self.instructions(program.bpf).prefix(program.enosysStubLength)
        #expect(stub.first?.code == 0x20 && stub.first?.k == 4, "the stub starts by loading the architecture")
        #expect(stub.last?.code == 0x06 && stub.last?.k == 0x0005_0000 | UInt32(ENOSYS))
        if DefaultSeccompProfile.hostArchitecture == "SCMP_ARCH_X86_64" {
            let tested = Set(stub.filter { $0.code == 0x15 }.map(\.k))
            #expect(tested == Set<UInt32>([0xC000_003E, 0x4000_0003]), "x86_64 (with x32 folded in) and i386")
            // The largest numbers: exit_group is 231 on x86_64, 252 on i386, 231|x32 bit on x32.
            let limits = Set(stub.filter { $0.code == 0x25 }.map(\.k))
            #expect(limits == Set<UInt32>([231, 252, 0x4000_0000 | 231]))
        }
    }

    @Test func enosysDefaultNeedsNoStub() throws {
        let profile = LinuxSeccomp(
            defaultAction: "SCMP_ACT_ERRNO", defaultErrnoRet: UInt32(ENOSYS),
            syscalls: [LinuxSyscall(names: ["read"], action: "SCMP_ACT_ALLOW")]
        )
        let program = try SeccompCompiler.compile(profile, noNewPrivileges: true)
        #expect(program.enosysStubLength == 0)
        #expect(program.notes.contains { $0.contains("ENOSYS") })
    }

    @Test(arguments: [
        "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP", "SCMP_ACT_ERRNO",
        "SCMP_ACT_TRACE", "SCMP_ACT_LOG",
    ])
    func everyActionCompiles(action: String) throws {
        let profile = LinuxSeccomp(
            defaultAction: "SCMP_ACT_ALLOW", syscalls: [LinuxSyscall(names: ["mkdir"], action: action)]
        )
        let program = try SeccompCompiler.compile(profile, noNewPrivileges: true)
        #expect(program.instructionCount > 0)
    }

    @Test func unknownSyscallsAreSkippedAndRecorded() throws {
        let profile = LinuxSeccomp(
            defaultAction: "SCMP_ACT_ALLOW",
            syscalls: [LinuxSyscall(names: ["mkdir", "kujira_future_syscall"], action: "SCMP_ACT_ERRNO")]
        )
        let program = try SeccompCompiler.compile(profile, noNewPrivileges: true)
        #expect(program.skippedSyscalls == ["kujira_future_syscall"])
    }

    @Test func ruleWithTheDefaultActionIsLeftOut() throws {
        let profile = LinuxSeccomp(
            defaultAction: "SCMP_ACT_ERRNO",
            syscalls: [
                LinuxSyscall(names: ["read", "write"], action: "SCMP_ACT_ALLOW"),
                LinuxSyscall(names: ["mkdir"], action: "SCMP_ACT_ERRNO"),
            ]
        )
        let program = try SeccompCompiler.compile(profile, noNewPrivileges: true)
        #expect(program.notes.contains { $0.contains("mkdir") && $0.contains("default action") })
    }

    @Test func flagsMapToSeccompBits() throws {
        var profile = Self.denyMkdir
        profile.flags = ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"]
        let program = try SeccompCompiler.compile(profile, noNewPrivileges: true)
        #expect(program.flags == SeccompFilterFlag.tsync | SeccompFilterFlag.log | SeccompFilterFlag.specAllow)
        #expect(program.flags == 7)
    }

    @Test func notifyNeedsAListener() throws {
        var profile = LinuxSeccomp(
            defaultAction: "SCMP_ACT_ALLOW",
            flags: ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
            listenerPath: "/run/seccomp-agent.sock", listenerMetadata: "meta",
            syscalls: [LinuxSyscall(names: ["mkdir"], action: "SCMP_ACT_NOTIFY")]
        )
        let program = try SeccompCompiler.compile(profile, noNewPrivileges: true)
        #expect(program.needsListener)
        #expect(program.listenerPath == "/run/seccomp-agent.sock")
        #expect(program.listenerMetadata == "meta")
        #expect(program.flags == SeccompFilterFlag.waitKillableRecv, "NEW_LISTENER is the init's to add")

        profile.listenerPath = nil
        let error = Self.failure { _ = try SeccompCompiler.compile(profile, noNewPrivileges: true) }
        #expect(error?.code == .invalidProfile)
        #expect(error?.message.contains("listenerPath") == true)
    }

    @Test func refusedProfilesNameTheCulprit() throws {
        func error(_ profile: LinuxSeccomp) -> SecurityError? {
            Self.failure { _ = try SeccompCompiler.compile(profile, noNewPrivileges: true) }
        }
        let badAction = error(
            LinuxSeccomp(defaultAction: "SCMP_ACT_ALLOW", syscalls: [LinuxSyscall(names: ["mkdir"], action: "SCMP_ACT_NOPE")])
        )
        #expect(badAction?.code == .unknownAction)
        #expect(badAction?.message.contains("SCMP_ACT_NOPE") == true)
        #expect(badAction?.message.contains("mkdir") == true)

        let badArch = error(LinuxSeccomp(defaultAction: "SCMP_ACT_ALLOW", architectures: ["SCMP_ARCH_VAX"]))
        #expect(badArch?.code == .unknownArchitecture)
        #expect(badArch?.message.contains("SCMP_ARCH_VAX") == true)

        let badFlag = error(LinuxSeccomp(defaultAction: "SCMP_ACT_ALLOW", flags: ["SECCOMP_FILTER_FLAG_FAST"]))
        #expect(badFlag?.code == .unknownFlag)
        #expect(badFlag?.message.contains("SECCOMP_FILTER_FLAG_FAST") == true)

        let badOp = error(
            LinuxSeccomp(
                defaultAction: "SCMP_ACT_ALLOW",
                syscalls: [
                    LinuxSyscall(
                        names: ["personality"], action: "SCMP_ACT_ERRNO",
                        args: [LinuxSeccompArg(index: 0, value: 1, op: "SCMP_CMP_ALMOST")]
                    )
                ]
            )
        )
        #expect(badOp?.code == .unknownOperator)
        #expect(badOp?.message.contains("personality") == true)

        let badIndex = error(
            LinuxSeccomp(
                defaultAction: "SCMP_ACT_ALLOW",
                syscalls: [
                    LinuxSyscall(
                        names: ["personality"], action: "SCMP_ACT_ERRNO",
                        args: [LinuxSeccompArg(index: 6, value: 1, op: "SCMP_CMP_EQ")]
                    )
                ]
            )
        )
        #expect(badIndex?.code == .invalidProfile)
        #expect(badIndex?.message.contains("index 6") == true)

        let errnoOnAllow = error(
            LinuxSeccomp(
                defaultAction: "SCMP_ACT_ERRNO",
                syscalls: [LinuxSyscall(names: ["read"], action: "SCMP_ACT_ALLOW", errnoRet: 5)]
            )
        )
        #expect(errnoOnAllow?.code == .invalidProfile)

        let notifyDefault = error(LinuxSeccomp(defaultAction: "SCMP_ACT_NOTIFY", listenerPath: "/x"))
        #expect(notifyDefault?.code == .invalidProfile)

        let notifyWrite = error(
            LinuxSeccomp(
                defaultAction: "SCMP_ACT_ALLOW", listenerPath: "/x",
                syscalls: [LinuxSyscall(names: ["write"], action: "SCMP_ACT_NOTIFY")]
            )
        )
        #expect(notifyWrite?.code == .invalidProfile)
        #expect(notifyWrite?.message.contains("write") == true)

        let killableWithoutNotify = error(
            LinuxSeccomp(defaultAction: "SCMP_ACT_ALLOW", flags: ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"])
        )
        #expect(killableWithoutNotify?.code == .invalidProfile)
    }

    @Test func sameArgumentTwiceBecomesSeparateRules() throws {
        // libseccomp alone refuses this rule (EINVAL); the compiler splits it as runc does.
        let profile = LinuxSeccomp(
            defaultAction: "SCMP_ACT_ALLOW",
            syscalls: [
                LinuxSyscall(
                    names: ["personality"], action: "SCMP_ACT_ERRNO",
                    args: [
                        LinuxSeccompArg(index: 0, value: 8, op: "SCMP_CMP_EQ"),
                        LinuxSeccompArg(index: 0, value: 0x20000, op: "SCMP_CMP_EQ"),
                    ]
                )
            ]
        )
        let pfc = try SeccompCompiler.pseudoFilterCode(profile)
        #expect(pfc.contains("if ($a0.lo32 == 8)"))
        #expect(pfc.contains("if ($a0.lo32 == 131072)"))
    }

    @Test func maskedEqualUsesValueAsMask() throws {
        let profile = LinuxSeccomp(
            defaultAction: "SCMP_ACT_ERRNO",
            syscalls: [
                LinuxSyscall(
                    names: ["clone"], action: "SCMP_ACT_ALLOW",
                    args: [LinuxSeccompArg(index: 0, value: 0x7E02_0000, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ")]
                )
            ]
        )
        let pfc = try SeccompCompiler.pseudoFilterCode(profile)
        #expect(pfc.contains("if ($a0.lo32 & 0x7e020000 == 0)"), "\(pfc)")
    }
}
