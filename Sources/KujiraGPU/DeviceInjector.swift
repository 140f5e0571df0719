// The one entry point an engine calls: everything a `run` command says about devices —
// `--device` values (CDI names or host nodes), `--gpus`, `cdi.k8s.io/*` annotations and the
// image's NVIDIA variables — applied to the container's runtime Spec. Requests are resolved
// first and applied to a copy, so a failed request leaves the Spec untouched.

public import KujiraOCI

/// Applies device requests to runtime Specs, with CDI specs from a registry and NVIDIA GPUs
/// from discovery.
public struct DeviceInjector: Sendable {
    /// The CDI specs `--device vendor/class=name` and annotations resolve against.
    public var registry: CDIRegistry
    /// How NVIDIA GPUs are found for `--gpus` and the image's `NVIDIA_*` variables.
    public var nvidia: NVIDIADiscovery
    /// Whether an image's `NVIDIA_VISIBLE_DEVICES` (or a legacy `CUDA_VERSION`) gives GPUs
    /// without `--gpus`, as with nvidia-container-runtime as the default runtime. Off by
    /// default, as in Docker; when on, a host without an NVIDIA driver ignores the variables.
    public var honorsImageEnvironment: Bool

    /// An injector over the spec directories (lowest priority first) and an NVIDIA discovery.
    public init(specDirectories: [String] = CDIRegistry.defaultSpecDirectories,
                nvidia: NVIDIADiscovery = NVIDIADiscovery(), honorsImageEnvironment: Bool = false) {
        self.init(registry: CDIRegistry(specDirectories: specDirectories), nvidia: nvidia,
                  honorsImageEnvironment: honorsImageEnvironment)
    }

    /// An injector over a registry already read.
    public init(registry: CDIRegistry, nvidia: NVIDIADiscovery = NVIDIADiscovery(), honorsImageEnvironment: Bool = false) {
        self.registry = registry
        self.nvidia = nvidia
        self.honorsImageEnvironment = honorsImageEnvironment
    }

    /// Applies the requests to `spec`:
    /// - `devices`: `--device` values, `vendor/class=name` (CDI) or `/dev/X[:/dev/Y][:rwm]`;
    /// - `gpus`: a parsed `--gpus` value;
    /// - `annotations`: `cdi.k8s.io/*` keys request CDI devices (defaults to the Spec's own);
    /// - the NVIDIA variables of `spec.process.env` (the image's environment).
    public func apply(devices: [String] = [], gpus: GPURequest? = nil, annotations: [String: String]? = nil,
                      to spec: inout Spec) throws {
        var copy = spec
        var cdiNames: [String] = []
        var hostDevices: [HostDevice] = []
        for value in devices {
            if CDIQualifiedName.isQualifiedName(value) {
                cdiNames.append(try CDIQualifiedName(parsing: value).description)
            } else if value.hasPrefix("/") {
                hostDevices.append(try HostDevice(parsing: value))
            } else {
                throw GPUError(.invalidRequest, "--device \(value): neither a CDI device (vendor/class=name, e.g. nvidia.com/gpu=all) nor a host device path (/dev/…)")
            }
        }
        cdiNames += try CDIRegistry.devicesRequested(byAnnotations: annotations ?? spec.annotations ?? [:])
        if !cdiNames.isEmpty {
            try registry.apply(devices: cdiNames, to: &copy)
        }
        for device in hostDevices {
            try device.apply(to: &copy)
        }
        try applyNVIDIA(gpus: gpus, to: &copy)
        spec = copy
    }

    private func applyNVIDIA(gpus: GPURequest?, to spec: inout Spec) throws {
        let env = spec.process?.env ?? []
        guard gpus != nil || honorsImageEnvironment else { return }
        if gpus == nil {
            // Without --gpus only the image asks; nothing to do unless it does.
            let vars = NVIDIAEnvironment.variables(env)
            let asks = vars["NVIDIA_VISIBLE_DEVICES"] != nil || (vars["CUDA_VERSION"] != nil && vars["NVIDIA_REQUIRE_CUDA"] == nil)
            guard asks else { return }
        }
        let host: NVIDIAHost?
        do {
            host = try nvidia.discover()
        } catch let error as GPUError where error.code == .noGPUs {
            // A GPU request on a host without the driver is an error; an image variable is not.
            if let gpus {
                _ = try NVIDIAEnvironment.selection(request: gpus, env: env, host: nil)
            }
            return
        }
        guard let selection = try NVIDIAEnvironment.selection(request: gpus, env: env, host: host), let host else {
            return
        }
        try NVIDIAInjection.apply(selection, host: host, to: &spec)
    }
}

/// Applies an ``NVIDIASelection`` through the CDI spec of the discovered host.
public enum NVIDIAInjection {
    /// Applies the selection to `spec`: the host's CDI spec with the selected capabilities,
    /// and its devices by name (or only the shared edits for `NVIDIA_VISIBLE_DEVICES=none`).
    public static func apply(_ selection: NVIDIASelection, host: NVIDIAHost, to spec: inout Spec) throws {
        let cdiSpec = try host.cdiSpec(capabilities: selection.capabilities)
        if selection.devices.isEmpty {
            try cdiSpec.containerEdits?.apply(to: &spec)
            return
        }
        let registry = try CDIRegistry(specs: [("NVIDIA driver \(host.driverVersion) (discovered)", cdiSpec)])
        try registry.apply(devices: selection.devices.map { "\(NVIDIAHost.kind)=\($0)" }, to: &spec)
    }
}
