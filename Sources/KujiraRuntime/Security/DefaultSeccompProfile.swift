public import KujiraOCI
internal import CSeccomp
#if canImport(Glibc)
internal import Glibc
#elseif canImport(Musl)
internal import Musl
#endif

/// Docker's default seccomp profile (moby `profiles/seccomp/default.json`) as a runtime-spec
/// `LinuxSeccomp`, specialised the way `dockerd` specialises it for each container:
///
/// - the default action is `SCMP_ACT_ERRNO` with `EPERM`;
/// - the architectures are the host's native one and its compat ones (x86_64 adds x86 and
///   x32; aarch64 adds arm);
/// - rules that depend on capabilities are kept or left out by the container's
///   capabilities: with `CAP_SYS_ADMIN` it may `mount`, `unshare`, `setns`, `clone` with
///   namespace flags and use `clone3`; without it `clone` is checked for namespace flags and
///   `clone3` answers `ENOSYS`; `CAP_SYS_PTRACE` allows `ptrace`, `process_vm_*`, `kcmp`, …;
/// - rules for other architectures (arm's `cacheflush`, s390's clone argument order) are left
///   out, and `ptrace` needs Linux 4.8 (older kernels let seccomp be bypassed with it).
///
/// ```swift
/// let caps = spec.process?.capabilities?.bounding ?? DefaultCapabilities.dockerNames
/// spec.linux?.seccomp = DefaultSeccompProfile.profile(capabilities: Set(caps))
/// ```
public enum DefaultSeccompProfile {
    /// The profile for a container with `capabilities` (its bounding set, as Docker uses),
    /// on this host's architecture and kernel. Capability names may be written `CAP_X` or `x`.
    public static func profile(capabilities: Set<String>) -> LinuxSeccomp {
        profile(capabilities: capabilities, hostArchitecture: hostArchitecture, kernel: KernelVersion.running)
    }

    /// The profile for a container with `capabilities` on a host whose native seccomp
    /// architecture is `hostArchitecture` (`SCMP_ARCH_X86_64`, `SCMP_ARCH_AARCH64`, …)
    /// running `kernel` (nil: assume a current kernel).
    public static func profile(
        capabilities: Set<String>, hostArchitecture: String, kernel: KernelVersion?
    ) -> LinuxSeccomp {
        let caps = Set(capabilities.map(Capability.canonicalName))
        let goArch = goArchitecture[hostArchitecture] ?? hostArchitecture
        var syscalls: [LinuxSyscall] = []
        for rule in rules {
            if !rule.includeCaps.allSatisfy(caps.contains) { continue }
            if rule.excludeCaps.contains(where: caps.contains) { continue }
            if !rule.includeArches.isEmpty, !rule.includeArches.contains(goArch) { continue }
            if rule.excludeArches.contains(goArch) { continue }
            if let minimum = rule.minKernel, let kernel, kernel < minimum { continue }
            syscalls.append(
                LinuxSyscall(
                    names: rule.names, action: rule.action, errnoRet: rule.errnoRet,
                    args: rule.args.isEmpty ? nil : rule.args
                )
            )
        }
        return LinuxSeccomp(
            defaultAction: "SCMP_ACT_ERRNO", defaultErrnoRet: 1,
            architectures: architectureMap[hostArchitecture],
            syscalls: syscalls
        )
    }

    /// The native seccomp architecture of this host (`SCMP_ARCH_X86_64` on x86-64), from
    /// libseccomp.
    public static var hostArchitecture: String {
        SeccompSpecTerms.architectureName(seccomp_arch_native())
    }

    /// moby filters rules by Go's `GOARCH`; this maps the spec's architecture names to it.
    private static let goArchitecture: [String: String] = [
        "SCMP_ARCH_X86_64": "amd64", "SCMP_ARCH_X86": "386", "SCMP_ARCH_AARCH64": "arm64",
        "SCMP_ARCH_ARM": "arm", "SCMP_ARCH_PPC64LE": "ppc64le", "SCMP_ARCH_PPC64": "ppc64",
        "SCMP_ARCH_S390X": "s390x", "SCMP_ARCH_S390": "s390", "SCMP_ARCH_RISCV64": "riscv64",
        "SCMP_ARCH_MIPS64": "mips64", "SCMP_ARCH_MIPSEL64": "mips64le", "SCMP_ARCH_MIPS": "mips",
        "SCMP_ARCH_MIPSEL": "mipsle",
    ]
}

/// A Linux kernel version, major and minor, as profiles compare it.
public struct KernelVersion: Comparable, Hashable, Sendable, CustomStringConvertible {
    /// The major version (6 in 6.1.0).
    public var major: Int
    /// The minor version (1 in 6.1.0).
    public var minor: Int

    /// Creates a value.
    public init(major: Int, minor: Int) {
        self.major = major
        self.minor = minor
    }

    /// Parses the start of a release string such as `6.1.0-18-amd64`; nil if it does not
    /// start with `<major>.<minor>`.
    public init?(release: String) {
        let parts = release.split(separator: ".", maxSplits: 2)
        guard parts.count >= 2, let major = Int(parts[0]) else { return nil }
        guard let minor = Int(parts[1].prefix(while: { $0.isNumber })) else { return nil }
        self.init(major: major, minor: minor)
    }

    /// The running kernel's version, from `uname(2)`; nil if it cannot be parsed.
    public static var running: KernelVersion? {
        var name = utsname()
        guard uname(&name) == 0 else { return nil }
        let release = withUnsafeBytes(of: name.release) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        return KernelVersion(release: release)
    }

    /// Orders by major, then minor.
    public static func < (lhs: KernelVersion, rhs: KernelVersion) -> Bool {
        (lhs.major, lhs.minor) < (rhs.major, rhs.minor)
    }

    /// `major.minor`.
    public var description: String { "\(major).\(minor)" }
}
