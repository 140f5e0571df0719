import Foundation
import Glibc
import Testing

/// Many create/start/wait/delete cycles leave nothing behind: no mount under the state or
/// bundle directories, no cgroup directory, no process.
///
/// Each cycle is a `kujira-runtime run` (the library's create, start, wait for the init, delete,
/// in one process that is a child subreaper, as the container's init must be reaped by someone).
/// The test process itself must not become a subreaper: the orphans of every other test
/// running in parallel (podman's conmon, containers made with `create`) would be reparented to
/// it, and Foundation's `Process` stops reaping its own children once unknown ones appear.
@Suite("No leaks over many cycles", .enabled(if: Privilege.shouldRun, Privilege.reason), .serialized)
struct LeakTests {
    @Test func twoHundredCyclesLeaveNothing() throws {
        let box = try Sandbox(script: "true")
        defer { box.cleanup() }
        let tag = "kujira-leak-" + URL(fileURLWithPath: box.directory).lastPathComponent
        for cycle in 0..<200 {
            let id = "\(tag)-\(cycle)"
            box.spec.linux?.cgroupsPath = "/" + id
            let result = try box.run(id)
            #expect(result.status == 0, "cycle \(cycle): \(result.stderr)")
            if result.status != 0 { break }
        }
        #expect(try box.api.list().isEmpty)
        #expect(Peers.mounts(under: box.directory).isEmpty, "\(Peers.mounts(under: box.directory))")

        let hierarchies = (try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup")) ?? []
        var leftCgroups: [String] = []
        for hierarchy in hierarchies {
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup/" + hierarchy)) ?? []
            leftCgroups += entries.filter { $0.hasPrefix(tag) }.map { "/sys/fs/cgroup/\(hierarchy)/\($0)" }
        }
        #expect(leftCgroups.isEmpty, "\(leftCgroups)")

        // No process whose root is the container's rootfs, none that names the sandbox (a
        // kujira-init), and no zombie of ours.
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        let inside = entries.compactMap(Int32.init).filter { pid in
            ((try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/root")) ?? "").hasPrefix(box.bundle)
        }
        #expect(inside.isEmpty, "processes left in the rootfs: \(inside)")
        #expect(Peers.processes(mentioning: box.directory).isEmpty)
        // The whole package's tests share this process, and other suites' children (reaped by
        // Foundation's Process, or helpers other tests leave) can be zombies of it: only a
        // zombie of the runtime or its init that is still there a second later is a leak of
        // these cycles.
        func zombies() -> Set<String> {
            let pids = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap(Int32.init)
            return Set(pids.compactMap { pid -> String? in
                guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                      let open = stat.firstIndex(of: "("), let close = stat.lastIndex(of: ")") else { return nil }
                let name = String(stat[stat.index(after: open)..<close])
                let fields = stat[stat.index(after: close)...].split(separator: " ")
                guard fields.count > 1, fields[0] == "Z", fields[1] == "\(getpid())",
                      name.hasPrefix("kujira-") else { return nil }
                return "\(pid) (\(name))"
            })
        }
        let first = zombies()
        if !first.isEmpty { sleep(1) }
        let lasting = first.intersection(zombies())
        #expect(lasting.isEmpty, "zombies: \(lasting)")
    }
}
