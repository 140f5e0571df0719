// Applying CDI container edits to a runtime Spec, as the CDI reference's ContainerEdits.Apply
// does: env entries replace the same key; device nodes are completed from the host node (type,
// major, minor, mode), replace a node at the same path and get a cgroup allow rule; mounts
// replace a mount at the same container path and all mounts are then sorted by depth (parents
// before children); hooks are appended; additional GIDs are added once; Intel RDT settings
// replace the container's; network devices are added to linux.netDevices.

public import KujiraOCI

extension CDIContainerEdits {
    /// Applies the edits to `spec`. Host device nodes are examined with `stat` on this machine
    /// (their `hostPath`, else `path`), unless the node gives its type and numbers.
    /// `netDevices` become `linux.netDevices` entries and `intelRdt` replaces `linux.intelRdt`;
    /// the runtime moves the interfaces and applies resctrl when it creates the container.
    /// Throws ``GPUError/Code-swift.struct/notADevice`` when a node's host path is missing or
    /// not a device, and ``GPUError/Code-swift.struct/deviceConflict`` when two network
    /// devices would get the same name in the container.
    public func apply(to spec: inout Spec) throws {
        if let env, !env.isEmpty {
            var process = spec.process ?? KujiraOCI.Process()
            process.env = CDIContainerEdits.merging(env: env, into: process.env ?? [])
            spec.process = process
        }
        for node in deviceNodes ?? [] {
            try CDIContainerEdits.add(node: node, to: &spec)
        }
        if let mounts, !mounts.isEmpty {
            var specMounts = spec.mounts ?? []
            for mount in mounts {
                specMounts.removeAll { HostRoot.normalize($0.destination) == HostRoot.normalize(mount.containerPath) }
                specMounts.append(KujiraOCI.Mount(
                    destination: mount.containerPath, type: mount.type, source: mount.hostPath,
                    options: mount.options))
            }
            spec.mounts = CDIContainerEdits.sortedByDepth(specMounts)
        }
        for hook in hooks ?? [] {
            var hooks = spec.hooks ?? Hooks()
            let oci = Hook(path: hook.path, args: hook.args, env: hook.env, timeout: hook.timeout)
            switch hook.hookName {
            case "prestart": hooks.prestart = (hooks.prestart ?? []) + [oci]
            case "createRuntime": hooks.createRuntime = (hooks.createRuntime ?? []) + [oci]
            case "createContainer": hooks.createContainer = (hooks.createContainer ?? []) + [oci]
            case "startContainer": hooks.startContainer = (hooks.startContainer ?? []) + [oci]
            case "poststart": hooks.poststart = (hooks.poststart ?? []) + [oci]
            case "poststop": hooks.poststop = (hooks.poststop ?? []) + [oci]
            default:
                throw GPUError(.invalidSpec, "unknown hook name \"\(hook.hookName)\"")
            }
            spec.hooks = hooks
        }
        if let intelRdt {
            // As the reference: the device's Intel RDT settings replace the container's.
            var linux = spec.linux ?? Linux()
            linux.intelRdt = LinuxIntelRdt(
                closID: intelRdt.closID, l3CacheSchema: intelRdt.l3CacheSchema, memBwSchema: intelRdt.memBwSchema,
                enableCMT: intelRdt.enableCMT, enableMBM: intelRdt.enableMBM, schemata: intelRdt.schemata,
                enableMonitoring: intelRdt.enableMonitoring)
            spec.linux = linux
        }
        let gids = (additionalGids ?? []).filter { $0 != 0 }
        if !gids.isEmpty {
            var process = spec.process ?? KujiraOCI.Process()
            var current = process.user.additionalGids ?? []
            for gid in gids where !current.contains(gid) { current.append(gid) }
            process.user.additionalGids = current
            spec.process = process
        }
        if let netDevices, !netDevices.isEmpty {
            try CDIContainerEdits.add(netDevices: netDevices, to: &spec)
        }
    }

    /// Adds `linux.netDevices` entries (host name → container name). An entry for the same
    /// host interface is replaced; two host interfaces given the same container name are a
    /// conflict.
    static func add(netDevices: [CDINetDevice], to spec: inout Spec) throws {
        var linux = spec.linux ?? Linux()
        var entries = linux.netDevices ?? [:]
        for net in netDevices {
            entries[net.hostInterfaceName] = LinuxNetDevice(name: net.name)
        }
        var byName: [String: String] = [:]
        for host in entries.keys.sorted() {
            let name = entries[host]?.name.flatMap { $0.isEmpty ? nil : $0 } ?? host
            if let other = byName[name] {
                throw GPUError(.deviceConflict, "netDevices: host interfaces \(other) and \(host) would both be \"\(name)\" in the container; give them different names")
            }
            byName[name] = host
        }
        linux.netDevices = entries
        spec.linux = linux
   }

    /// `entries` merged into `env`: an entry replaces the one with the same key, in place;
    /// new keys are appended.
    static func merging(env entries: [String], into env: [String]) -> [String] {
        var result = env
        for entry in entries {
            let key = entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)[0]
            if let i = result.firstIndex(where: {
                $0.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)[0] == key
            }) {
                result[i] = entry
            } else {
                result.append(entry)
            }
        }
        return result
    }

    /// Completes a CDI device node from the host node (the reference's `fillMissingInfo`).
    static func completed(_ node: CDIDeviceNode) throws -> CDIDeviceNode {
        var node = node
        let hostPath = (node.hostPath ?? "").isEmpty ? node.path : (node.hostPath ?? node.path)
        let type = node.type ?? ""
        if !type.isEmpty && ((node.major ?? 0) != 0 || type == "p") && node.fileMode != nil {
            return node
        }
        let needsNumbers = type.isEmpty || ((node.major ?? 0) == 0 && type != "p")
        guard let info = HostFileInfo(realPath: hostPath) else {
            if !needsNumbers { return node }
            throw GPUError(.notADevice, "device node \(node.path): host path \(hostPath) does not exist; is the driver loaded?")
        }
        guard let hostType = info.deviceType else {
            if !needsNumbers { return node }
            throw GPUError(.notADevice, "device node \(node.path): host path \(hostPath) is not a device node")
        }
        if type.isEmpty {
            node.type = hostType
        } else if type != hostType && !(type == "u" && hostType == "c") {
            throw GPUError(.notADevice, "device node \(node.path): type \"\(type)\" does not match the host node \(hostPath), which is \"\(hostType)\"")
        }
        if (node.major ?? 0) == 0 && node.type != "p" {
            node.major = info.major
            node.minor = info.minor
        }
        if node.fileMode == nil {
            node.fileMode = info.permissions
        }
        return node
    }

    static func add(node cdiNode: CDIDeviceNode, to spec: inout Spec) throws {
        let node = try completed(cdiNode)
        let type = node.type ?? "c"
        var device = LinuxDevice(
            path: node.path, type: type, major: type == "p" ? nil : node.major ?? 0,
            minor: type == "p" ? nil : node.minor ?? 0, fileMode: node.fileMode, uid: node.uid, gid: node.gid)
        // Like the reference: a node without an owner belongs to the container's user.
        if device.uid == nil, let uid = spec.process?.user.uid, uid > 0 { device.uid = uid }
        if device.gid == nil, let gid = spec.process?.user.gid, gid > 0 { device.gid = gid }
        var linux = spec.linux ?? Linux()
        var devices = linux.devices ?? []
        devices.removeAll { HostRoot.normalize($0.path) == HostRoot.normalize(device.path) }
        devices.append(device)
        linux.devices = devices
        if type == "b" || type == "c" {
            let access = (node.permissions ?? "").isEmpty ? "rwm" : node.permissions ?? "rwm"
            var resources = linux.resources ?? LinuxResources()
            var rules = resources.devices ?? []
            let rule = LinuxDeviceCgroup(allow: true, type: type, major: device.major, minor: device.minor, access: access)
            rules.removeAll { $0.allow && $0.type == type && $0.major == device.major && $0.minor == device.minor }
            rules.append(rule)
            resources.devices = rules
            linux.resources = resources
        }
        spec.linux = linux
    }

    /// Mounts sorted by the depth of their destination, then by destination (the order of the
    /// reference and of Docker and CRI-O), so a parent is mounted before its children.
    static func sortedByDepth(_ mounts: [KujiraOCI.Mount]) -> [KujiraOCI.Mount] {
        func depth(_ m: KujiraOCI.Mount) -> Int {
            HostRoot.normalize(m.destination).filter { $0 == "/" }.count
        }
        return mounts.enumerated().sorted { a, b in
            let da = depth(a.element), db = depth(b.element)
            if da != db { return da < db }
            if a.element.destination != b.element.destination { return a.element.destination < b.element.destination }
            return a.offset < b.offset
        }.map(\.element)
    }
}
