// `POST /containers/create`: Docker's `Config`, `HostConfig` and `NetworkingConfig` mapped
// onto the engine's ContainerOptions. A field the engine cannot honour is refused with 400
// naming it whenever the client set it to anything but its default — never ignored.

import Foundation
import Kujira
import KujiraOCI

/// The mapping of a create request onto ``ContainerOptions``.
enum ContainerCreateRequest {
    /// Config fields that are mapped, or that only concern the client's attach and are
    /// harmless (`AttachStdout`, `AttachStderr`, `ArgsEscaped`).
    static let mappedConfig: Set<String> = [
        "Image", "Cmd", "Entrypoint", "Env", "WorkingDir", "User", "Hostname", "Labels", "StopSignal", "StopTimeout",
        "AttachStdout", "AttachStderr", "ArgsEscaped", "HostConfig", "NetworkingConfig", "Tty", "OpenStdin", "StdinOnce",
        "AttachStdin", "Volumes", "ExposedPorts", "MacAddress", "Healthcheck", "Domainname",
    ]
    /// HostConfig fields that are mapped.
    static let mappedHost: Set<String> = [
        "Binds", "Mounts", "Tmpfs", "AutoRemove", "RestartPolicy", "NetworkMode", "Memory", "MemorySwap", "CpuShares",
        "NanoCpus", "PidsLimit", "CapAdd", "CapDrop", "Privileged", "ReadonlyRootfs", "SecurityOpt", "Ulimits",
        "Devices", "DeviceRequests", "LogConfig", "MemorySwappiness", "IpcMode", "CgroupnsMode", "ConsoleSize",
        "VolumesFrom", "VolumeDriver", "PortBindings", "PublishAllPorts", "Dns", "DnsSearch", "DnsOptions", "ExtraHosts",
        "Init", "ShmSize", "Sysctls", "GroupAdd", "OomScoreAdj", "OomKillDisable", "MemoryReservation", "CpuQuota",
        "CpuPeriod", "CpusetCpus", "CpusetMems", "BlkioWeight", "CgroupParent", "PidMode", "UTSMode",
    ]

    /// Whether `value` is what a client sends for an option it did not set: null, false,
    /// 0, "", an empty list or object, or a list or object of such values.
    static func isDefault(_ value: Any?) -> Bool {
        switch value {
        case nil, is NSNull: return true
        case let flag as Bool: return !flag
        case let number as NSNumber: return number.doubleValue == 0
        case let text as String: return text.isEmpty
        case let list as [Any]: return list.allSatisfy { isDefault($0) }
        case let object as [String: Any]: return object.values.allSatisfy { isDefault($0) }
        default: return false
        }
    }

    static func unsupported(_ field: String, _ what: String = "") -> APIError {
        APIError(400, "\(field) is not supported by kujirad (the Kujira engine)\(what.isEmpty ? "" : ": \(what)"); remove it from the request")
    }

    /// A string list field (`["a","b"]`, or a single string as older clients send).
    static func strings(_ value: Any?, field: String) throws -> [String]? {
        switch value {
        case nil, is NSNull: return nil
        case let list as [Any]:
            return try list.map { item in
                guard let text = item as? String else { throw APIError(400, "\(field) must be a list of strings") }
                return text
            }
        case let text as String: return [text]
        default: throw APIError(400, "\(field) must be a list of strings")
        }
    }

    static func int64(_ value: Any?, field: String) throws -> Int64? {
        switch value {
        case nil, is NSNull: return nil
        case let number as NSNumber: return number.int64Value
        default: throw APIError(400, "\(field) must be a number")
        }
    }

    static func bool(_ value: Any?) -> Bool { (value as? NSNumber)?.boolValue ?? false }

    /// The options for `body` (the create request's JSON) and container `name`.
    static func options(body: Any?, name: String?) throws -> ContainerOptions {
        guard let config = body as? [String: Any] else { throw APIError(400, "the request body must be a JSON object (the container's Config)") }
        guard let image = config["Image"] as? String, !image.isEmpty else { throw APIError(400, "Config.Image is required") }
        var options = ContainerOptions(image: image)
        if let name, !name.isEmpty { options.name = name.hasPrefix("/") ? String(name.dropFirst()) : name }

        for (key, value) in config where !mappedConfig.contains(key) && !isDefault(value) {
            throw unsupported("Config.\(key)")
        }
        // `-t`: a terminal held by the monitor; `-i`: stdin kept open (a pipe the monitor
        // writes attached clients' input into); `StdinOnce` (`run -i` without `-d`): it
        // closes when the first attached client's input ends.
        options.tty = bool(config["Tty"])
        options.interactive = bool(config["OpenStdin"])
        options.stdinOnce = bool(config["StdinOnce"])
        if options.stdinOnce && !options.interactive {
            throw APIError(400, "Config.StdinOnce needs Config.OpenStdin (docker run -i)")
        }
        let cmd = try strings(config["Cmd"], field: "Config.Cmd") ?? []
        options.command = cmd
        if let entrypoint = try strings(config["Entrypoint"], field: "Config.Entrypoint") {
            if entrypoint.isEmpty || entrypoint == [""] {
                options.entrypoint = ""
            } else {
                options.entrypoint = entrypoint[0]
                options.command = Array(entrypoint.dropFirst()) + cmd
            }
        }
        options.env = try strings(config["Env"], field: "Config.Env") ?? []
        if let dir = config["WorkingDir"] as? String, !dir.isEmpty { options.workingDir = dir }
        if let user = config["User"] as? String, !user.isEmpty { options.user = user }
        if let host = config["Hostname"] as? String, !host.isEmpty { options.hostname = host }
        if let domain = config["Domainname"] as? String, !domain.isEmpty { options.domainname = domain }
        if let labels = config["Labels"] as? [String: Any] {
            options.labels = try labels.sorted { $0.key < $1.key }.map { key, value in
                guard let text = value as? String else { throw APIError(400, "Config.Labels values must be strings") }
                return "\(key)=\(text)"
            }
        }
        if let signal = config["StopSignal"] as? String, !signal.isEmpty { options.stopSignal = signal }
        if let timeout = try int64(config["StopTimeout"], field: "Config.StopTimeout") { options.stopTimeout = Int(timeout) }

        if let check = config["Healthcheck"], !isDefault(check) { options.healthcheck = try healthcheck(check) }

        if let host = config["HostConfig"] as? [String: Any] { try applyHostConfig(host, to: &options) }
        // `Volumes`: anonymous volumes (`-v /data`), as a set of paths. A path that a bind or
        // mount already covers is skipped, as dockerd does (docker-py lists its binds here).
        if let volumes = config["Volumes"] as? [String: Any] {
            let covered = Set(options.volumes.compactMap { bind -> String? in
                let parts = bind.split(separator: ":")
                return parts.count >= 2 ? String(parts[1]) : nil
            } + options.mounts.compactMap { mount -> String? in
                mount.split(separator: ",").first { $0.hasPrefix("target=") }.map { String($0.dropFirst("target=".count)) }
            })
            options.volumes += volumes.keys.sorted().filter { !covered.contains($0) }
        }
        if let exposed = config["ExposedPorts"] as? [String: Any] {
            // The CLI lists `-p` ports here too; only `--expose` adds others.
            let published = Set(options.publish.compactMap { spec in spec.split(separator: ":").last.map { port in
                port.contains("/") ? String(port) : "\(port)/tcp"
            } })
            if let extra = exposed.keys.sorted().first(where: { !published.contains($0) && !published.contains("\($0)/tcp") }) {
                throw unsupported("Config.ExposedPorts \(extra)", "--expose is not supported; publish the port with -p")
            }
        }
        if let mac = config["MacAddress"] as? String, !mac.isEmpty { options.macAddress = mac }
        if let networking = config["NetworkingConfig"] as? [String: Any] {
            try applyNetworking(networking, to: &options)
        }
        return options
    }

    static func applyHostConfig(_ host: [String: Any], to options: inout ContainerOptions) throws {
        for (key, value) in host where !mappedHost.contains(key) && !isDefault(value) {
            throw unsupported("HostConfig.\(key)")
        }
        options.volumes = (try strings(host["Binds"], field: "HostConfig.Binds") ?? []) + options.volumes
        if let driver = host["VolumeDriver"] as? String, !driver.isEmpty, driver != "local" {
            throw unsupported("HostConfig.VolumeDriver \(driver)", "only the local volume driver exists")
        }
        if let mounts = host["Mounts"] as? [Any] {
            for case let mount as [String: Any] in mounts {
                options.mounts.append(try mountFlag(mount))
            }
        }
        options.volumesFrom = try strings(host["VolumesFrom"], field: "HostConfig.VolumesFrom") ?? []
        if let tmpfs = host["Tmpfs"] as? [String: Any] {
            for (path, value) in tmpfs.sorted(by: { $0.key < $1.key }) {
                let mountOptions = value as? String ?? ""
                options.tmpfs.append(mountOptions.isEmpty ? path : "\(path):\(mountOptions)")
            }
        }
        options.autoRemove = bool(host["AutoRemove"])
        if let policy = host["RestartPolicy"] as? [String: Any], let name = policy["Name"] as? String, !name.isEmpty {
            let count = try int64(policy["MaximumRetryCount"], field: "RestartPolicy.MaximumRetryCount") ?? 0
            options.restart = count > 0 ? "\(name):\(count)" : name
        }
        if options.autoRemove && options.restart != "no" {
            throw APIError(400, "conflicting options: cannot combine AutoRemove with restart policy \(options.restart)")
        }
        // The default network is `bridge`, as on Docker; user networks, host, none and
        // container:NAME are the engine's.
        switch host["NetworkMode"] as? String ?? "" {
        case "", "default": options.network = "bridge"
        case let mode: options.network = mode
        }
        options.publish = try portBindings(host["PortBindings"])
        options.publishAll = bool(host["PublishAllPorts"])
        options.dns = try strings(host["Dns"], field: "HostConfig.Dns") ?? []
        if let search = try strings(host["DnsSearch"], field: "HostConfig.DnsSearch"), !search.isEmpty { options.dnsSearch = search }
        options.dnsOptions = try strings(host["DnsOptions"], field: "HostConfig.DnsOptions") ?? []
        options.addHosts = try strings(host["ExtraHosts"], field: "HostConfig.ExtraHosts") ?? []
        if let memory = try int64(host["Memory"], field: "HostConfig.Memory"), memory > 0 { options.memory = "\(memory)" }
        if let swap = try int64(host["MemorySwap"], field: "HostConfig.MemorySwap"), swap != 0 { options.memorySwap = "\(swap)" }
        if let swappiness = try int64(host["MemorySwappiness"], field: "HostConfig.MemorySwappiness"), swappiness != -1 {
            throw unsupported("HostConfig.MemorySwappiness")
        }
        if let shares = try int64(host["CpuShares"], field: "HostConfig.CpuShares"), shares > 0 { options.cpuShares = shares }
        if let nano = try int64(host["NanoCpus"], field: "HostConfig.NanoCpus"), nano > 0 { options.cpus = Double(nano) / 1e9 }
        if let pids = try int64(host["PidsLimit"], field: "HostConfig.PidsLimit"), pids > 0 { options.pidsLimit = pids }
        options.capAdd = try strings(host["CapAdd"], field: "HostConfig.CapAdd") ?? []
        options.capDrop = try strings(host["CapDrop"], field: "HostConfig.CapDrop") ?? []
        options.privileged = bool(host["Privileged"])
        options.readOnly = bool(host["ReadonlyRootfs"])
        options.securityOpt = try strings(host["SecurityOpt"], field: "HostConfig.SecurityOpt") ?? []
        if let ulimits = host["Ulimits"] as? [Any] {
            for case let limit as [String: Any] in ulimits {
                guard let name = limit["Name"] as? String, let soft = try int64(limit["Soft"], field: "Ulimits.Soft"),
                      let hard = try int64(limit["Hard"], field: "Ulimits.Hard") else {
                    throw APIError(400, "HostConfig.Ulimits entries need Name, Soft and Hard")
                }
                options.ulimits.append("\(name)=\(soft):\(hard)")
            }
        }
        if let devices = host["Devices"] as? [Any] {
            for case let device as [String: Any] in devices {
                guard let onHost = device["PathOnHost"] as? String, !onHost.isEmpty else {
                    throw APIError(400, "HostConfig.Devices entries need PathOnHost")
                }
                let inContainer = (device["PathInContainer"] as? String).flatMap { $0.isEmpty ? nil : $0 } ?? onHost
                let permissions = (device["CgroupPermissions"] as? String).flatMap { $0.isEmpty ? nil : $0 } ?? "rwm"
                options.devices.append("\(onHost):\(inContainer):\(permissions)")
            }
        }
        if let requests = host["DeviceRequests"] as? [Any] {
            for case let request as [String: Any] in requests {
                let driver = request["Driver"] as? String ?? ""
                let ids = try strings(request["DeviceIDs"], field: "DeviceRequests.DeviceIDs") ?? []
                if driver == "cdi" {
                    options.devices += ids
                    continue
                }
                let capabilities = (request["Capabilities"] as? [[String]] ?? []).flatMap { $0 }.filter { $0 != "gpu" }
                if !capabilities.isEmpty { throw unsupported("HostConfig.DeviceRequests[].Capabilities \(capabilities)") }
                if let requestOptions = request["Options"], !isDefault(requestOptions) { throw unsupported("HostConfig.DeviceRequests[].Options") }
                var parts: [String] = []
                if !ids.isEmpty {
                    parts.append("device=\(ids.joined(separator: ","))")
                } else {
                    let count = try int64(request["Count"], field: "DeviceRequests.Count") ?? 0
                    parts.append(count < 0 ? "all" : "\(count)")
                }
                if !driver.isEmpty { parts.append("driver=\(driver)") }
                guard options.gpus == nil else { throw unsupported("several HostConfig.DeviceRequests for GPUs") }
                options.gpus = parts.count == 1 ? parts[0] : parts.map { $0 == "all" ? "count=all" : $0 }.joined(separator: ",")
            }
        }
        options.initProcess = bool(host["Init"])
        if let log = host["LogConfig"] as? [String: Any] {
            let type = log["Type"] as? String ?? ""
            guard type.isEmpty || LogConfig.drivers.contains(type) else {
                throw unsupported("HostConfig.LogConfig.Type \(type)", "the log drivers are \(LogConfig.drivers.joined(separator: " and "))")
            }
            if !type.isEmpty { options.logDriver = type }
            if let pairs = try keyValues(log["Config"], field: "HostConfig.LogConfig.Config") { options.logOpts = pairs }
        }
        try applyRunSettings(host, to: &options)
    }

    /// An object of strings (`LogConfig.Config`, `Sysctls`) as `key=value` flags, sorted by
    /// key; nil when absent.
    static func keyValues(_ value: Any?, field: String) throws -> [String]? {
        switch value {
        case nil, is NSNull: return nil
        case let object as [String: Any]:
            return try object.sorted { $0.key < $1.key }.map { key, value in
                guard let text = value as? String else { throw APIError(400, "\(field) values must be strings") }
                return "\(key)=\(text)"
            }
        default: throw APIError(400, "\(field) must be an object of strings")
        }
    }

    /// `ShmSize`, `Sysctls`, `GroupAdd`, the OOM, CPU, cpuset, block I/O and cgroup-parent
    /// settings and the namespace modes; the engine checks their values.
    static func applyRunSettings(_ host: [String: Any], to options: inout ContainerOptions) throws {
        func text(_ key: String) throws -> String? {
            switch host[key] {
            case nil, is NSNull: return nil
            case let value as String: return value.isEmpty ? nil : value
            default: throw APIError(400, "HostConfig.\(key) must be a string")
            }
        }
        if let size = try int64(host["ShmSize"], field: "HostConfig.ShmSize"), size != 0 {
            guard size > 0 else { throw APIError(400, "HostConfig.ShmSize cannot be negative") }
            options.shmSize = "\(size)"
        }
        if let sysctls = try keyValues(host["Sysctls"], field: "HostConfig.Sysctls") { options.sysctls = sysctls }
        options.groupAdd = try strings(host["GroupAdd"], field: "HostConfig.GroupAdd") ?? []
        if let adjust = try int64(host["OomScoreAdj"], field: "HostConfig.OomScoreAdj"), adjust != 0 { options.oomScoreAdj = Int(clamping: adjust) }
        options.oomKillDisable = bool(host["OomKillDisable"])
        if let reservation = try int64(host["MemoryReservation"], field: "HostConfig.MemoryReservation"), reservation != 0 {
            guard reservation > 0 else { throw APIError(400, "HostConfig.MemoryReservation cannot be negative") }
            options.memoryReservation = "\(reservation)"
        }
        if let quota = try int64(host["CpuQuota"], field: "HostConfig.CpuQuota"), quota != 0 { options.cpuQuota = quota }
        if let period = try int64(host["CpuPeriod"], field: "HostConfig.CpuPeriod"), period != 0 { options.cpuPeriod = period }
        options.cpusetCpus = try text("CpusetCpus")
        options.cpusetMems = try text("CpusetMems")
        if let weight = try int64(host["BlkioWeight"], field: "HostConfig.BlkioWeight"), weight != 0 { options.blkioWeight = Int(clamping: weight) }
        options.cgroupParent = try text("CgroupParent")
        options.pid = try text("PidMode")
        options.ipc = try text("IpcMode")
        options.uts = try text("UTSMode")
        options.cgroupns = try text("CgroupnsMode")
    }

    /// `Config.Healthcheck` (`{"Test": [...], "Interval": ns, "Timeout": ns, "StartPeriod": ns,
    /// "StartInterval": ns, "Retries": n}`); the engine merges it with the image's check.
    static func healthcheck(_ value: Any) throws -> Healthcheck {
        guard let check = value as? [String: Any] else { throw APIError(400, "Config.Healthcheck must be an object") }
        let known: Set<String> = ["Test", "Interval", "Timeout", "StartPeriod", "StartInterval", "Retries"]
        for (key, value) in check where !known.contains(key) && !isDefault(value) { throw unsupported("Config.Healthcheck.\(key)") }
        let retries = try int64(check["Retries"], field: "Config.Healthcheck.Retries")
        return Healthcheck(test: try strings(check["Test"], field: "Config.Healthcheck.Test"),
                           interval: try int64(check["Interval"], field: "Config.Healthcheck.Interval"),
                           timeout: try int64(check["Timeout"], field: "Config.Healthcheck.Timeout"),
                           startPeriod: try int64(check["StartPeriod"], field: "Config.Healthcheck.StartPeriod"),
                           startInterval: try int64(check["StartInterval"], field: "Config.Healthcheck.StartInterval"),
                           retries: retries.map { Int(clamping: $0) })
    }

    /// A `Mounts` entry as the `--mount` flag the engine parses.
    static func mountFlag(_ mount: [String: Any]) throws -> String {
        let type = mount["Type"] as? String ?? "volume"
        guard ["bind", "volume", "tmpfs"].contains(type) else {
            throw unsupported("HostConfig.Mounts of type \(type)", "bind, volume and tmpfs mounts are")
        }
        let target = mount["Target"] as? String ?? ""
        guard !target.isEmpty else { throw APIError(400, "HostConfig.Mounts: a \(type) mount needs a Target") }
        var parts = ["type=\(type)"]
        if let source = mount["Source"] as? String, !source.isEmpty { parts.append("source=\(source)") }
        parts.append("target=\(target)")
        if bool(mount["ReadOnly"]) { parts.append("readonly") }
        for key in ["Consistency"] where !isDefault(mount[key]) && mount[key] as? String != "default" {
            throw unsupported("HostConfig.Mounts[].\(key)")
        }
        if let bind = mount["BindOptions"] as? [String: Any] {
            if let propagation = bind["Propagation"] as? String, !propagation.isEmpty { parts.append("bind-propagation=\(propagation)") }
            if bool(bind["CreateMountpoint"]) { parts.append("bind-create-src") }
            for (key, value) in bind where !["Propagation", "CreateMountpoint"].contains(key) && !isDefault(value) {
                throw unsupported("HostConfig.Mounts[].BindOptions.\(key)")
            }
        }
        if let volume = mount["VolumeOptions"] as? [String: Any] {
            if bool(volume["NoCopy"]) { parts.append("volume-nocopy") }
            if let labels = volume["Labels"] as? [String: String] {
                parts += labels.sorted { $0.key < $1.key }.map { "volume-label=\($0.key)=\($0.value)" }
            }
            if let driver = volume["DriverConfig"] as? [String: Any] {
                if let name = driver["Name"] as? String, !name.isEmpty { parts.append("volume-driver=\(name)") }
                if let driverOptions = driver["Options"] as? [String: String] {
                    parts += driverOptions.sorted { $0.key < $1.key }.map { "volume-opt=\($0.key)=\($0.value)" }
                }
            }
            for (key, value) in volume where !["NoCopy", "Labels", "DriverConfig"].contains(key) && !isDefault(value) {
                throw unsupported("HostConfig.Mounts[].VolumeOptions.\(key)")
            }
        }
        if let tmpfs = mount["TmpfsOptions"] as? [String: Any] {
            if let size = try int64(tmpfs["SizeBytes"], field: "TmpfsOptions.SizeBytes"), size > 0 { parts.append("tmpfs-size=\(size)") }
            if let mode = try int64(tmpfs["Mode"], field: "TmpfsOptions.Mode"), mode > 0 { parts.append("tmpfs-mode=\(String(mode, radix: 8))") }
            for (key, value) in tmpfs where !["SizeBytes", "Mode"].contains(key) && !isDefault(value) {
                throw unsupported("HostConfig.Mounts[].TmpfsOptions.\(key)")
            }
        }
        for (key, value) in mount where !["Type", "Source", "Target", "ReadOnly", "Consistency", "BindOptions", "VolumeOptions", "TmpfsOptions"].contains(key) && !isDefault(value) {
            throw unsupported("HostConfig.Mounts[].\(key)")
        }
        return parts.joined(separator: ",")
    }

    /// `HostConfig.PortBindings` (`{"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}]}`)
    /// as `-p` arguments; a port with no binding, or an empty `HostPort`, gets an ephemeral one.
    static func portBindings(_ value: Any?) throws -> [String] {
        guard let bindings = value as? [String: Any] else {
            if isDefault(value) { return [] }
            throw APIError(400, "HostConfig.PortBindings must be an object of \"PORT/PROTO\": [{HostIp, HostPort}]")
        }
        var specs: [String] = []
        for (port, list) in bindings.sorted(by: { $0.key < $1.key }) {
            let entries = (list as? [Any])?.compactMap { $0 as? [String: Any] } ?? []
            if entries.isEmpty { specs.append(port); continue }
            for entry in entries {
                let ip = entry["HostIp"] as? String ?? ""
                let hostPort = entry["HostPort"] as? String ?? ""
                if ip.isEmpty {
                    specs.append(hostPort.isEmpty ? port : "\(hostPort):\(port)")
                } else {
                    specs.append("\(ip.contains(":") ? "[\(ip)]" : ip):\(hostPort):\(port)")
                }
            }
        }
        return specs
    }

    /// `NetworkingConfig.EndpointsConfig`: the endpoint of the network mode gives aliases,
    /// addresses (`IPAMConfig`) and the MAC address; endpoints of other networks join them
    /// too (API 1.44+), without settings of their own.
    static func applyNetworking(_ networking: [String: Any], to options: inout ContainerOptions) throws {
        for (key, value) in networking where key != "EndpointsConfig" && !isDefault(value) {
            throw unsupported("NetworkingConfig.\(key)")
        }
        guard let endpoints = networking["EndpointsConfig"] as? [String: Any] else { return }
        let known: Set<String> = ["Aliases", "IPAMConfig", "MacAddress", "NetworkID", "EndpointID", "Gateway", "IPAddress",
                                  "IPPrefixLen", "IPv6Gateway", "GlobalIPv6Address", "GlobalIPv6PrefixLen", "DriverOpts", "DNSNames", "Links"]
        for network in endpoints.keys.sorted() {
            let settings = endpoints[network] as? [String: Any] ?? [:]
            let field = "NetworkingConfig.EndpointsConfig[\(network)]"
            for (key, value) in settings where !known.contains(key) && !isDefault(value) { throw unsupported("\(field).\(key)") }
            for key in ["Links", "DriverOpts"] where !isDefault(settings[key]) { throw unsupported("\(field).\(key)") }
            let isMode = network == options.network || (options.network == "bridge" && network == "default")
            guard isMode else {
                guard !["host", "none"].contains(network), !options.network.hasPrefix("container:") else {
                    throw APIError(400, "container cannot be connected to network \(network) and \(options.network) at once")
                }
                for key in ["Aliases", "IPAMConfig", "MacAddress"] where !isDefault(settings[key]) {
                    throw unsupported("\(field).\(key)", "addresses and aliases apply to the first network; connect the others with docker network connect")
                }
                if !options.additionalNetworks.contains(network) { options.additionalNetworks.append(network) }
                continue
            }
            options.networkAliases = try strings(settings["Aliases"], field: "\(field).Aliases") ?? []
            if let ipam = settings["IPAMConfig"] as? [String: Any] {
                for (key, value) in ipam where !["IPv4Address", "IPv6Address"].contains(key) && !isDefault(value) {
                    throw unsupported("\(field).IPAMConfig.\(key)")
                }
                if let v4 = ipam["IPv4Address"] as? String, !v4.isEmpty { options.ip = v4 }
                if let v6 = ipam["IPv6Address"] as? String, !v6.isEmpty { options.ip6 = v6 }
            }
            if let mac = settings["MacAddress"] as? String, !mac.isEmpty { options.macAddress = mac }
        }
    }
}
