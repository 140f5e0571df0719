// cgroup v1 devices controller (Documentation/admin-guide/cgroup-v1/devices.rst).
import KujiraOCI

/// Writes the v1 device allow/deny list.
enum CgroupV1Devices {
    /// Applies `rules` in order on top of "deny everything": `a` goes to `devices.deny`
    /// first, then each rule to `devices.allow` or `devices.deny`, so later rules override
    /// earlier ones as the spec says.
    static func apply(_ directory: String, _ rules: [LinuxDeviceCgroup]) throws {
        try CgroupFS.write(directory, "devices.deny", "a")
        for rule in rules {
            try CgroupFS.write(directory, rule.allow ? "devices.allow" : "devices.deny", try line(rule))
        }
    }

    /// The kernel's text for a rule: `c 1:3 rwm`, `b *:* r`, `a`.
    static func line(_ rule: LinuxDeviceCgroup) throws -> String {
        let rule = try CgroupDeviceRule(rule)
        if rule.type == "a" && rule.major == nil && rule.minor == nil && rule.access == "rwm" { return "a" }
        let major = rule.major.map(String.init) ?? "*"
        let minor = rule.minor.map(String.init) ?? "*"
        return "\(rule.type) \(major):\(minor) \(rule.access)"
    }
}

/// A validated device rule, shared by the v1 list and the v2 eBPF filter.
struct CgroupDeviceRule: Sendable, Hashable {
    /// `a`, `b` or `c`.
    var type: Character
    /// nil for any major.
    var major: Int64?
    /// nil for any minor.
    var minor: Int64?
    /// A non-empty subset of `rwm`, in that order.
    var access: String
    /// Whether the rule allows access.
    var allow: Bool

    /// Validates `rule`: type `a`/`b`/`c` (absent means `a`), access letters from `rwm`
    /// (absent means `rwm`), and numbers that are not negative (-1 is taken as a wildcard).
    init(_ rule: LinuxDeviceCgroup) throws {
        let type = rule.type ?? "a"
        guard type.count == 1, let first = type.first, "abc".contains(first) else {
            throw CgroupError(.invalidResources, "device rule type \"\(type)\" is not one of a, b, c")
        }
        let access = rule.access ?? "rwm"
        guard !access.isEmpty, access.allSatisfy({ "rwm".contains($0) }) else {
            throw CgroupError(.invalidResources, "device rule access \"\(access)\" is not a combination of r, w, m")
        }
        for number in [rule.major, rule.minor].compactMap({ $0 }) where number < -1 || number > Int64(UInt32.max) {
            throw CgroupError(.invalidResources, "device number \(number) in a device rule is out of range")
        }
        self.type = first
        self.major = rule.major == -1 ? nil : rule.major
        self.minor = rule.minor == -1 ? nil : rule.minor
        self.access = String("rwm".filter { access.contains($0) })
        self.allow = rule.allow
    }
}
