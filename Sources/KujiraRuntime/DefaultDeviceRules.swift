public import KujiraOCI

/// The device cgroup rules every container gets after those of its spec, as runc adds them
/// (libcontainer/specconv `AllowedDevices`): the default devices the init creates in `/dev`,
/// `/dev/pts/*`, `/dev/ptmx`, `/dev/net/tun`, mknod of any device (opening one still needs a
/// rule), and each `linux.devices` entry with full access. Without them a spec whose
/// `linux.resources.devices` starts with runc's deny-all (as `runc spec` writes) could not
/// even create `/dev/null`.
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

    /// `resources` with the default rules and a rule per `devices` entry appended, as the
    /// cgroup driver must apply them.
    public static func applied(to resources: LinuxResources?, devices: [LinuxDevice]?) -> LinuxResources {
        var result = resources ?? LinuxResources()
        var rules = result.devices ?? []
        rules += allowed
        for device in devices ?? [] where device.type == "c" || device.type == "b" || device.type == "u" {
            rules.append(LinuxDeviceCgroup(allow: true, type: device.type == "b" ? "b" : "c",
                                           major: device.major, minor: device.minor, access: "rwm"))
        }
        result.devices = rules
        return result
    }
}
