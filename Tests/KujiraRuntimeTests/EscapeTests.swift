import Foundation
import Glibc
import KujiraOCI
import KujiraRuntime
import Testing

/// One test per known runc escape (Docs/runtime.md, "Security").
@Suite("Known container escapes", .enabled(if: Privilege.shouldRun, Privilege.reason), .serialized)
struct EscapeTests {
    /// CVE-2019-5736: the init the container can reach through /proc/<pid>/exe is a sealed
    /// memfd copy, so opening it for writing fails, and the binary on disk is out of reach.
    @Test func procSelfExeIsASealedMemfd() throws {
        let box = try Sandbox(script: "sleep 60")
        #expect(try box.runtime(["create", "--bundle", box.bundle, "c1"]).status == 0)
        let pid = try box.api.state(id: "c1").pid
        let target = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/exe")
        #expect(target.hasPrefix("/memfd:kujira-init"))
        let fd = open("/proc/\(pid)/exe", O_WRONLY | O_CLOEXEC)
        let code = errno
        if fd >= 0 { close(fd) }
        #expect(fd < 0, "opening the init's exe for writing succeeded")
        #expect(code == EPERM || code == ETXTBSY || code == EACCES)
        // From inside the container (a process exec'd into it), the blocked init is not even
        // dumpable: /proc/1/exe cannot be opened.
        let inside = try box.runtime(["exec", "c1", "sh", "-c", "echo x >> /proc/1/exe 2>/dev/null && echo WROTE || echo refused"])
        #expect(inside.stdout == "refused\n", "\(inside.stderr)")
    }

    /// CVE-2024-21626: no fd of the runtime reaches the container: only stdio (and the fds
    /// asked for with --preserve-fds).
    @Test func noLeakedFileDescriptors() throws {
        // ls execs in place of sh and lists its own fds: stdio and the directory it reads (3).
        let box = try Sandbox(script: "exec ls /proc/self/fd")
        let plain = try box.run("c1")
        #expect(plain.stdout == "0\n1\n2\n3\n", "\(plain.stderr)")
        // Through a shell that opens fd 3 and 4 and preserves one of them.
        try box.writeSpec()
        let shell = "exec 3</etc/hostname 4</etc/hostname; exec \(box.runtimePath) --root \(box.root) run --preserve-fds 1 --bundle \(box.bundle) c2"
        let preserved = try runCommand("/bin/sh", ["-c", shell])
        #expect(preserved.stdout == "0\n1\n2\n3\n4\n", "\(preserved.stderr)")
    }

    /// CVE-2024-21626: a cwd reached through an fd of the init (/proc/self/fd/N) would be
    /// outside the container's root; create refuses it for every N.
    @Test func cwdOutsideRootIsRefused() throws {
        let box = try Sandbox(script: "pwd")
        for n in 3...9 {
            box.spec.process?.cwd = "/proc/self/fd/\(n)"
            let result = try box.run("c\(n)")
            #expect(result.status != 0, "cwd /proc/self/fd/\(n) was accepted: \(result.stdout)")
            #expect(!result.stdout.hasPrefix("/"), "the process ran in \(result.stdout)")
        }
    }

    /// CVE-2025-31133 family: a masked path that is a symlink is refused rather than
    /// followed, and masking binds the host's verified /dev/null even when the container's
    /// /dev/null is a link into procfs.
    @Test func maskedPathSwapsAreRefused() throws {
        let box = try Sandbox(script: "stat -c '%t:%T %F' /proc/keys")
        try FileManager.default.createSymbolicLink(atPath: box.rootfs + "/masked-link", withDestinationPath: "/etc/hostname")
        box.spec.linux?.maskedPaths = ["/masked-link"]
        let refused = try box.run("c1")
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("symbolic link"), "\(refused.stderr)")

        // No tmpfs on /dev: the image's own /dev/null is a link to core_pattern.
        box.spec.mounts = box.spec.mounts?.filter { !$0.destination.hasPrefix("/dev") }
        box.spec.linux?.maskedPaths = ["/proc/keys"]
        try FileManager.default.createSymbolicLink(atPath: box.rootfs + "/dev/null", withDestinationPath: "/proc/sys/kernel/core_pattern")
        let masked = try box.run("c2")
        #expect(masked.status == 0, "\(masked.stderr)")
        #expect(masked.stdout == "1:3 character special file\n")
    }
}
