// Parsing, normalisation and matching of platforms, following containerd's `platforms`
// package (parse.go, database.go, compare.go), so that `--platform` strings and index
// selection behave as they do with containerd, Docker and nerdctl.

extension Platform: CustomStringConvertible {
    /// Parses a platform specifier `os[/arch[/variant]]` (or a lone architecture), as
    /// `docker --platform` takes it, and normalises it: `linux/aarch64` is `linux/arm64`,
    /// `linux/x86_64` is `linux/amd64`, `linux/armhf` is `linux/arm/v7`, `linux/arm` is
    /// `linux/arm/v7`. A lone OS gets the host's architecture; a lone architecture gets
    /// `linux`. An explicit `arm64/v8` keeps its variant, so ``description`` gives back
    /// `linux/arm64/v8`; matching treats it as plain `arm64`.
    /// - Throws: ``OCIError`` with code ``OCIError/Code/invalidPlatform``.
    public init(parsing specifier: String) throws {
        func fail(_ why: String) -> OCIError {
            OCIError(.invalidPlatform, "invalid platform \"\(specifier)\": \(why) (expected os/arch[/variant], e.g. linux/arm64/v8)")
        }
        guard !specifier.isEmpty else { throw fail("empty specifier") }
        let parts = specifier.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        for part in parts {
            guard !part.isEmpty, part.utf8.allSatisfy({ Platform.isSpecifierByte($0) }) else {
                throw fail("\"\(part)\" is not a valid component (letters, digits, '_', '-', '.')")
            }
        }
        switch parts.count {
        case 1:
            let name = parts[0].lowercased()
            if Platform.knownOperatingSystems.contains(Platform.normalizedOS(name)) {
                let host = Platform.host
                self.init(architecture: host.architecture, os: Platform.normalizedOS(name), variant: host.variant)
            } else {
                let (architecture, variant) = Platform.normalizedArchitecture(name, variant: "")
                guard Platform.knownArchitectures.contains(architecture) else {
                    throw fail("unknown operating system or architecture \"\(parts[0])\"")
                }
                self.init(architecture: architecture, os: "linux", variant: variant.isEmpty ? nil : variant)
            }
        case 2:
            let (architecture, variant) = Platform.normalizedArchitecture(parts[1], variant: "")
            self.init(architecture: architecture, os: Platform.normalizedOS(parts[0]), variant: variant.isEmpty ? nil : variant)
        case 3:
            var (architecture, variant) = Platform.normalizedArchitecture(parts[1], variant: parts[2])
            // containerd keeps a spelled-out arm64 variant: "linux/arm64/v8" stays v8.
            if architecture == "arm64" && variant.isEmpty { variant = "v8" }
            self.init(architecture: architecture, os: Platform.normalizedOS(parts[0]), variant: variant.isEmpty ? nil : variant)
        default:
            throw fail("too many components")
        }
    }

    /// `os/arch[/variant]`, e.g. `linux/arm64/v8` or `linux/amd64`.
    public var description: String {
        var text = "\(os)/\(architecture)"
        if let variant, !variant.isEmpty { text += "/\(variant)" }
        return text
    }

    /// The platform with OS, architecture and variant in canonical form, as containerd's
    /// `platforms.Normalize`: lower case; `x86_64`/`x86-64` → `amd64` (variant `v1` →
    /// none); `aarch64` → `arm64` (variant `8`/`v8`/`v8.0` → none); `armhf` → `arm`/`v7`;
    /// `armel` → `arm`/`v6`; `arm` without variant → `v7`; `i386`/`i486`/`i586`/`i686` →
    /// `386`; `macos` → `darwin`. Two platforms are the same when their normalised forms are.
    public func normalized() -> Platform {
        let (architecture, variant) = Platform.normalizedArchitecture(architecture, variant: variant ?? "")
        var out = self
        out.os = Platform.normalizedOS(os)
        out.architecture = architecture
        out.variant = variant.isEmpty ? nil : variant
        return out
    }

    /// The platform of the running program, from the architecture it was compiled for.
    /// The OS is always `linux`: Kujira runs Linux containers.
    public static var host: Platform {
        #if arch(x86_64)
        Platform(architecture: "amd64", os: "linux")
        #elseif arch(arm64)
        Platform(architecture: "arm64", os: "linux", variant: "v8")
        #elseif arch(arm)
        Platform(architecture: "arm", os: "linux", variant: "v7")
        #elseif arch(i386)
        Platform(architecture: "386", os: "linux")
        #elseif arch(powerpc64le)
        Platform(architecture: "ppc64le", os: "linux")
        #elseif arch(powerpc64)
        Platform(architecture: "ppc64", os: "linux")
        #elseif arch(s390x)
        Platform(architecture: "s390x", os: "linux")
        #elseif arch(riscv64)
        Platform(architecture: "riscv64", os: "linux")
        #else
        Platform(architecture: "unknown", os: "linux")
        #endif
    }

    /// Whether content built for `other` runs on this platform: same OS, and `other`'s
    /// architecture and variant are among ``compatiblePlatforms``. So `linux/arm64` matches
    /// `linux/arm64/v8`, `linux/arm/v7` and `linux/arm/v5`; `linux/arm/v7` matches
    /// `linux/arm/v6` but not `linux/arm/v8`; `linux/amd64/v3` matches `linux/amd64/v2`
    /// and `linux/amd64`.
    public func matches(_ other: Platform) -> Bool {
        preferenceRank(of: other) != nil
    }

    /// The platforms whose content runs on this one, most preferred first (containerd's
    /// `platformVector`): the platform itself; lower `amd64` levels down to `v1`, then
    /// `386`; lower `arm64` revisions, then 32-bit `arm` `v8` down to `v5`; lower `arm`
    /// variants down to `v5`. All normalised.
    public var compatiblePlatforms: [Platform] {
        let platform = normalized()
        var vector = [platform]
        func with(_ architecture: String, _ variant: String?) -> Platform {
            var copy = platform
            copy.architecture = architecture
            copy.variant = variant
            return copy
        }
        switch platform.architecture {
        case "amd64":
            if let level = Platform.versionNumber(platform.variant), level > 1 {
                for lower in stride(from: level - 1, to: 1, by: -1) { vector.append(with("amd64", "v\(lower)")) }
                vector.append(with("amd64", nil))
            }
            // Like containerd: amd64 kernels run 32-bit x86 binaries (IA32 emulation).
            vector.append(with("386", nil))
        case "arm64":
            let (major, minor) = Platform.armRevision(platform.variant)
            if major == 9 {
                for lower in stride(from: minor - 1, through: 0, by: -1) { vector.append(with("arm64", lower == 0 ? "v9" : "v9.\(lower)")) }
            }
            // v9.x implements v8.(x+5) (Arm ARM); v8.x implements every lower v8 revision.
            let v8Minor = major == 9 ? min(minor + 5, 9) + 1 : minor
            for lower in stride(from: v8Minor - 1, through: 1, by: -1) { vector.append(with("arm64", "v8.\(lower)")) }
            if platform.variant != nil { vector.append(with("arm64", nil)) }
            for lower in stride(from: 8, through: 5, by: -1) { vector.append(with("arm", "v\(lower)")) }
        case "arm":
            if let level = Platform.versionNumber(platform.variant), level > 5 {
                for lower in stride(from: level - 1, through: 5, by: -1) { vector.append(with("arm", "v\(lower)")) }
            }
        default:
            break
        }
        return vector
    }

    /// The descriptor to use on this platform among an index's `manifests`: the one whose
    /// platform comes first in ``compatiblePlatforms`` (ties: first in index order); if no
    /// entry has a matching platform, the first entry without a platform; else `nil`.
    public func bestMatch(in descriptors: [Descriptor]) -> Descriptor? {
        sortedByPreference(descriptors).first
    }

    /// The descriptors whose content runs on this platform, most preferred first (see
    /// ``bestMatch(in:)``), entries without a platform last. Stable for equal preference.
    public func sortedByPreference(_ descriptors: [Descriptor]) -> [Descriptor] {
        let vector = compatiblePlatforms
        var ranked: [(rank: Int, position: Int, descriptor: Descriptor)] = []
        for (position, descriptor) in descriptors.enumerated() {
            if let platform = descriptor.platform {
                if let rank = preferenceRank(of: platform, vector: vector) {
                    ranked.append((rank, position, descriptor))
                }
            } else {
                ranked.append((Int.max, position, descriptor))
            }
        }
        ranked.sort { ($0.rank, $0.position) < ($1.rank, $1.position) }
        return ranked.map(\.descriptor)
    }

    /// The position of `other` in ``compatiblePlatforms``, or `nil` when it does not run here.
    func preferenceRank(of other: Platform, vector: [Platform]? = nil) -> Int? {
        let target = other.normalized()
        return (vector ?? compatiblePlatforms).firstIndex { candidate in
            candidate.os == target.os && candidate.architecture == target.architecture
                && (candidate.variant ?? "") == (target.variant ?? "")
        }
    }

    static func normalizedOS(_ os: String) -> String {
        let lower = os.lowercased()
        return lower == "macos" ? "darwin" : lower
    }

    static func normalizedArchitecture(_ architecture: String, variant: String) -> (String, String) {
        let architecture = architecture.lowercased()
        var variant = variant.lowercased()
        switch architecture {
        case "i386", "i486", "i586", "i686", "386":
            return ("386", "")
        case "x86_64", "x86-64", "amd64":
            if variant == "v1" { variant = "" }
            return ("amd64", variant)
        case "aarch64", "arm64":
            switch variant {
            case "8", "v8", "v8.0": variant = ""
            case "9", "9.0", "v9.0": variant = "v9"
            default: break
            }
            return ("arm64", variant)
        case "armhf":
            return ("arm", "v7")
        case "armel":
            return ("arm", "v6")
        case "arm":
            switch variant {
            case "", "7": variant = "v7"
            case "5", "6", "8": variant = "v" + variant
            default: break
            }
            return ("arm", variant)
        default:
            return (architecture, variant)
        }
    }

    /// `vN` → N.
    static func versionNumber(_ variant: String?) -> Int? {
        guard let variant, variant.hasPrefix("v") else { return nil }
        return Int(variant.dropFirst())
    }

    /// An arm64 variant as (major, minor): none → (8, 0), `v8.2` → (8, 2), `v9` → (9, 0).
    static func armRevision(_ variant: String?) -> (Int, Int) {
        guard let variant, variant.hasPrefix("v") else { return (8, 0) }
        let parts = variant.dropFirst().split(separator: ".", omittingEmptySubsequences: false)
        guard let major = parts.first.flatMap({ Int($0) }), major == 8 || major == 9 else { return (8, 0) }
        let minor = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
        return (major, minor)
    }

    static func isSpecifierByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "."):
            true
        default:
            false
        }
    }

    /// Go's `GOOS` values (and `darwin` for `macos`).
    static let knownOperatingSystems: Set<String> = [
        "aix", "android", "darwin", "dragonfly", "freebsd", "hurd", "illumos", "ios", "js", "linux", "nacl",
        "netbsd", "openbsd", "plan9", "solaris", "wasip1", "windows", "zos",
    ]

    /// Go's `GOARCH` values, normalised.
    static let knownArchitectures: Set<String> = [
        "386", "amd64", "amd64p32", "arm", "armbe", "arm64", "arm64be", "loong64", "mips", "mipsle", "mips64",
        "mips64le", "mips64p32", "mips64p32le", "ppc", "ppc64", "ppc64le", "riscv", "riscv64", "s390", "s390x",
        "sparc", "sparc64", "wasm",
    ]
}
