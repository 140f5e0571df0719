// The NVIDIA container conventions of an image's environment (nvidia-container-toolkit,
// "Specialized configurations"), resolved to CDI device names and driver capabilities:
// - NVIDIA_VISIBLE_DEVICES: `all`, `none` (driver, no GPU), `void` or empty (nothing),
//   indexes, UUIDs, or MIG names; unset means nothing, except for legacy CUDA images
//   (CUDA_VERSION set, NVIDIA_REQUIRE_CUDA not), where it means `all`.
// - NVIDIA_DRIVER_CAPABILITIES: a capability list or `all`; `utility,compute` when unset.
// - NVIDIA_REQUIRE_*: constraints such as `cuda>=12.2 brand=tesla,driver>=470,driver<471`:
//   space-separated alternatives are ORed, comma-separated constraints within one are ANDed,
//   and the variables are ANDed; NVIDIA_DISABLE_REQUIRE turns the check off; a legacy image
//   requires cuda>=<CUDA_VERSION major.minor>.
// A `--gpus` request overrides the devices and, when it names them, the capabilities.

/// The NVIDIA devices and driver capabilities a container gets.
public struct NVIDIASelection: Hashable, Sendable {
    /// CDI device names of kind `nvidia.com/gpu` (`all`, `0`, `GPU-…`); empty with
    /// `NVIDIA_VISIBLE_DEVICES=none`.
    public var devices: [String]
    /// The driver capabilities whose files are mounted.
    public var capabilities: Set<NVIDIACapability>

    /// Creates a value.
    public init(devices: [String], capabilities: Set<NVIDIACapability>) {
        self.devices = devices
        self.capabilities = capabilities
    }
}

/// Resolution of `--gpus` and the `NVIDIA_*` variables against a discovered host.
public enum NVIDIAEnvironment {
    /// The capabilities when neither `--gpus` nor `NVIDIA_DRIVER_CAPABILITIES` names any.
    public static let defaultCapabilities: Set<NVIDIACapability> = [.utility, .compute]

    /// The devices and capabilities for a container with image environment `env` (`KEY=value`
    /// entries) and an optional `--gpus` request; nil when the container gets no NVIDIA
    /// device or driver. `host` is nil when discovery found no driver: any GPU request then
    /// fails with ``GPUError/Code-swift.struct/noGPUs``.
    public static func selection(request: GPURequest?, env: [String], host: NVIDIAHost?) throws -> NVIDIASelection? {
        let vars = variables(env)
        let isLegacy = vars["CUDA_VERSION"] != nil && vars["NVIDIA_REQUIRE_CUDA"] == nil
        var devices: [String]
        if let request {
            guard let host, !host.gpus.isEmpty else {
                throw GPUError(.noGPUs, "--gpus was given but this host has no NVIDIA GPU" + (host == nil ? " (no NVIDIA driver is loaded: /proc/driver/nvidia/version is missing)" : ""))
            }
            devices = try names(for: request, host: host)
        } else {
            guard let visible = vars["NVIDIA_VISIBLE_DEVICES"] ?? (isLegacy ? "all" : nil) else { return nil }
            let trimmed = visible.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed == "void" { return nil }
            guard let host else {
                throw GPUError(.noGPUs, "the image asks for NVIDIA GPUs (NVIDIA_VISIBLE_DEVICES=\(visible)) but no NVIDIA driver is loaded on this host")
            }
            if trimmed == "none" {
                devices = []
            } else if trimmed == "all" {
                guard !host.gpus.isEmpty else { throw GPUError(.noGPUs, "NVIDIA_VISIBLE_DEVICES=all but the host has no NVIDIA GPU") }
                devices = ["all"]
            } else {
                devices = try trimmed.split(separator: ",").map { try deviceName(String($0).trimmingCharacters(in: .whitespaces), host: host) }
            }
        }
        var capabilities = defaultCapabilities
        if let requested = request?.capabilities, !requested.isEmpty {
            capabilities = requested
        } else if let text = vars["NVIDIA_DRIVER_CAPABILITIES"], !text.trimmingCharacters(in: .whitespaces).isEmpty {
            capabilities = try NVIDIACapability.parseList(text)
        }
        if let host { try checkRequirements(env: vars, isLegacy: isLegacy, host: host) }
        return NVIDIASelection(devices: devices, capabilities: capabilities)
    }

    /// `KEY=value` entries as a dictionary (a later entry wins).
    static func variables(_ env: [String]) -> [String: String] {
        var result: [String: String] = [:]
        for entry in env {
            let parts = entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            result[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
        }
        return result
    }

    static func names(for request: GPURequest, host: NVIDIAHost) throws -> [String] {
        if let ids = request.deviceIDs {
            return try ids.map { try deviceName($0, host: host) }
        }
        switch request.count ?? .first(1) {
        case .all:
            return ["all"]
        case .first(let n):
            guard n <= host.gpus.count else {
                throw GPUError(.noGPUs, "--gpus asks for \(n) GPUs but this host has \(host.gpus.count): \(available(host))")
            }
            return host.gpus.prefix(n).map { "\($0.index)" }
        }
    }

    /// The CDI name for an index, UUID (or its prefix) or MIG device name, checked against
    /// the host; the error lists the GPUs there are.
    static func deviceName(_ id: String, host: NVIDIAHost) throws -> String {
        if let index = Int(id), let gpu = host.gpus.first(where: { $0.index == index }) {
            return "\(gpu.index)"
        }
        if id.hasPrefix("GPU-"), let gpu = host.gpus.first(where: { $0.uuid == id || (id.count >= 8 && $0.uuid.hasPrefix(id)) }) {
            return gpu.uuid
        }
        for gpu in host.gpus {
            for mig in gpu.migDevices where id == "mig-\(gpu.index)-gi\(mig.gpuInstance)-ci\(mig.computeInstance)" {
                return id
            }
        }
        if host.gpus.isEmpty {
            throw GPUError(.noGPUs, "NVIDIA GPU \"\(id)\" was requested but this host has no NVIDIA GPU")
        }
        throw GPUError(.unknownDevice, "unknown NVIDIA GPU \"\(id)\"; this host has: \(available(host))")
    }

    static func available(_ host: NVIDIAHost) -> String {
        host.gpus.map { "\($0.index) (\($0.uuid), \($0.model))" }.joined(separator: ", ")
    }

    // MARK: Requirements

    /// Checks the `NVIDIA_REQUIRE_*` variables (and the legacy `CUDA_VERSION` rule).
    static func checkRequirements(env vars: [String: String], isLegacy: Bool, host: NVIDIAHost) throws {
        if let disable = vars["NVIDIA_DISABLE_REQUIRE"], ["1", "true", "yes", "on"].contains(disable.lowercased()) {
            return
        }
        var requirements = vars.filter { $0.key.hasPrefix("NVIDIA_REQUIRE_") }.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        if isLegacy, let cuda = vars["CUDA_VERSION"] {
            let parts = cuda.split(separator: ".")
            if parts.count >= 2 { requirements.append(("CUDA_VERSION", "cuda>=\(parts[0]).\(parts[1])")) }
        }
        for (name, expression) in requirements {
            let alternatives = expression.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard !alternatives.isEmpty else { continue }
            var reasons: [String] = []
            var satisfied = false
            for alternative in alternatives {
                var allMet = true
                for constraint in alternative.split(separator: ",") {
                    if let reason = try unmet(String(constraint), variable: name, host: host) {
                        reasons.append(reason)
                        allMet = false
                        break
                    }
                }
                if allMet { satisfied = true; break }
            }
            if !satisfied {
                throw GPUError(.requirementNotMet, "\(name)=\(expression) is not met by this host (driver \(host.driverVersion), CUDA \(host.cudaVersion?.description ?? "unknown")): \(reasons.joined(separator: "; ")); set NVIDIA_DISABLE_REQUIRE=1 to skip the check")
            }
        }
    }

    /// Nil when `constraint` (`cuda>=12.2`, `driver<471`, `brand=tesla`, `arch=8.0`) holds,
    /// else why not.
    static func unmet(_ constraint: String, variable: String, host: NVIDIAHost) throws -> String? {
        let operators = [">=", "<=", "!=", "=", ">", "<"]
        guard let op = operators.compactMap({ op in constraint.range(of: op).map { (op, $0) } })
            .min(by: { $0.1.lowerBound < $1.1.lowerBound }) else {
            throw GPUError(.invalidRequest, "\(variable): \"\(constraint)\" is not a constraint (e.g. cuda>=12.0)")
        }
        let key = String(constraint[..<op.1.lowerBound]).lowercased()
        let value = String(constraint[op.1.upperBound...])
        func compare(_ have: NVIDIAVersion, _ want: NVIDIAVersion) -> Bool {
            switch op.0 {
            case ">=": have >= want
            case "<=": have <= want
            case ">": have > want
            case "<": have < want
            case "!=": have != want
            default: have == want
            }
        }
        switch key {
        case "cuda", "driver":
            guard let want = NVIDIAVersion(value) else {
                throw GPUError(.invalidRequest, "\(variable): \"\(value)\" in \"\(constraint)\" is not a version")
            }
            let have = key == "cuda" ? host.cudaVersion : NVIDIAVersion(host.driverVersion)
            guard let have else {
                return "\(constraint): the driver's CUDA version is unknown (libcuda.so.1 could not be asked)"
            }
            return compare(have, want) ? nil : "\(constraint) (have \(have))"
        case "brand":
            // The brand is NVML's; /proc gives the model name only, so match it there.
            let matches = host.gpus.contains { $0.model.lowercased().contains(value.lowercased()) }
            let ok = op.0 == "!=" ? !matches : matches
            return ok ? nil : "\(constraint) (models: \(host.gpus.map(\.model).joined(separator: ", ")))"
        case "arch":
            return "\(constraint): the compute architecture cannot be read without NVML"
        default:
            throw GPUError(.invalidRequest, "\(variable): unknown constraint \"\(key)\" in \"\(constraint)\" (cuda, driver, arch, brand)")
        }
    }
}
