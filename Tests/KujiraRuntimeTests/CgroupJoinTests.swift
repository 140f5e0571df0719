import Foundation
import Glibc
import KujiraOCI
import KujiraRuntime
import Testing

/// Without a cgroup namespace the container process joins its cgroups while it builds its
/// rootfs (the join waits for an RCU grace period in the kernel). These check what that must
/// not change: the process is in every hierarchy's directory before the prestart hook runs and
/// before `create` returns, and the container's `/sys/fs/cgroup` binds show its own cgroup,
/// which the runtime now computes instead of reading it back from /proc.
@Suite("Joining the container's cgroups", .enabled(if: Privilege.shouldRun, Privilege.reason), .serialized)
struct CgroupJoinTests {
    /// Prints, for every v1 hierarchy of /proc/self/cgroup, whether the bind at
    /// /sys/fs/cgroup/<controllers> shows the process's own cgroup (mountinfo's root field).
    static let probe = """
        grep -v '^0::' /proc/self/cgroup | while IFS=: read -r id controllers path; do
          name=${controllers#name=}
          root=$(awk -v m="/sys/fs/cgroup/$name" '$5 == m { print $4 }' /proc/self/mountinfo)
          if [ "$root" = "$path" ]; then echo "same $name"; else echo "differs $name: mount $root, process $path"; fi
        done
        """

    @Test func cgroupMountShowsTheContainersOwnCgroup() throws {
        let box = try Sandbox(script: Self.probe)
        let result = try box.run("join1")
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n")
        #expect(!lines.isEmpty, "no hierarchy listed: \(result.stdout)")
        for line in lines { #expect(line.hasPrefix("same "), "\(line)") }
    }

    @Test func processIsInItsCgroupsAtPrestartAndAfterCreate() throws {
        let box = try Sandbox(script: "true")
        let seen = box.directory + "/prestart-cgroup"
        // The hook reads the state on stdin and copies the container process's /proc/PID/cgroup.
        let hook = "pid=$(sed -n 's/.*\"pid\":\\([0-9]*\\).*/\\1/p'); cat /proc/$pid/cgroup > \(seen)"
        box.spec.hooks = Hooks(prestart: [Hook(path: "/bin/sh", args: ["sh", "-c", hook])])
        let cgroupsPath = box.spec.linux?.cgroupsPath ?? ""
        let created = try box.runtime(["create", "--bundle", box.bundle, "join2"])
        #expect(created.status == 0, "\(created.stderr)")
        let state = try box.api.state(id: "join2")
        let pid = state.pid
        let now = try String(contentsOfFile: "/proc/\(pid)/cgroup", encoding: .utf8)
        let atHook = try String(contentsOfFile: seen, encoding: .utf8)
        for (when, text) in [("after create", now), ("at prestart", atHook)] {
            let hierarchies = text.split(separator: "\n").filter { !$0.hasPrefix("0::") }
            #expect(!hierarchies.isEmpty)
            for line in hierarchies {
                #expect(line.hasSuffix(":" + cgroupsPath), "\(when): \(line) is not in \(cgroupsPath)")
            }
        }
        _ = try box.runtime(["delete", "--force", "join2"])
    }
}
