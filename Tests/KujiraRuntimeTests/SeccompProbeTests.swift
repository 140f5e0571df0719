import Foundation
import KujiraOCI
import Testing
@testable import KujiraRuntime

/// A test helper compiled at test time with `cc` (so that no test-only executable joins the
/// package's products): it reads a BPF program from a file, sets `no_new_privs`, installs
/// the program with `seccomp(2)` exactly as the container init will, then performs the
/// operations named on its command line and prints one `op ret=R errno=E` line each.
///
/// Installing a filter under `no_new_privs` needs no privilege, so these tests need only a
/// C compiler and a kernel with seccomp filters. Without them they skip, unless
/// `KUJIRA_REQUIRE_PRIVILEGED=1`, where they fail.
enum SeccompProbe {
    static let requirePrivileged = ProcessInfo.processInfo.environment["KUJIRA_REQUIRE_PRIVILEGED"] == "1"

    /// Whether the kernel tests run: cc and seccomp present, or CI insists.
    static let enabled = requirePrivileged || (compiled != nil && kernelHasSeccomp)

    /// Why they skip otherwise.
    static let skipReason: Comment = """
        needs a C compiler (cc) and a kernel with seccomp filters (Seccomp: in /proc/self/status); \
        set KUJIRA_REQUIRE_PRIVILEGED=1 to make their absence a failure
        """

    static var kernelHasSeccomp: Bool {
        (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8))?.contains("Seccomp:") ?? false
    }

    /// The probe's path, compiled once per test run; nil when cc is missing or fails.
    static let compiled: String? = {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kujira-seccomp-probe-\(getpid())")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let source = dir.appendingPathComponent("probe.c")
        let binary = dir.appendingPathComponent("probe")
        guard (try? cSource.write(to: source, atomically: true, encoding: .utf8)) != nil else { return nil }
        guard let result = try? runProcess("/usr/bin/env", ["cc", "-O1", "-o", binary.path, source.path]),
            result.status == 0
        else { return nil }
        return binary.path
    }()

    /// The outcome of one probe run.
    struct Outcome {
        /// Exit status, or the signal number when ``signaled``.
        var status: Int32
        var signaled: Bool
        var stdout: String
        var stderr: String

        /// `(ret, errno)` reported for operation `op` (the first with that name).
        func result(_ op: String) -> (ret: Int, errno: Int32)? {
            for line in stdout.split(separator: "\n") {
                let fields = line.split(separator: " ")
                guard fields.count == 3, fields[0] == op,
                    let ret = Int(fields[1].dropFirst("ret=".count)),
                    let err = Int32(fields[2].dropFirst("errno=".count))
                else { continue }
                return (ret, err)
            }
            return nil
        }

        /// The errno of `op` (0 when it succeeded); -1 when the probe did not report it.
        func errno(_ op: String) -> Int32 { result(op)?.errno ?? -1 }
    }

    /// Installs `program` in a fresh probe and runs `operations` under it.
    static func run(_ program: SeccompProgram, flags extraFlags: UInt32 = 0, _ operations: [String]) throws -> Outcome {
        let probe = try #require(compiled, "the seccomp probe did not compile with cc")
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("kujira-bpf-\(UUID().uuidString)")
        try Data(program.bpf).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        return try runProcess(probe, [file.path, String(program.flags | extraFlags)] + operations)
    }

    static func runProcess(_ executable: String, _ arguments: [String]) throws -> Outcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Outcome(
            status: process.terminationStatus, signaled: process.terminationReason == .uncaughtSignal,
            stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self)
        )
    }

    /// mkdirat's number on this host, for direct `syscall:` operations.
    static var mkdiratNumber: Int {
        #if arch(x86_64)
            return 258
        #elseif arch(arm64) || arch(riscv64)
            return 34
        #else
            return -1
        #endif
    }

    static let cSource = #"""
        #define _GNU_SOURCE
        #include <errno.h>
        #include <fcntl.h>
        #include <linux/filter.h>
        #include <linux/seccomp.h>
        #include <sched.h>
        #include <stdio.h>
        #include <stdlib.h>
        #include <string.h>
        #include <sys/prctl.h>
        #include <sys/socket.h>
        #include <sys/stat.h>
        #include <sys/syscall.h>
        #include <unistd.h>

        /* Output is formatted into a buffer and written with write(2) only, so that the probe
           makes no syscall the filter under test did not expect (stdio would fstat, brk, …). */
        static char out[16384];
        static size_t outlen;
        static void report(const char *op, long ret, int err) {
            outlen += snprintf(out + outlen, sizeof out - outlen, "%s ret=%ld errno=%d\n", op, ret, err);
        }
        static void flush(void) { if (outlen) write(1, out, outlen); outlen = 0; }

        int main(int argc, char **argv) {
            static unsigned char bpf[1 << 16];
            if (argc < 3) { fprintf(stderr, "usage: probe BPF FLAGS OP...\n"); return 2; }
            int fd = open(argv[1], O_RDONLY | O_CLOEXEC);
            if (fd < 0) { perror("open"); return 90; }
            ssize_t n = read(fd, bpf, sizeof bpf);
            close(fd);
            if (n <= 0 || n % 8 != 0) { fprintf(stderr, "bad BPF size %zd\n", n); return 91; }
            struct sock_fprog prog = { .len = (unsigned short)(n / 8), .filter = (struct sock_filter *)bpf };
            unsigned int flags = (unsigned int)strtoul(argv[2], NULL, 0);
            if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) { perror("no_new_privs"); return 92; }
            if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog) < 0) { perror("seccomp"); return 93; }
            for (int i = 3; i < argc; i++) {
                char *op = argv[i], *arg = strchr(op, ':');
                if (arg) *arg++ = 0;
                long r;
                errno = 0;
                if (!strcmp(op, "mkdir")) r = mkdir(arg, 0700);
                else if (!strcmp(op, "unshare")) r = unshare((int)strtol(arg, NULL, 0));
                else if (!strcmp(op, "personality")) r = syscall(SYS_personality, strtoul(arg, NULL, 0));
                else if (!strcmp(op, "keyctl")) r = syscall(SYS_keyctl, 0 /* GET_KEYRING_ID */, -3 /* session */, 0);
                else if (!strcmp(op, "socket")) r = socket((int)strtol(arg, NULL, 0), SOCK_STREAM | SOCK_CLOEXEC, 0);
                else if (!strcmp(op, "syscall")) r = syscall(strtol(arg, NULL, 0), 0, 0, 0, 0, 0, 0);
                else if (!strcmp(op, "getpid")) r = getpid();
                else if (!strcmp(op, "exec")) {
                    char *args[16];
                    int k = 0;
                    for (char *t = strtok(arg, ","); t && k < 15; t = strtok(NULL, ",")) args[k++] = t;
                    args[k] = NULL;
                    flush();
                    execv(args[0], args);
                    r = -1;
                } else { r = -1; errno = EINVAL; }
                report(op, r, r < 0 ? errno : 0);
            }
            flush();
            _exit(0);
        }
        """#
}

/// The compiler's output, installed in a real process.
@Suite(.enabled(if: SeccompProbe.enabled, SeccompProbe.skipReason))
struct SeccompKernelTests {
    static func denyProfile(_ action: String, errnoRet: UInt32? = nil, names: [String] = ["mkdir", "mkdirat"]) -> LinuxSeccomp {
        LinuxSeccomp(
            defaultAction: "SCMP_ACT_ALLOW",
            syscalls: [LinuxSyscall(names: names, action: action, errnoRet: errnoRet)]
        )
    }

    @Test func errnoRuleMakesMkdirFailWithEPERM() throws {
        let program = try SeccompCompiler.compile(Self.denyProfile("SCMP_ACT_ERRNO"), noNewPrivileges: true)
        let dir = NSTemporaryDirectory() + "kujira-denied-\(UUID().uuidString)"
        let outcome = try SeccompProbe.run(program, ["mkdir:\(dir)", "getpid"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.errno("mkdir") == EPERM)
        #expect(outcome.errno("getpid") == 0)
        #expect(!FileManager.default.fileExists(atPath: dir))
    }

    @Test func errnoRetIsReturned() throws {
        let program = try SeccompCompiler.compile(Self.denyProfile("SCMP_ACT_ERRNO", errnoRet: UInt32(EROFS)), noNewPrivileges: true)
        let outcome = try SeccompProbe.run(program, ["mkdir:/nonexistent/kujira"])
        #expect(outcome.errno("mkdir") == EROFS)
    }

    @Test func killProcessEndsTheProcessWithSIGSYS() throws {
        let program = try SeccompCompiler.compile(Self.denyProfile("SCMP_ACT_KILL_PROCESS"), noNewPrivileges: true)
        let outcome = try SeccompProbe.run(program, ["getpid", "mkdir:/nonexistent/kujira"])
        #expect(outcome.signaled)
        #expect(outcome.status == SIGSYS)
        #expect(outcome.stdout.isEmpty, "the kill comes before the probe writes its report")
    }

    @Test func argumentConditionSelectsCalls() throws {
        // Deny personality(2) unless its argument is 0.
        let profile = LinuxSeccomp(
            defaultAction: "SCMP_ACT_ALLOW",
            syscalls: [
                LinuxSyscall(
                    names: ["personality"], action: "SCMP_ACT_ERRNO",
                    args: [LinuxSeccompArg(index: 0, value: 0, op: "SCMP_CMP_NE")]
                )
            ]
        )
        let program = try SeccompCompiler.compile(profile, noNewPrivileges: true)
        let outcome = try SeccompProbe.run(program, ["personality:0xffffffff", "personality:0"])
        #expect(outcome.errno("personality") == EPERM)  // the first report: the query
        #expect(outcome.stdout.contains("personality ret=0 errno=0"))
    }

    @Test func conditionsOnOneArgumentAreSplitIntoRules() throws {
        // Two conditions on argument 0 cannot be ANDed by libseccomp; as in runc each becomes a
        // rule, so either value is denied and others pass.
        let profile = LinuxSeccomp(
            defaultAction: "SCMP_ACT_ALLOW",
            syscalls: [
                LinuxSyscall(
                    names: ["personality"], action: "SCMP_ACT_ERRNO", errnoRet: UInt32(EACCES),
                    args: [
                        LinuxSeccompArg(index: 0, value: 0x0008, op: "SCMP_CMP_EQ"),
                        LinuxSeccompArg(index: 0, value: 0x20000, op: "SCMP_CMP_EQ"),
                    ]
                )
            ]
        )
        let program = try SeccompCompiler.compile(profile, noNewPrivileges: true)
        let outcome = try SeccompProbe.run(program, ["personality:8", "syscall:-1", "personality:0x20000"])
        let lines = outcome.stdout.split(separator: "\n")
        #expect(lines.count == 3, "\(outcome.stdout)")
        #expect(lines.first?.hasSuffix("errno=\(EACCES)") == true)
        #expect(lines.last?.hasSuffix("errno=\(EACCES)") == true)
        let query = try SeccompProbe.run(program, ["personality:0xffffffff"])
        #expect(query.errno("personality") == 0)
    }

    @Test(.enabled(if: SeccompProbe.mkdiratNumber > 0, "syscall numbers are tabled for x86_64, arm64 and riscv64"))
    func syscallsNewerThanTheProfileGetENOSYS() throws {
        // A profile that knows syscalls up to getrandom: mkdirat (older) gets the default
        // EPERM; process_madvise (440, newer than any name here) gets ENOSYS from the stub.
        let profile = LinuxSeccomp(
            defaultAction: "SCMP_ACT_ERRNO",
            syscalls: [LinuxSyscall(names: ["write", "exit_group", "exit", "getrandom"], action: "SCMP_ACT_ALLOW")]
        )
        let program = try SeccompCompiler.compile(profile, noNewPrivileges: true)
        #expect(program.enosysStubLength > 0)
        let outcome = try SeccompProbe.run(program, ["syscall:\(SeccompProbe.mkdiratNumber)", "syscall:440"])
        let lines = outcome.stdout.split(separator: "\n")
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(lines.count == 2, "\(outcome.stdout)")
        #expect(lines.first?.hasSuffix("errno=\(EPERM)") == true)
        #expect(lines.last?.hasSuffix("errno=\(ENOSYS)") == true)
    }

    @Test func notifyFilterLoadsWithNewListener() throws {
        // The init adds NEW_LISTENER when needsListener is set; the kernel must accept the
        // program with it. Only getpid runs, so nothing waits on the (absent) agent.
        let profile = LinuxSeccomp(
            defaultAction: "SCMP_ACT_ALLOW", listenerPath: "/run/agent.sock",
            syscalls: [LinuxSyscall(names: ["mkdir", "mkdirat"], action: "SCMP_ACT_NOTIFY")]
        )
        let program = try SeccompCompiler.compile(profile, noNewPrivileges: true)
        #expect(program.needsListener)
        let outcome = try SeccompProbe.run(program, flags: SeccompFilterFlag.newListener, ["getpid"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.errno("getpid") == 0)
    }

    @Test func flagsAreAcceptedByTheKernel() throws {
        var profile = Self.denyProfile("SCMP_ACT_ERRNO")
        profile.flags = ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_TSYNC"]
        let program = try SeccompCompiler.compile(profile, noNewPrivileges: true)
        let outcome = try SeccompProbe.run(program, ["mkdir:/nonexistent/kujira"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.errno("mkdir") == EPERM)
    }

    @Test func multiArchitectureProgramLoads() throws {
        var profile = Self.denyProfile("SCMP_ACT_ERRNO")
        profile.defaultAction = "SCMP_ACT_ERRNO"
        profile.syscalls?.append(LinuxSyscall(names: ["write", "exit_group", "getpid"], action: "SCMP_ACT_ALLOW"))
        profile.architectures = DefaultSeccompProfile.architectureMap[DefaultSeccompProfile.hostArchitecture]
        let program = try SeccompCompiler.compile(profile, noNewPrivileges: true)
        let outcome = try SeccompProbe.run(program, ["getpid", "mkdir:/nonexistent/kujira"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.errno("getpid") == 0)
        #expect(outcome.errno("mkdir") == EPERM)
    }
}
