// How a container's record and runtime spec are made from an image and `ContainerOptions`,
// by Docker's rules: `--entrypoint` replaces the image's ENTRYPOINT and drops its CMD, a
// command replaces CMD, `-e`/`--env-file` replace image variables of the same name, `-u`/`-w`
// replace USER/WORKDIR, labels are the image's then the user's.

import KujiraGPU
import KujiraImage
import KujiraOCI
import KujiraRuntime
import Foundation
#if canImport(Glibc)
import Glibc
#endif

enum ContainerSpecBuilder {
    /// The record of a new container (name filled in later, under the lock).
    static func record(id: String, options: ContainerOptions, image: ImageDetails, imageID: String,
                       rootfs: String, logPath: String) throws -> ContainerRecord {
        try record(id: id, options: options, imageConfig: image.configuration.config ?? ImageConfig(), imageID: imageID,
                   rootfs: rootfs, logPath: logPath)
    }

    /// The record of a new container from the image's `imageConfig`.
    static func record(id: String, options: ContainerOptions, imageConfig: ImageConfig, imageID: String,
                       rootfs: String, logPath: String) throws -> ContainerRecord {
        let entrypoint: [String]
        var cmd: [String]
        if let given = options.entrypoint {
            entrypoint = given.isEmpty ? [] : [given]
            cmd = options.command
        } else {
            entrypoint = imageConfig.entrypoint ?? []
            cmd = options.command.isEmpty ? (imageConfig.cmd ?? []) : options.command
        }
        if entrypoint.isEmpty && cmd.isEmpty {
            throw EngineError(.invalidArgument, "no command specified: image \(options.image) has no ENTRYPOINT or CMD; give a command")
        }
        if options.entrypoint != nil && options.command.isEmpty { cmd = [] }
        var env = imageConfig.env ?? []
        if !env.contains(where: { $0.hasPrefix("PATH=") }) { env.insert(BundleSpec.defaultPath, at: 0) }
        for entry in try userEnvironment(options) { setEnv(&env, entry) }
        var labels = imageConfig.labels ?? [:]
        for label in options.labels {
            let parts = label.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            labels[parts[0]] = parts.count > 1 ? parts[1] : ""
        }
        let stopSignal = options.stopSignal ?? imageConfig.stopSignal.flatMap { $0.isEmpty ? nil : $0 } ?? "SIGTERM"
        _ = try Signals.parse(stopSignal)
        let memory = try options.memory.map(parseBytes) ?? 0
        let swap = try options.memorySwap.map { $0 == "-1" ? -1 : try parseBytes($0) } ?? 0
        let shortID = String(id.prefix(12))
        var tmpfs: [String: String] = [:]
        for entry in options.tmpfs {
            let parts = entry.split(separator: ":", maxSplits: 1).map(String.init)
            guard let destination = parts.first, destination.hasPrefix("/") else {
                throw EngineError(.invalidArgument, "--tmpfs \(entry): the path must be absolute")
            }
            tmpfs[destination] = parts.count > 1 ? parts[1] : ""
        }
        // Bind and volume mounts are added by `Engine.attachMounts` (Engine+Volumes.swift).
        var mounts: [ContainerMount] = []
        mounts += tmpfs.keys.sorted().map { ContainerMount(type: "tmpfs", source: "", destination: $0, rw: true) }

        return try ContainerRecord(
            id: id, name: "", created: SystemSupport.timestamp(), image: options.image, imageID: imageID,
            config: ContainerConfig(
                hostname: options.hostname ?? (options.network == "host" || options.uts == "host" ? hostHostname() : shortID),
                user: options.user ?? imageConfig.user ?? "", env: env, cmd: cmd, entrypoint: entrypoint,
                workingDir: options.workingDir ?? imageConfig.workingDir ?? "", labels: labels,
                stopSignal: stopSignal, stopTimeout: options.stopTimeout ?? 10, openStdin: options.interactive,
                tty: options.tty, stdinOnce: options.stdinOnce && options.interactive),
            hostConfig: ContainerHostConfig(
                autoRemove: options.autoRemove, restartPolicy: try RestartPolicy.parse(options.restart),
                networkMode: options.network, memory: memory, memorySwap: swap, cpuShares: options.cpuShares ?? 0,
                nanoCpus: Int64((options.cpus ?? 0) * 1e9), pidsLimit: options.pidsLimit ?? 0,
                capAdd: options.capAdd, capDrop: options.capDrop, privileged: options.privileged,
                readonlyRootfs: options.readOnly, securityOpt: options.securityOpt, binds: options.volumes,
                tmpfs: tmpfs, ulimits: options.ulimits, gpus: options.gpus, devices: options.devices,
                initProcess: options.initProcess),
            mounts: mounts, state: .created, restartCount: 0, rootfsPath: rootfs, logPath: logPath)
            .withHealthcheck(try Healthcheck.merged(image: imageConfig.healthcheck, options: options))
            .withLogConfig(try LogConfig.parse(driver: options.logDriver, options: options.logOpts))
            .withRunSettings(options)
    }

    /// The runtime spec of `record`, written as the bundle's config.json. Also writes the
    /// container's /etc/hostname, /etc/hosts and /etc/resolv.conf into `directory`. `--gpus`
    /// and `--device` are applied last, through `injector`.
    static func spec(record: ContainerRecord, image: ImageConfiguration, options: ContainerOptions, directory: String,
                     injector: @autoclosure () -> DeviceInjector) throws -> Spec {
        var configuration = image
        var config = configuration.config ?? ImageConfig()
        config.entrypoint = record.config.entrypoint
        config.cmd = record.config.cmd
        config.env = record.config.env
        config.user = record.config.user
        config.workingDir = record.config.workingDir
        config.labels = record.config.labels
        configuration.config = config
        var spec = try BundleSpec.make(from: configuration, rootfs: record.rootfsPath)
        spec.root = Root(path: record.rootfsPath, readonly: record.hostConfig.readonlyRootfs)
        spec.hostname = record.config.hostname
        AttachHub.applyTerminal(record.config, to: &spec)
        var linux = spec.linux ?? Linux()
        if record.hostConfig.networkMode == "host" {
            linux.namespaces = linux.namespaces?.filter { $0.type != .network }
        }

        // Capabilities.
        var caps = Set(BundleSpec.defaultCapabilities)
        if record.hostConfig.privileged {
            caps = Set(allCapabilities())
        } else {
            for cap in record.hostConfig.capAdd {
                if cap.uppercased() == "ALL" { caps = Set(allCapabilities()) } else { caps.insert(try capability(cap)) }
            }
            for cap in record.hostConfig.capDrop {
                if cap.uppercased() == "ALL" { caps = [] } else { caps.remove(try capability(cap)) }
            }
        }
        let capList = caps.sorted()
        spec.process?.capabilities = LinuxCapabilities(bounding: capList, effective: capList, inheritable: nil, permitted: capList, ambient: nil)

        // Seccomp and other security options.
        var seccomp: LinuxSeccomp? = record.hostConfig.privileged ? nil : DefaultSeccompProfile.profile(capabilities: caps)
        for option in record.hostConfig.securityOpt {
            let parts = option.split(separator: "=", maxSplits: 1).map(String.init)
            let key = parts[0], value = parts.count > 1 ? parts[1] : ""
            switch (key, value) {
            case ("seccomp", "unconfined"): seccomp = nil
            case ("seccomp", _):
                guard let data = FileManager.default.contents(atPath: value) else {
                    throw EngineError(.invalidArgument, "--security-opt seccomp=\(value): cannot read the profile")
                }
                do { seccomp = try JSONDecoder().decode(LinuxSeccomp.self, from: data) } catch {
                    throw EngineError(.invalidArgument, "--security-opt seccomp=\(value): not a seccomp profile", cause: error)
                }
            case ("no-new-privileges", ""), ("no-new-privileges", "true"): spec.process?.noNewPrivileges = true
            case ("no-new-privileges", "false"): spec.process?.noNewPrivileges = false
            default:
                throw EngineError(.unsupported, "--security-opt \(option) is not supported: use seccomp=unconfined, seccomp=PROFILE.json or no-new-privileges")
            }
        }
        linux.seccomp = seccomp

        // Resources.
        var resources = linux.resources ?? LinuxResources()
        let host = record.hostConfig
        if host.memory > 0 || host.memorySwap != 0 {
            resources.memory = LinuxMemory(limit: host.memory > 0 ? host.memory : nil, swap: host.memorySwap != 0 ? host.memorySwap : nil)
        }
        if host.cpuShares > 0 || host.nanoCpus > 0 {
            let period: UInt64 = 100_000
            resources.cpu = LinuxCPU(shares: host.cpuShares > 0 ? UInt64(host.cpuShares) : nil,
                                     quota: host.nanoCpus > 0 ? host.nanoCpus * Int64(period) / 1_000_000_000 : nil,
                                     period: host.nanoCpus > 0 ? period : nil)
        }
        if host.pidsLimit > 0 { resources.pids = LinuxPids(limit: host.pidsLimit) }
        if host.privileged {
            resources.devices = [LinuxDeviceCgroup(allow: true, access: "rwm")]
            linux.devices = hostDevices()
            linux.maskedPaths = []
            linux.readonlyPaths = []
            spec.mounts = spec.mounts?.map { mount in
                var mount = mount
                if mount.destination == "/sys" || mount.destination == "/sys/fs/cgroup" { mount.options = mount.options?.filter { $0 != "ro" } }
                return mount
            }
        }
        linux.resources = resources
        spec.linux = linux

        // Rlimits.
        var rlimits = spec.process?.rlimits ?? []
        for ulimit in record.hostConfig.ulimits {
            let limit = try parseUlimit(ulimit)
            rlimits.removeAll { $0.type == limit.type }
            rlimits.append(limit)
        }
        spec.process?.rlimits = rlimits

        // Mounts: /etc files, tmpfs, binds (later mounts win over image volumes at the same path).
        var mounts = spec.mounts ?? []
        try writeEtcFiles(record: record, directory: directory)
        for file in ["hostname", "hosts", "resolv.conf"] {
            mounts.append(Mount(destination: "/etc/\(file)", type: "bind", source: "\(directory)/\(file)", options: ["rbind", "rprivate"]))
        }
        for (destination, extra) in record.hostConfig.tmpfs.sorted(by: { $0.key < $1.key }) {
            mounts.removeAll { $0.destination == destination }
            let given = extra.split(separator: ",").map(String.init)
            mounts.append(Mount(destination: destination, type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev", "noexec"] + given))
        }
        for bind in record.mounts where bind.type == "bind" || bind.type == "volume" {
            mounts.removeAll { $0.destination == bind.destination }
            let propagation = bind.propagation.flatMap { $0.isEmpty ? nil : $0 } ?? "rprivate"
            mounts.append(Mount(destination: bind.destination, type: "bind", source: bind.source,
                                options: ["rbind", propagation] + (bind.rw ? [] : ["ro"])))
        }
        spec.mounts = mounts
        try applyRunSettings(record, to: &spec)
        if record.hostConfig.initProcess { try InitProcess.apply(to: &spec) }

        // Devices and GPUs: CDI edits on the finished spec.
        try applyDevices(record.hostConfig, injector: injector, to: &spec)
        return spec
    }

    /// Applies `--gpus` and `--device` of `host` to `spec`; nothing when neither is given.
    static func applyDevices(_ host: ContainerHostConfig, injector: () -> DeviceInjector, to spec: inout Spec) throws {
        guard host.gpus != nil || !host.devices.isEmpty else { return }
        do {
            let request = try host.gpus.map { try GPURequest(parsing: $0) }
            try injector().apply(devices: host.devices, gpus: request, annotations: [:], to: &spec)
        } catch let error as GPUError {
            let what = [host.gpus.map { "--gpus \($0)" }].compactMap { $0 } + host.devices.map { "--device \($0)" }
            let code: EngineError.Code = error.code == .invalidRequest || error.code == .invalidName ? .invalidArgument : .unsupported
            throw EngineError(code, "\(what.joined(separator: " ")): \(error.message)", cause: error.cause)
        }
    }

    // MARK: - Parsing

    /// `-e` and `--env-file` entries, in order.
    static func userEnvironment(_ options: ContainerOptions) throws -> [String] {
        var entries: [String] = []
        for file in options.envFiles {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw EngineError(.invalidArgument, "--env-file \(file): cannot read the file")
            }
            for line in text.split(whereSeparator: \.isNewline) {
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
                entries.append(trimmed)
            }
        }
        entries += options.env
        return entries.compactMap { entry in
            if entry.contains("=") { return entry }
            return options.environment[entry].map { "\(entry)=\($0)" }
        }
    }

    static func setEnv(_ env: inout [String], _ entry: String) {
        let name = entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? entry
        if let index = env.firstIndex(where: { $0.hasPrefix("\(name)=") || $0 == name }) { env[index] = entry } else { env.append(entry) }
    }

    /// `32m`, `1g`, `512k`, `100` (bytes), `1.5g`: Docker's RAMInBytes (binary units).
    static func parseBytes(_ text: String) throws -> Int64 {
        var digits = text.lowercased()
        if digits.hasSuffix("ib") { digits.removeLast(2) } else if digits.hasSuffix("b") && digits.count > 1 { digits.removeLast() }
        var multiplier: Double = 1
        if let last = digits.last, let power = ["k": 1, "m": 2, "g": 3, "t": 4][String(last)] {
            multiplier = pow(1024, Double(power))
            digits.removeLast()
        }
        guard let value = Double(digits), value >= 0 else {
            throw EngineError(.invalidArgument, "invalid size \(text): use a number with an optional unit b, k, m, g or t")
        }
        return Int64(value * multiplier)
    }

    static let rlimitNames = ["as", "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice",
                              "nofile", "nproc", "rss", "rtprio", "rttime", "sigpending", "stack"]

    /// `--ulimit nofile=1024[:2048]`.
    static func parseUlimit(_ text: String) throws -> POSIXRlimit {
        let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2, rlimitNames.contains(parts[0]) else {
            throw EngineError(.invalidArgument, "invalid ulimit \(text): use NAME=SOFT[:HARD] with NAME one of \(rlimitNames.joined(separator: ", "))")
        }
        let values = parts[1].split(separator: ":").map { $0 == "-1" ? UInt64.max : UInt64($0) }
        guard (1...2).contains(values.count), let soft = values[0], let hard = values.count == 2 ? values[1] : values[0], soft <= hard else {
            throw EngineError(.invalidArgument, "invalid ulimit \(text): the values must be numbers with soft <= hard")
        }
        return POSIXRlimit(type: "RLIMIT_\(parts[0].uppercased())", hard: hard, soft: soft)
    }

    static func capability(_ name: String) throws -> String {
        let canonical = Capability.canonicalName(name)
        guard Capability.number(named: canonical) != nil else {
            throw EngineError(.invalidArgument, "unknown capability \(name)")
        }
        return canonical
    }

    /// Every capability the running kernel knows.
    static func allCapabilities() -> [String] {
        let last = (try? String(contentsOfFile: "/proc/sys/kernel/cap_last_cap", encoding: .utf8))
            .flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 40
        return (0...last).map(Capability.name(of:))
    }

    /// The character and block devices directly under the host's /dev, for `--privileged`.
    static func hostDevices() -> [LinuxDevice] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/dev")) ?? []
        return names.sorted().compactMap { name -> LinuxDevice? in
            var info = stat()
            guard lstat("/dev/\(name)", &info) == 0 else { return nil }
            let kind = info.st_mode & S_IFMT
            guard kind == S_IFCHR || kind == S_IFBLK, !["console", "ptmx", "tty"].contains(name) else { return nil }
            return LinuxDevice(path: "/dev/\(name)", type: kind == S_IFCHR ? "c" : "b",
                               major: Int64((info.st_rdev >> 8) & 0xfff | (info.st_rdev >> 32) & ~0xfff),
                               minor: Int64(info.st_rdev & 0xff | (info.st_rdev >> 12) & ~0xff),
                               fileMode: info.st_mode & 0o777, uid: info.st_uid, gid: info.st_gid)
        }
    }

    static func hostHostname() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "localhost" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// /etc/hostname, /etc/hosts and /etc/resolv.conf of the container, as Docker writes
    /// them: the host's for `--network host`, loopback only otherwise.
    static func writeEtcFiles(record: ContainerRecord, directory: String) throws {
        let hostname = record.config.hostname
        let hosts: String
        if record.hostConfig.networkMode == "host" {
            hosts = (try? String(contentsOfFile: "/etc/hosts", encoding: .utf8)) ?? "127.0.0.1\tlocalhost\n"
        } else {
            hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.0.1\t\(hostname)\n"
        }
        let resolv = (try? String(contentsOfFile: "/etc/resolv.conf", encoding: .utf8)) ?? ""
        // A `--rm` container never starts again after a reboot: no flush to disk.
        let durable = !record.hostConfig.autoRemove
        try SystemSupport.writeAtomically("\(directory)/hostname", Array("\(hostname)\n".utf8), durable: durable)
        try SystemSupport.writeAtomically("\(directory)/hosts", Array(hosts.utf8), durable: durable)
        try SystemSupport.writeAtomically("\(directory)/resolv.conf", Array(resolv.utf8), durable: durable)
        for file in ["hostname", "hosts", "resolv.conf"] { chmod("\(directory)/\(file)", 0o644) }
    }
}
