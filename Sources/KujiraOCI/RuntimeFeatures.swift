// What a runtime implements (runtime-spec features.md): the JSON printed by
// `runc features`, which containerd and others read to decide what they may ask for.

/// The features of a runtime (features.md): the spec versions, hooks, mount options and Linux
/// features it supports.
public struct Features: Codable, Hashable, Sendable {
    /// `ociVersionMin`: the lowest runtime spec version supported. Required.
    public var ociVersionMin: String
    /// `ociVersionMax`: the highest runtime spec version supported. Required.
    public var ociVersionMax: String
    /// `hooks`: the hooks recognised (`prestart`, `createRuntime`, …); absent means unknown.
    public var hooks: [String]?
    /// `mountOptions`: the mount options recognised, including runtime-implemented ones such as
    /// `rro`; absent means unknown.
    public var mountOptions: [String]?
    /// `linux`: the Linux-specific features ("Linux").
    public var linux: LinuxFeatures?
    /// `annotations`: implementation details, e.g. `org.opencontainers.runc.version`.
    public var annotations: [String: String]?
    /// `potentiallyUnsafeConfigAnnotations`: annotation keys (or prefixes ending in `.`) of the
    /// configuration that may change the runtime's behaviour.
    public var potentiallyUnsafeConfigAnnotations: [String]?

    /// Creates a value; optional fields default to absent.
    public init(
        ociVersionMin: String, ociVersionMax: String, hooks: [String]? = nil, mountOptions: [String]? = nil,
        linux: LinuxFeatures? = nil, annotations: [String: String]? = nil,
        potentiallyUnsafeConfigAnnotations: [String]? = nil
    ) {
        self.ociVersionMin = ociVersionMin
        self.ociVersionMax = ociVersionMax
        self.hooks = hooks
        self.mountOptions = mountOptions
        self.linux = linux
        self.annotations = annotations
        self.potentiallyUnsafeConfigAnnotations = potentiallyUnsafeConfigAnnotations
    }
}

/// The Linux features of a runtime (features.md, "Linux"). An absent field means unknown, not
/// unsupported.
public struct LinuxFeatures: Codable, Hashable, Sendable {
    /// `namespaces`: the namespace types supported (`cgroup`, `ipc`, `mount`, …).
    public var namespaces: [String]?
    /// `capabilities`: the capabilities known, `CAP_…` names.
    public var capabilities: [String]?
    /// `cgroup`: the cgroup managers supported ("Cgroup").
    public var cgroup: CgroupFeatures?
    /// `seccomp`: the seccomp support ("Seccomp").
    public var seccomp: SeccompFeatures?
    /// `apparmor`: whether AppArmor is supported ("AppArmor").
    public var apparmor: EnabledFeature?
    /// `selinux`: whether SELinux is supported ("SELinux").
    public var selinux: EnabledFeature?
    /// `intelRdt`: whether Intel RDT is supported ("Intel RDT").
    public var intelRdt: EnabledFeature?
    /// `mountExtensions`: the mount extensions supported ("MountExtensions").
    public var mountExtensions: MountExtensionsFeatures?
    /// `netDevices`: whether moving host network devices into the container
    /// (`linux.netDevices`) is supported ("NetDevices").
    public var netDevices: EnabledFeature?

    /// Creates a value; optional fields default to absent.
    public init(
        namespaces: [String]? = nil, capabilities: [String]? = nil, cgroup: CgroupFeatures? = nil,
        seccomp: SeccompFeatures? = nil, apparmor: EnabledFeature? = nil, selinux: EnabledFeature? = nil,
        intelRdt: EnabledFeature? = nil, mountExtensions: MountExtensionsFeatures? = nil, netDevices: EnabledFeature? = nil
    ) {
        self.namespaces = namespaces
        self.capabilities = capabilities
        self.cgroup = cgroup
        self.seccomp = seccomp
        self.apparmor = apparmor
        self.selinux = selinux
        self.intelRdt = intelRdt
        self.mountExtensions = mountExtensions
        self.netDevices = netDevices
    }
}

/// The cgroup support of a runtime (features.md, "Cgroup").
public struct CgroupFeatures: Codable, Hashable, Sendable {
    /// `v1`: cgroup v1 is supported.
    public var v1: Bool?
    /// `v2`: cgroup v2 is supported.
    public var v2: Bool?
    /// `systemd`: the systemd cgroup driver is supported.
    public var systemd: Bool?
    /// `systemdUser`: the user-scoped systemd cgroup driver is supported.
    public var systemdUser: Bool?
    /// `rdma`: the RDMA controller is supported.
    public var rdma: Bool?

    /// Creates a value; optional fields default to absent.
    public init(
        v1: Bool? = nil, v2: Bool? = nil, systemd: Bool? = nil, systemdUser: Bool? = nil, rdma: Bool? = nil
    ) {
        self.v1 = v1
        self.v2 = v2
        self.systemd = systemd
        self.systemdUser = systemdUser
        self.rdma = rdma
    }
}

/// The seccomp support of a runtime (features.md, "Seccomp").
public struct SeccompFeatures: Codable, Hashable, Sendable {
    /// `enabled`: seccomp is supported.
    public var enabled: Bool?
    /// `actions`: the actions known, `SCMP_ACT_…`.
    public var actions: [String]?
    /// `operators`: the comparison operators known, `SCMP_CMP_…`.
    public var operators: [String]?
    /// `archs`: the architectures known, `SCMP_ARCH_…`.
    public var archs: [String]?
    /// `knownFlags`: the `SECCOMP_FILTER_FLAG_…` flags known.
    public var knownFlags: [String]?
    /// `supportedFlags`: the flags known and supported by the kernel and libseccomp.
    public var supportedFlags: [String]?

    /// Creates a value; optional fields default to absent.
    public init(
        enabled: Bool? = nil, actions: [String]? = nil, operators: [String]? = nil, archs: [String]? = nil,
        knownFlags: [String]? = nil, supportedFlags: [String]? = nil
    ) {
        self.enabled = enabled
        self.actions = actions
        self.operators = operators
        self.archs = archs
        self.knownFlags = knownFlags
        self.supportedFlags = supportedFlags
    }
}

/// A feature that is just on or off (features.md, "AppArmor", "SELinux", "Intel RDT",
/// "MountExtensions" `idmap`).
public struct EnabledFeature: Codable, Hashable, Sendable {
    /// `enabled`: the feature is supported.
    public var enabled: Bool?

    /// Creates a value; optional fields default to absent.
    public init(enabled: Bool? = nil) {
        self.enabled = enabled
    }
}

/// The mount extensions of a runtime (features.md, "MountExtensions").
public struct MountExtensionsFeatures: Codable, Hashable, Sendable {
    /// `idmap`: ID-mapped mounts (`mounts[].uidMappings`) are supported.
    public var idmap: EnabledFeature?

    /// Creates a value; optional fields default to absent.
    public init(idmap: EnabledFeature? = nil) {
        self.idmap = idmap
    }
}
