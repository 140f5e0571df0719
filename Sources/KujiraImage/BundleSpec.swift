#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
public import KujiraOCI
import CKujiraSys

/// The runtime `config.json` of an OCI bundle made from an image, as `umoci unpack` makes it
/// (umoci's `oci/config/convert` `MutateRuntimeSpec` over runtime-tools' default spec), with
/// Docker's container defaults where the two differ: no terminal, Docker's default
/// capabilities, `noNewPrivileges` false, no `TERM=xterm`, and an image's own `HOME` kept.
///
/// - `process.args`: `Entrypoint + Cmd`; `env`: the default `PATH`, then the image's `Env`
///   (a later name replaces an earlier one), then `HOME` from the user's passwd entry unless
///   the image sets it; `cwd`: `WorkingDir` or `/`.
/// - `process.user`: `User` resolved against the rootfs's `/etc/passwd` and `/etc/group` as
///   runc does (`name`, `uid`, `name:group`, `uid:gid`, …; numeric ids need no entry),
///   with supplementary groups from `/etc/group` when no group is given.
/// - `annotations`: `org.opencontainers.image.{os,architecture,author,created,stopSignal,exposedPorts}`
///   and the image labels.
/// - Volumes become `tmpfs` mounts, as umoci does.
public enum BundleSpec {
    /// Docker's default capability set (moby `oci/caps/defaults.go`).
    public static let defaultCapabilities = [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
        "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
        "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
    ]

    /// The `PATH` a container gets when its image sets none.
    public static let defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    /// Builds the spec for `image`, whose root filesystem is unpacked at `rootfs` (read for
    /// user and group names, confined to it). `root.path` is `rootfs`'s last component.
    /// - Throws: ``ImageStoreError`` `.invalidArgument` when the image's user or group cannot
    ///   be resolved.
    public static func make(from image: ImageConfiguration, rootfs: String) throws -> Spec {
        let config = image.config ?? ImageConfig()
        let user = try resolveUser(config.user ?? "", rootfs: rootfs)

        var env: [String] = [defaultPath]
        func setEnv(_ entry: String) {
            let name = entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            if let index = env.firstIndex(where: { $0.hasPrefix("\(name)=") || $0 == name }) { env[index] = entry } else { env.append(entry) }
        }
        for entry in config.env ?? [] { setEnv(entry) }
        if let home = user.home, !env.contains(where: { $0.hasPrefix("HOME=") }) { env.append("HOME=\(home)") }

        let args = (config.entrypoint ?? []) + (config.cmd ?? [])
        let caps = LinuxCapabilities(bounding: defaultCapabilities, effective: defaultCapabilities,
                                     inheritable: nil, permitted: defaultCapabilities, ambient: nil)
        let process = Process(
            terminal: false,
            user: User(uid: user.uid, gid: user.gid, additionalGids: user.additionalGids.isEmpty ? nil : user.additionalGids),
            args: args.isEmpty ? nil : args, env: env,
            cwd: (config.workingDir ?? "").isEmpty ? "/" : (config.workingDir ?? "/"),
            capabilities: caps,
            rlimits: [POSIXRlimit(type: "RLIMIT_NOFILE", hard: 1024, soft: 1024)],
            noNewPrivileges: false)

        var annotations: [String: String] = [
            "org.opencontainers.image.os": image.os,
            "org.opencontainers.image.architecture": image.architecture,
            "org.opencontainers.image.author": image.author ?? "",
            "org.opencontainers.image.stopSignal": config.stopSignal ?? "",
        ]
        if let created = image.created { annotations["org.opencontainers.image.created"] = created }
        if let ports = config.exposedPorts, !ports.keys.isEmpty {
            annotations["org.opencontainers.image.exposedPorts"] = ports.sorted.joined(separator: ",")
        }
        for (key, value) in config.labels ?? [:] { annotations[key] = value }

        var mounts = defaultMounts
        for volume in config.volumes?.sorted ?? [] where !volume.isEmpty {
            mounts.append(Mount(destination: volume, type: "tmpfs", source: "none",
                                options: ["rw", "nosuid", "nodev", "noexec", "relatime"]))
        }
        let name = rootfs.split(separator: "/").last.map(String.init) ?? "rootfs"
        return Spec(
            process: process, root: Root(path: name), hostname: "kujira", mounts: mounts,
            annotations: annotations,
            linux: Linux(
                namespaces: [.init(type: .pid), .init(type: .network), .init(type: .ipc), .init(type: .uts), .init(type: .mount)],
                resources: LinuxResources(devices: [LinuxDeviceCgroup(allow: false, access: "rwm")]),
                maskedPaths: ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                              "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
                readonlyPaths: ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]))
    }

    /// The mounts of `runc spec`.
    static let defaultMounts: [Mount] = [
        Mount(destination: "/proc", type: "proc", source: "proc"),
        Mount(destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"]),
        Mount(destination: "/dev/pts", type: "devpts", source: "devpts",
              options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]),
        Mount(destination: "/dev/shm", type: "tmpfs", source: "shm", options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]),
        Mount(destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"]),
        Mount(destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"]),
        Mount(destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup", options: ["nosuid", "noexec", "nodev", "relatime", "ro"]),
    ]

    // MARK: - Users

    /// A resolved `User` field.
    public struct ResolvedUser: Sendable, Hashable {
        /// The uid.
        public var uid: UInt32
        /// The primary gid.
        public var gid: UInt32
        /// Supplementary gids: the primary gid first (as containerd and Docker set it since
        /// CVE-2023-25173, so that dropping the primary group grants nothing), then the groups
        /// that list the user in `/etc/group` when no group was given.
        public var additionalGids: [UInt32]
        /// The home directory from `/etc/passwd`, when the user has an entry.
        public var home: String?
    }

    /// Resolves an image `User` (`""`, `name`, `uid`, `name:group`, `uid:gid`, …) against
    /// the rootfs's `/etc/passwd` and `/etc/group`, as runc's `user.GetExecUser` does.
    public static func resolveUser(_ spec: String, rootfs: String) throws -> ResolvedUser {
        let parts = spec.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let userArg = parts.first ?? "", groupArg = parts.count > 1 ? parts[1] : ""
        let passwd = readConfined(rootfs: rootfs, path: "etc/passwd").map(parseDatabase) ?? []
        let groups = readConfined(rootfs: rootfs, path: "etc/group").map(parseDatabase) ?? []

        var result = ResolvedUser(uid: 0, gid: 0, additionalGids: [], home: nil)
        let numericUser = UInt32(userArg)
        let match = passwd.first { fields in
            guard fields.count >= 7 else { return false }
            if userArg.isEmpty { return fields[2] == "0" }
            return fields[0] == userArg || (numericUser != nil && UInt32(fields[2]) == numericUser)
        }
        var userName: String?
        if let match, let uid = UInt32(match[2]), let gid = UInt32(match[3]) {
            (result.uid, result.gid, result.home, userName) = (uid, gid, match[5], match[0])
        } else if let numericUser {
            result.uid = numericUser
        } else if !userArg.isEmpty {
            throw ImageStoreError(.invalidArgument, "the image's user \"\(spec)\" is not in its /etc/passwd; fix the image's User or give a numeric uid")
        }
        if !groupArg.isEmpty {
            let numericGroup = UInt32(groupArg)
            if let group = groups.first(where: { $0.count >= 3 && ($0[0] == groupArg || (numericGroup != nil && UInt32($0[2]) == numericGroup)) }),
               let gid = UInt32(group[2]) {
                result.gid = gid
            } else if let numericGroup {
                result.gid = numericGroup
            } else {
                throw ImageStoreError(.invalidArgument, "the image's group in user \"\(spec)\" is not in its /etc/group; fix the image's User or give a numeric gid")
            }
        } else if let userName {
            for group in groups where group.count >= 4 {
                if group[3].split(separator: ",").contains(where: { $0 == userName }), let gid = UInt32(group[2]),
                   !result.additionalGids.contains(gid) {
                    result.additionalGids.append(gid)
                }
            }
        }
        result.additionalGids.removeAll { $0 == result.gid }
        result.additionalGids.insert(result.gid, at: 0)
        return result
    }

    /// The gid of group `name` in the rootfs's `/etc/group` (read confined to `rootfs`), or
    /// nil when the image has no such group.
    public static func groupID(named name: String, rootfs: String) -> UInt32? {
        let groups = readConfined(rootfs: rootfs, path: "etc/group").map(parseDatabase) ?? []
        return groups.first { $0.count >= 3 && $0[0] == name }.flatMap { UInt32($0[2]) }
    }

    /// `name:x:…` lines split at `:`; comments and blank lines dropped.
    static func parseDatabase(_ bytes: [UInt8]) -> [[String]] {
        String(decoding: bytes, as: UTF8.self).split(separator: "\n").compactMap { line in
            let trimmed = line.trimmingPrefix(while: { $0 == " " || $0 == "\t" })
            if trimmed.isEmpty || trimmed.hasPrefix("#") { return nil }
            return trimmed.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        }
    }

    /// Reads `path` inside `rootfs`, resolving symlinks as if `rootfs` were `/` (openat2
    /// `RESOLVE_IN_ROOT`): an image's `/etc/passwd -> /etc/shadow` reads the image's file,
    /// never the host's. Nil when missing, not a regular file, or over 4 MiB.
    static func readConfined(rootfs: String, path: String) -> [UInt8]? {
        let rootFD = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC)
        guard rootFD >= 0 else { return nil }
        defer { close(rootFD) }
        let fd = kujira_openat2(rootFD, path, UInt64(O_RDONLY | O_CLOEXEC | O_NONBLOCK), 0,
                                UInt64(KUJIRA_RESOLVE_IN_ROOT | KUJIRA_RESOLVE_NO_MAGICLINKS))
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG, info.st_size <= 4 << 20 else { return nil }
        return try? FileSystem.readAll(fd, path: path, sizeHint: Int(info.st_size))
    }
}
