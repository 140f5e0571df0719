public import KujiraOCI

/// The device cgroup rules every container gets after those of its spec, as runc adds them
/// (libcontainer/specconv `AllowedDevices`): the default devices the init creates in `/dev`,
/// `/dev/pts/*`, `/dev/ptmx`, `/dev/net/tun`, and mknod of any device (opening one still needs
/// a rule). Without them a spec whose `linux.resources.devices` starts with runc's deny-all (as
/// `runc spec` writes) could not even create `/dev/null`. A `linux.devices` entry gets no rule
/// of its own, as with runc: the spec's `linux.resources.devices` decide whether it may be
/// opened (a device given read-only there stays read-only).
public enum DefaultDeviceRules {
    /// runc's list, in its order.
    public static let allowed: [LinuxDeviceCgroup] = [
        LinuxDeviceCgroup(allow: true, type: "c", access: "m"),
        LinuxDeviceCgroup(allow: true, type: "b", access: "m"),
        LinuxDeviceCgroup(allow: true, type: "c", major: 1, minor: 3, access: "rwm"),   // /dev/null
        LinuxDeviceCgroup(allow: true, type: "c", major: 1, minor: 8, access: "rwm"),   // /dev/random
        LinuxDeviceCgroup(allow: true, type: "c", major: 1, minor: 7, access: "rwm"),   // /dev/full
        LinuxDeviceCgroup(allow: true, type: "c", major: 5, minor: 0, access: "rwm"),   // /dev/tty
        LinuxDeviceCgroup(allow: true, type: "c", major: 1, minor: 5, access: "rwm"),   // /dev/zero
        LinuxDeviceCgroup(allow: true, type: "c", major: 1, minor: 9, access: "rwm"),   // /dev/urandom
        LinuxDeviceCgroup(allow: true, type: "c", major: 136, access: "rwm"),           // /dev/pts/*
        LinuxDeviceCgroup(allow: true, type: "c", major: 5, minor: 2, access: "rwm"),   // /dev/ptmx
        LinuxDeviceCgroup(allow: true, type: "c", major: 10, minor: 200, access: "rwm"), // /dev/net/tun
    ]

    /// `resources` with the default rules appended, as the cgroup driver must apply them.
    public static func applied(to resources: LinuxResources?) -> LinuxResources {
        var result = resources ?? LinuxResources()
        result.devices = (result.devices ?? []) + allowed
        return result
    }
}
