public import KujiraOCI
import Glibc

/// Documents the runtime produces rather than reads: the starting `config.json` of `spec` and
/// the `features` document.
public enum RuntimeTemplates {
    /// The config `runc spec` writes (terminal `sh`, read-only root, the default mounts,
    /// masked and read-only paths); with `rootless`, adapted as `runc spec --rootless` adapts it:
    /// a user namespace mapping the caller's ids, no network namespace, /sys bound from the host,
    /// no cgroup mount and no resources.
    public static func spec(rootless: Bool = false) -> Spec {
        let caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
        var spec = Spec(
            process: Process(
                terminal: true, user: User(uid: 0, gid: 0), args: ["sh"],
                env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"], cwd: "/",
                capabilities: LinuxCapabilities(bounding: caps, effective: caps, permitted: caps, ambient: caps),
                rlimits: [POSIXRlimit(type: "RLIMIT_NOFILE", hard: 1024, soft: 1024)], noNewPrivileges: true),
            root: Root(path: "rootfs", readonly: true),
            hostname: "kujira",
            mounts: [
                Mount(destination: "/proc", type: "proc", source: "proc"),
                Mount(destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"]),
                Mount(destination: "/dev/pts", type: "devpts", source: "devpts",
                      options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]),
                Mount(destination: "/dev/shm", type: "tmpfs", source: "shm", options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]),
                Mount(destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"]),
                Mount(destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"]),
                Mount(destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup", options: ["nosuid", "noexec", "nodev", "relatime", "ro"]),
            ],
            linux: Linux(
                namespaces: [.init(type: .pid), .init(type: .network), .init(type: .ipc), .init(type: .uts), .init(type: .mount)],
                resources: LinuxResources(devices: [LinuxDeviceCgroup(allow: false, access: "rwm")]),
                maskedPaths: ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
                              "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
                readonlyPaths: ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]))
        if rootless {
            spec.linux?.resources = nil
            spec.linux?.namespaces = [.init(type: .pid), .init(type: .ipc), .init(type: .uts), .init(type: .mount), .init(type: .user)]
            spec.linux?.uidMappings = [LinuxIDMapping(containerID: 0, hostID: geteuid(), size: 1)]
            spec.linux?.gidMappings = [LinuxIDMapping(containerID: 0, hostID: getegid(), size: 1)]
            spec.mounts = (spec.mounts ?? []).compactMap { mount in
                switch mount.destination {
                case "/sys/fs/cgroup": return nil
                case "/sys": return Mount(destination: "/sys", type: "none", source: "/sys", options: ["rbind", "nosuid", "noexec", "nodev", "ro"])
                case "/dev/pts": var m = mount; m.options = m.options?.filter { $0 != "gid=5" }; return m
                default: return mount
                }
            }
        }
        return spec
    }

    /// The features document (runtime-spec features.md) of this runtime: what `create` accepts.
    /// `cgroups` and `seccomp` say whether those extension points are filled in.
    public static func features(cgroups: Bool, seccomp: Bool) -> Features {
        Features(
            ociVersionMin: "1.0.0", ociVersionMax: Spec.currentVersion,
            hooks: ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
            mountOptions: (Array(MountOptions.flagOptions.keys) + Array(MountOptions.propagationOptions.keys)
                           + Array(MountOptions.recursiveOptions.keys) + MountOptions.extensionOptions).sorted(),
            linux: LinuxFeatures(
                namespaces: NamespaceFlags.all.map(\.type),
                capabilities: CapabilityNumbers.allNames,
                cgroup: CgroupFeatures(v1: cgroups, v2: cgroups, systemd: false, systemdUser: false),
                seccomp: SeccompFeatures(enabled: seccomp),
                apparmor: EnabledFeature(enabled: false), selinux: EnabledFeature(enabled: false),
                intelRdt: EnabledFeature(enabled: true),
                mountExtensions: MountExtensionsFeatures(idmap: EnabledFeature(enabled: true)),
                netDevices: EnabledFeature(enabled: true)),
            annotations: ["org.opencontainers.runc.version": "kujira-runtime \(version)"])
    }

    /// The runtime's version.
    public static let version = "0.1.0"
}

extension ContainerRuntime {
    /// The configuration container `id` was created with (exec starts from its process).
    public func config(id: String) throws -> Spec {
        try directory.load(id).spec
    }
}
