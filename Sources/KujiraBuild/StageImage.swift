// A stage's image as it is built: the config, the layers, and how each metadata
// instruction (ENV, LABEL, CMD, …) changes the config and the history, as BuildKit does.

import KujiraOCI
import KujiraDockerfile

/// The image of a stage after some of its instructions.
struct StageImage: Sendable {
    /// The image configuration (history and diff_ids included).
    var configuration: ImageConfiguration
    /// The layers, base first.
    var layers: [Descriptor]
    /// The cache key of the state.
    var key: Digest
    /// Whether this stage set CMD (an ENTRYPOINT then keeps it).
    var cmdSetInStage = false

    var config: ImageConfig {
        get { configuration.config ?? ImageConfig() }
        set { configuration.config = newValue }
    }
    var diffIDs: [Digest] { configuration.rootfs.diffIDs }
    /// The SHELL in effect.
    var shell: [String] { config.shell ?? ["/bin/sh", "-c"] }
    /// The environment as `KEY=VALUE` entries.
    var environment: [String] { config.env ?? [] }

    /// Appends a history entry for a step without a layer.
    mutating func recordEmpty(_ createdBy: String, created: String) {
        configuration.history = (configuration.history ?? []) + [History(created: created, createdBy: createdBy, comment: "buildkit.dockerfile.v0", emptyLayer: true)]
    }

    /// Appends a layer and its history entry.
    mutating func recordLayer(_ layer: Descriptor, diffID: Digest, createdBy: String, created: String) {
        layers.append(layer)
        configuration.rootfs.diffIDs.append(diffID)
        configuration.history = (configuration.history ?? []) + [History(created: created, createdBy: createdBy, comment: "buildkit.dockerfile.v0")]
    }

    /// Sets `key` in the environment, replacing an entry of the same name in place.
    mutating func setEnv(_ key: String, _ value: String) {
        var env = config.env ?? []
        if let i = env.firstIndex(where: { $0.hasPrefix(key + "=") || $0 == key }) { env[i] = "\(key)=\(value)" } else { env.append("\(key)=\(value)") }
        config.env = env
    }

    /// Applies a metadata instruction to the config; returns the history `created_by`, or
    /// nil when `instruction` is not a metadata instruction.
    mutating func applyMetadata(_ instruction: Instruction, workdir resolve: (String) -> String) -> String? {
        switch instruction {
        case .env(let pairs):
            for p in pairs { setEnv(p.key, p.value) }
            return "ENV " + pairs.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        case .label(let pairs):
            var labels = config.labels ?? [:]
            for p in pairs { labels[p.key] = p.value }
            config.labels = labels
            return "LABEL " + pairs.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        case .arg(let decls):
            return "ARG " + decls.map { d in d.defaultValue.map { "\(d.name)=\($0)" } ?? d.name }.joined(separator: " ")
        case .expose(let ports):
            var set = config.exposedPorts?.keys ?? []
            let added = Set(ports.map { $0.contains("/") ? $0.lowercased() : $0 + "/tcp" })
            set.formUnion(added)
            config.exposedPorts = ObjectKeySet(set)
            // BuildKit prints this instruction's ports as a Go map (keys sorted).
            return "EXPOSE map[" + added.sorted().map { "\($0):{}" }.joined(separator: " ") + "]"
        case .volume(let volumes):
            var set = config.volumes?.keys ?? []
            for v in volumes where !v.isEmpty { set.insert(v) }
            config.volumes = ObjectKeySet(set)
            return "VOLUME [" + volumes.joined(separator: " ") + "]"
        case .user(let user):
            config.user = user
            return "USER \(user)"
        case .stopSignal(let signal):
            config.stopSignal = signal
            return "STOPSIGNAL \(signal)"
        case .shell(let shell):
            config.shell = shell
            return "SHELL " + Self.json(shell)
        case .cmd(let form):
            config.cmd = form.map(wrap)
            cmdSetInStage = true
            return "CMD " + Self.json(config.cmd ?? [])
        case .entrypoint(let form):
            if let form, form != .exec([]) { config.entrypoint = wrap(form) } else { config.entrypoint = nil }
            // BuildKit: ENTRYPOINT clears a CMD inherited from the base unless this stage set CMD.
            if !cmdSetInStage { config.cmd = nil }
            return "ENTRYPOINT " + Self.json(config.entrypoint ?? [])
        case .healthcheck(let check):
            switch check {
            case .none:
                config.healthcheck = Healthcheck(test: ["NONE"])
            case .check(let c):
                config.healthcheck = Healthcheck(
                    test: c.test, interval: c.interval == 0 ? nil : c.interval, timeout: c.timeout == 0 ? nil : c.timeout,
                    startPeriod: c.startPeriod == 0 ? nil : c.startPeriod, startInterval: c.startInterval == 0 ? nil : c.startInterval,
                    retries: c.retries == 0 ? nil : c.retries)
            }
            return "HEALTHCHECK " + Self.json(config.healthcheck?.test ?? [])
        case .onbuild(let o):
            config.onBuild = (config.onBuild ?? []) + [o.expression]
            return "ONBUILD \(o.expression)"
        case .maintainer(let m):
            configuration.author = m
            return "MAINTAINER \(m)"
        case .workdir(let w):
            config.workingDir = resolve(w)
            return "WORKDIR \(config.workingDir ?? w)"
        default:
            return nil
        }
    }

    /// Shell form → SHELL + [line]; exec form unchanged.
    /// Drops the inherited ONBUILD triggers (they run in this stage and are not passed on).
    mutating func clearTriggers() {
        guard configuration.config?.onBuild != nil else { return }
        configuration.config?.onBuild = nil
    }

    func wrap(_ form: CommandForm) -> [String] {
        switch form {
        case .exec(let argv): return argv
        case .shell(let line): return shell + [line]
        }
    }

    /// `["a","b"]`, as BuildKit prints string lists in history.
    static func json(_ values: [String]) -> String {
        "[" + values.map { "\"" + $0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" }
            .joined(separator: ",") + "]"
    }
}
