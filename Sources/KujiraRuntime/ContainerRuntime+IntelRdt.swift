// linux.intelRdt: the container's resctrl group (config-linux.md, "IntelRdt"), applied at
// create when a resctrl filesystem is mounted, and a clear error when none is.
//
//     "intelRdt": {"closID": "gold", "l3CacheSchema": "L3:0=ff", "memBwSchema": "MB:0=50"}
//
// The group is <resctrl>/<closID>, or <resctrl>/<container id> without a closID; the init's
// pid goes into its `tasks` (or, with monitoring, into mon_groups/<container id>/tasks).
// Delete removes what was made for the container alone: the <container id> group and the
// monitoring group. A named closID group may be shared by other containers and stays.

import KujiraOCI
import Glibc

/// The resctrl side of `linux.intelRdt`; `mountPoint` is a parameter so tests can use a
/// directory that looks like one.
struct ResctrlGroup {
    /// The resctrl mount.
    let mountPoint: String
    /// The settings.
    let rdt: LinuxIntelRdt
    /// The container's id.
    let containerID: String

    /// The mount point of the resctrl filesystem in this mount namespace, or nil.
    static func mountPoint(mountinfo: String) -> String? {
        for line in mountinfo.split(separator: "\n") {
            // "<id> <parent> <dev> <root> <mount point> <options> [optional…] - <fstype> <source> <super options>"
            let fields = line.split(separator: " ")
            guard let dash = fields.firstIndex(of: "-"), dash + 1 < fields.count, fields.count > 4,
                  fields[dash + 1] == "resctrl" else { continue }
            return unescapeMountinfo(String(fields[4]))
        }
        return nil
    }

    /// The group's directory.
    var groupPath: String { mountPoint + "/" + (nonEmpty(rdt.closID) ?? containerID) }

    /// Whether a monitoring group is asked for.
    var monitors: Bool { rdt.enableMonitoring == true || rdt.enableCMT == true || rdt.enableMBM == true }

    /// The lines for the group's `schemata` file, in the spec's order: `l3CacheSchema` (less
    /// its `MB:` lines when `memBwSchema` is set), `memBwSchema`, then `schemata`.
    var schemataLines: [String] {
        var lines: [String] = []
        if let l3 = nonEmpty(rdt.l3CacheSchema) {
            lines += l3.split(separator: "\n").map(String.init)
                .filter { nonEmpty(rdt.memBwSchema) == nil || !$0.hasPrefix("MB:") }
        }
        if let mb = nonEmpty(rdt.memBwSchema) { lines.append(mb) }
        lines += (rdt.schemata ?? []).filter { !$0.isEmpty }
        return lines
    }

    /// Checks the settings against the spec's rules, before anything is created.
    func validate() throws {
        if let closID = rdt.closID, closID.isEmpty || closID == "." || closID == ".." || closID.contains("/") || closID.contains("\n") {
            throw RuntimeError(.invalidConfig, "linux.intelRdt.closID \"\(closID)\" is not a valid resctrl group name")
        }
        if let mb = nonEmpty(rdt.memBwSchema), !mb.hasPrefix("MB:") || mb.contains("\n") {
            throw RuntimeError(.invalidConfig, "linux.intelRdt.memBwSchema \"\(mb)\" must be one line starting with \"MB:\"")
        }
        if nonEmpty(rdt.closID) != nil, schemataLines.isEmpty, !FileIO.isDirectory(groupPath) {
            throw RuntimeError(.invalidConfig, "linux.intelRdt.closID \"\(rdt.closID ?? "")\" names no resctrl group (\(groupPath) does not exist) and the spec gives no schema to create it with; create the group first or add l3CacheSchema, memBwSchema or schemata")
        }
        if monitors, !FileIO.isDirectory(mountPoint + "/info/L3_MON") {
            throw RuntimeError(.unsupported, "linux.intelRdt asks for monitoring (enableMonitoring, enableCMT or enableMBM), but this host's resctrl has no monitoring (\(mountPoint)/info/L3_MON is missing)")
        }
    }

    /// Creates or checks the group, writes its schemata, and puts `pid` into it.
    func apply(pid: pid_t) throws {
        let existed = FileIO.isDirectory(groupPath)
        if !existed {
            guard mkdir(groupPath, 0o755) == 0 || errno == EEXIST else {
                throw RuntimeError.posix("creating the resctrl group \(groupPath) for linux.intelRdt")
            }
        }
        do {
            try fill(existed: existed, pid: pid)
        } catch {
            if monitors { rmdir(groupPath + "/mon_groups/" + containerID) }
            if !existed { rmdir(groupPath) }
            throw error
        }
    }

    private func fill(existed: Bool, pid: pid_t) throws {
        let lines = schemataLines
        if existed, nonEmpty(rdt.closID) != nil {
            // An existing named group must already have the requested L3 and MB schemas.
            let current = Set(((try FileIO.readText(groupPath + "/schemata")) ?? "")
                .split(separator: "\n").map { Self.normalized(String($0)) })
            let requested = lines.prefix(lines.count - (rdt.schemata ?? []).filter { !$0.isEmpty }.count)
            for line in requested where !current.contains(Self.normalized(line)) {
                throw RuntimeError(.invalidConfig, "linux.intelRdt: the existing resctrl group \(groupPath) does not have \"\(line)\" in its schemata; use another closID or change the group")
            }
            for line in (rdt.schemata ?? []) where !line.isEmpty {
                try write(line + "\n", to: groupPath + "/schemata")
            }
        } else if !lines.isEmpty {
            for line in lines { try write(line + "\n", to: groupPath + "/schemata") }
        }
        var tasks = groupPath + "/tasks"
        if monitors {
            let monitor = groupPath + "/mon_groups/" + containerID
            guard mkdir(monitor, 0o755) == 0 || errno == EEXIST else {
                throw RuntimeError.posix("creating the resctrl monitoring group \(monitor)")
            }
            tasks = monitor + "/tasks"
        }
        try write("\(pid)\n", to: tasks)
    }

    /// Removes what `apply` made for this container alone (called by delete; errors ignored
    /// by the caller: the kernel refuses to remove a group some task still uses).
    func remove() {
        if monitors { rmdir(groupPath + "/mon_groups/" + containerID) }
        if nonEmpty(rdt.closID) == nil { rmdir(mountPoint + "/" + containerID) }
    }

    private func write(_ text: String, to path: String) throws {
        do {
            try FileIO.writeExisting(path, text)
        } catch let error as RuntimeError {
            throw RuntimeError(.io, "linux.intelRdt: writing \"\(text.dropLast())\" to \(path)", cause: error.cause ?? error)
        }
    }

    /// A schemata line without spaces, with the resource name upper-cased and leading zeros
    /// of each domain's value dropped, as the kernel prints it.
    static func normalized(_ line: String) -> String {
        let compact = line.filter { !$0.isWhitespace }
        guard let colon = compact.firstIndex(of: ":") else { return compact }
        let domains = compact[compact.index(after: colon)...].split(separator: ";").map { domain -> String in
            let parts = domain.split(separator: "=", maxSplits: 1)
            guard parts.count == 2 else { return String(domain) }
            let value = parts[1].drop { $0 == "0" }
            return parts[0] + "=" + (value.isEmpty ? "0" : value.lowercased())
        }
        return compact[..<colon].uppercased() + ":" + domains.joined(separator: ";")
    }
}

private func nonEmpty(_ text: String?) -> String? {
    guard let text, !text.isEmpty else { return nil }
    return text
}

extension ContainerRuntime {
    /// The resctrl group of `spec`'s `linux.intelRdt`, validated; nil without `intelRdt`.
    /// Throws a clear error when no resctrl filesystem is mounted.
    static func resctrlGroup(of spec: Spec, containerID: String, mountinfo: String? = nil) throws -> ResctrlGroup? {
        guard let rdt = spec.linux?.intelRdt else { return nil }
        let text = try mountinfo ?? FileIO.readText("/proc/self/mountinfo") ?? ""
        guard let mountPoint = ResctrlGroup.mountPoint(mountinfo: text) else {
            throw RuntimeError(.unsupported, "linux.intelRdt is set, but no resctrl filesystem is mounted on this host (`mount -t resctrl resctrl /sys/fs/resctrl` on a CPU with Intel RDT or AMD PQoS); remove linux.intelRdt from config.json or mount resctrl")
        }
        let group = ResctrlGroup(mountPoint: mountPoint, rdt: rdt, containerID: containerID)
        try group.validate()
        return group
    }

    /// Removes the resctrl groups made for container `id` of `spec` at create, if any.
    static func removeResctrlGroup(of spec: Spec, containerID: String) {
        guard let rdt = spec.linux?.intelRdt,
              let text = try? FileIO.readText("/proc/self/mountinfo"),
              let mountPoint = ResctrlGroup.mountPoint(mountinfo: text) else { return }
        ResctrlGroup(mountPoint: mountPoint, rdt: rdt, containerID: containerID).remove()
    }
}
