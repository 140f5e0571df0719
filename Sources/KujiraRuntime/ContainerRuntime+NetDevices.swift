// linux.netDevices (runtime-spec 1.2.1): host network interfaces moved into the container's
// network namespace at create, renamed when the entry gives a name.
//
//     "linux": {"namespaces": [{"type": "network"}, …],
//               "netDevices": {"eth1": {"name": "net0"}}}
//
// The move is one RTM_NEWLINK request with IFLA_NET_NS_FD (and IFLA_IFNAME for the new name),
// sent from the runtime's namespace once the container's init exists and before `create`
// returns; the kernel renames the interface in the container's namespace, after the move, so
// the container's names are checked first. When the namespace goes away (delete), the kernel destroys virtual interfaces and
// gives physical ones back to the host's initial namespace.

internal import CKujiraRuntime
import KujiraOCI
import Glibc

extension ContainerRuntime {
    /// Checks `linux.netDevices` before anything is created: valid interface names, distinct
    /// container names, a network namespace of the container's own, and host interfaces that
    /// exist.
    static func validateNetDevices(of spec: Spec) throws {
        guard let devices = spec.linux?.netDevices, !devices.isEmpty else { return }
        guard (spec.linux?.namespaces ?? []).contains(where: { $0.type == .network }) else {
            throw RuntimeError(.invalidConfig, "linux.netDevices (\(devices.keys.sorted().joined(separator: ", "))) needs a network namespace of the container's own; add {\"type\": \"network\"} to linux.namespaces")
        }
        var seen: [String: String] = [:]
        for host in devices.keys.sorted() {
            try checkInterfaceName(host, field: "linux.netDevices key \"\(host)\"")
            let name = containerName(host: host, device: devices[host])
            try checkInterfaceName(name, field: "linux.netDevices[\"\(host)\"].name")
            if let other = seen[name] {
                throw RuntimeError(.invalidConfig, "linux.netDevices: \(other) and \(host) would both be named \"\(name)\" in the container; give them different names")
            }
            seen[name] = host
        }
        for host in devices.keys.sorted() where kujira_link_index(host) == 0 {
            throw RuntimeError(.invalidConfig, "linux.netDevices: the host has no network interface \"\(host)\" (see `ip link`)")
        }
    }

    /// Moves every interface of `linux.netDevices` into the network namespace of `pid`.
    static func moveNetDevices(of spec: Spec, into pid: pid_t) throws {
        guard let devices = spec.linux?.netDevices, !devices.isEmpty else { return }
        // The kernel moves first and renames in the target namespace, so a name taken there
        // would fail only after the move: check the container's interfaces first (its init
        // waits on the exec fifo, so nothing in it adds one meanwhile).
        let present = try interfaceNames(ofProcess: pid)
        for host in devices.keys.sorted() where present.contains(containerName(host: host, device: devices[host])) {
            throw RuntimeError(.invalidConfig, "linux.netDevices: the container already has an interface named \"\(containerName(host: host, device: devices[host]))\" (for host interface \(host)); choose another name")
        }
        let path = "/proc/\(pid)/ns/net"
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw RuntimeError.posix("opening \(path) to move linux.netDevices") }
        defer { close(fd) }
        for host in devices.keys.sorted() {
            let name = containerName(host: host, device: devices[host])
            guard kujira_link_move_to_netns(host, fd, name == host ? nil : name) == 0 else {
                let code = errno
                let hint = switch code {
                case ENODEV: ": the host has no such interface (any more)"
                case EEXIST: ": the container already has an interface with that name"
                default: ""
                }
                throw RuntimeError(.io, "moving network interface \(host) into the container as \(name)\(hint)", cause: ErrnoText(errno: code))
            }
        }
    }

    /// The interfaces of the network namespace of `pid`, from /proc/<pid>/net/dev.
    static func interfaceNames(ofProcess pid: pid_t) throws -> Set<String> {
        guard let text = try FileIO.readText("/proc/\(pid)/net/dev") else {
            throw RuntimeError(.io, "reading /proc/\(pid)/net/dev: the container's init is gone")
        }
        // Two header lines, then "  name: counters…" per interface.
        return Set(text.split(separator: "\n").dropFirst(2).compactMap { line in
            line.split(separator: ":", maxSplits: 1).first.map { trimmingWhitespace($0) }
        })
    }

    /// The entry's name in the container: `name`, or the host name when it has none.
    static func containerName(host: String, device: LinuxNetDevice?) -> String {
        guard let name = device?.name, !name.isEmpty else { return host }
        return name
    }

    /// A Linux interface name: 1 to 15 bytes, no `/`, `:` or white space, not `.` or `..`.
    static func checkInterfaceName(_ name: String, field: String) throws {
        let valid = !name.isEmpty && name.utf8.count < 16 && name != "." && name != ".."
            && !name.utf8.contains { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: ":") || $0 <= 0x20 || $0 == 0x7f }
        guard valid else {
            throw RuntimeError(.invalidConfig, "\(field): \"\(name)\" is not a valid network interface name (1-15 bytes, no '/', ':' or spaces)")
        }
    }
}
