// Validation of a CDI spec: the version rules (each field needs the version that introduced
// it, SPEC.md and the reference's specs-go/version.go) and the per-field rules (names, env
// entries, device node types and permissions, hook names, mounts, Intel RDT, net devices).
// Every error names the field as a path: `devices[2].containerEdits.deviceNodes[0].type`.

/// A CDI specification version, `major.minor.patch` (a leading `v` is accepted).
public struct CDIVersion: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The numeric parts.
    public let major: Int, minor: Int, patch: Int

    /// Creates a version from its parts.
    public init(_ major: Int, _ minor: Int, _ patch: Int) {
        self.major = major
        self.minor = minor
        self.patch = patch
    }

    /// Parses `0.5.0` or `v0.5.0`; nil for anything else.
    public init?(_ text: String) {
        let body = text.hasPrefix("v") ? String(text.dropFirst()) : text
        let parts = body.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let a = Int(parts[0]), let b = Int(parts[1]), let c = Int(parts[2]),
              a >= 0, b >= 0, c >= 0 else { return nil }
        self.init(a, b, c)
    }

    /// `major.minor.patch`.
    public var description: String { "\(major).\(minor).\(patch)" }

    /// Orders by major, minor, patch.
    public static func < (lhs: CDIVersion, rhs: CDIVersion) -> Bool {
        (lhs.major, lhs.minor, lhs.patch) < (rhs.major, rhs.minor, rhs.patch)
    }

    /// The released versions Kujira reads, oldest first.
    public static let supported: [CDIVersion] = [
        .v0_3_0, .v0_4_0, .v0_5_0, .v0_6_0, .v0_7_0, .v0_8_0, .v1_0_0, .v1_1_0,
    ]
    /// 0.3.0: the earliest supported version.
    public static let v0_3_0 = CDIVersion(0, 3, 0)
    /// 0.4.0: `mounts[].type`.
    public static let v0_4_0 = CDIVersion(0, 4, 0)
    /// 0.5.0: `deviceNodes[].hostPath`, device names starting with a digit.
    public static let v0_5_0 = CDIVersion(0, 5, 0)
    /// 0.6.0: annotations on specs and devices, dots in the class.
    public static let v0_6_0 = CDIVersion(0, 6, 0)
    /// 0.7.0: `intelRdt`, `additionalGids`.
    public static let v0_7_0 = CDIVersion(0, 7, 0)
    /// 0.8.0: no spec changes (API only).
    public static let v0_8_0 = CDIVersion(0, 8, 0)
    /// 1.0.0: no spec changes (API only).
    public static let v1_0_0 = CDIVersion(1, 0, 0)
    /// 1.1.0: `netDevices`, `intelRdt.schemata` and `enableMonitoring`; `enableCMT` and
    /// `enableMBM` removed.
    public static let v1_1_0 = CDIVersion(1, 1, 0)
}

extension CDISpec {
    /// The lowest CDI version that has every field this spec uses.
    public var minimumVersion: CDIVersion {
        var edits: [CDIContainerEdits] = devices.map(\.containerEdits)
        if let containerEdits { edits.append(containerEdits) }
        if edits.contains(where: { !($0.netDevices ?? []).isEmpty })
            || edits.contains(where: { $0.intelRdt?.schemata != nil || $0.intelRdt?.enableMonitoring == true }) {
            return .v1_1_0
        }
        if edits.contains(where: { $0.intelRdt != nil || !($0.additionalGids ?? []).isEmpty }) {
            return .v0_7_0
        }
        let deviceClass = kind.split(separator: "/", maxSplits: 1).dropFirst().first ?? ""
        if !(annotations ?? [:]).isEmpty || devices.contains(where: { !($0.annotations ?? [:]).isEmpty })
            || (kind.contains("/") && deviceClass.contains(".")) {
            return .v0_6_0
        }
        if devices.contains(where: { $0.name.first?.isNumber == true && $0.name.first?.isASCII == true })
            || edits.contains(where: { ($0.deviceNodes ?? []).contains { !($0.hostPath ?? "").isEmpty } }) {
            return .v0_5_0
        }
        if edits.contains(where: { ($0.mounts ?? []).contains { !($0.type ?? "").isEmpty } }) {
            return .v0_4_0
        }
        return .v0_3_0
    }

    /// Checks the spec against the CDI rules: a supported `cdiVersion` no lower than the
    /// fields need, a valid kind and annotations, valid edits, devices with valid, unique
    /// names and non-empty edits. Throws ``GPUError/Code-swift.struct/invalidSpec`` naming
    /// the field.
    public func validate() throws {
        guard let version = CDIVersion(cdiVersion) else {
            throw GPUError(.invalidSpec, "cdiVersion: \"\(cdiVersion)\" is not a version (expected e.g. \(CDISpec.latestVersion))")
        }
        guard CDIVersion.supported.contains(version) else {
            let known = CDIVersion.supported.map(\.description).joined(separator: ", ")
            throw GPUError(.invalidSpec, "cdiVersion: unsupported version \(cdiVersion) (supported: \(known))")
        }
        do {
            _ = try CDIQualifiedName.parseKind(kind, context: "kind")
        } catch let error as GPUError {
            throw GPUError(.invalidSpec, error.message)
        }
        let required = minimumVersion
        if version < required {
            throw GPUError(.invalidSpec, "cdiVersion: \(cdiVersion) is too old for the fields this spec uses: \(requirementReason(required)) needs at least \(required)")
        }
        try CDIValidation.annotations(annotations, field: "annotations")
        if let containerEdits {
            try CDIValidation.edits(containerEdits, field: "containerEdits", version: version)
        }
        var seen: [String: Int] = [:]
        for (i, device) in devices.enumerated() {
            let field = "devices[\(i)]"
            do {
                try CDINameRules.validateDeviceName(device.name)
            } catch let error as GPUError {
                throw GPUError(.invalidSpec, "\(field).name: \(error.message)")
            }
            if let first = seen[device.name] {
                throw GPUError(.invalidSpec, "\(field).name: device \"\(device.name)\" is already defined by devices[\(first)]")
            }
            seen[device.name] = i
            try CDIValidation.annotations(device.annotations, field: "\(field).annotations")
            if device.containerEdits.isEmpty {
                throw GPUError(.invalidSpec, "\(field).containerEdits: device \"\(device.name)\" has no edits")
            }
            try CDIValidation.edits(device.containerEdits, field: "\(field).containerEdits", version: version)
        }
    }

    /// Which field forces `version`, for the error message.
    private func requirementReason(_ version: CDIVersion) -> String {
        switch version {
        case .v1_1_0: "netDevices or intelRdt.schemata/enableMonitoring"
        case .v0_7_0: "intelRdt or additionalGids"
        case .v0_6_0: "annotations or a dot in the class"
        case .v0_5_0: "deviceNodes[].hostPath or a device name starting with a digit"
        case .v0_4_0: "mounts[].type"
        default: "the spec"
        }
    }
}

/// The per-field rules of container edits.
enum CDIValidation {
    static func annotations(_ annotations: [String: String]?, field: String) throws {
        guard let annotations else { return }
        var total = 0
        for (key, value) in annotations.sorted(by: { $0.key < $1.key }) {
            total += key.utf8.count + value.utf8.count
            try annotationKey(key, field: field)
        }
        // Kubernetes' limit on annotations, which the CDI reference applies.
        if total > 256 * 1024 {
            throw GPUError(.invalidSpec, "\(field): annotations total \(total) bytes, more than 256 KiB")
        }
    }

    /// A Kubernetes qualified name: an optional DNS-subdomain prefix and `/`, then 1–63
    /// characters `[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?`.
    static func annotationKey(_ key: String, field: String) throws {
        let parts = key.split(separator: "/", omittingEmptySubsequences: false)
        var name = Substring(key)
        if parts.count == 2 {
            let prefix = parts[0]
            let labels = prefix.split(separator: ".", omittingEmptySubsequences: false)
            let dnsOK = !prefix.isEmpty && prefix.count <= 253 && labels.allSatisfy { label in
                !label.isEmpty && label.count <= 63 && label.first.map(isLowerAlnum) == true
                    && label.last.map(isLowerAlnum) == true && label.allSatisfy { isLowerAlnum($0) || $0 == "-" }
            }
            guard dnsOK else {
                throw GPUError(.invalidSpec, "\(field): annotation key \"\(key)\" has an invalid prefix (a lower-case DNS name)")
            }
            name = parts[1]
        } else if parts.count > 2 {
            throw GPUError(.invalidSpec, "\(field): annotation key \"\(key)\" has more than one '/'")
        }
        func isAlnum(_ c: Character) -> Bool { c.isASCII && (c.isLetter || c.isNumber) }
        let nameOK = !name.isEmpty && name.count <= 63 && name.first.map(isAlnum) == true
            && name.last.map(isAlnum) == true && name.allSatisfy { isAlnum($0) || "-_.".contains($0) }
        guard nameOK else {
            throw GPUError(.invalidSpec, "\(field): annotation key \"\(key)\" is not a qualified name (1-63 letters, digits, - _ ., alphanumeric at both ends)")
        }
    }

    private static func isLowerAlnum(_ c: Character) -> Bool {
        c.isASCII && (c.isLowercase || c.isNumber)
    }

    /// `KEY=value` with a non-empty key.
    static func env(_ env: [String]?, field: String) throws {
        for (i, entry) in (env ?? []).enumerated() {
            guard let eq = entry.firstIndex(of: "="), eq != entry.startIndex else {
                throw GPUError(.invalidSpec, "\(field)[\(i)]: invalid environment variable \"\(entry)\" (expected KEY=value)")
            }
        }
    }

    static func edits(_ edits: CDIContainerEdits, field: String, version: CDIVersion) throws {
        try env(edits.env, field: "\(field).env")
        for (i, node) in (edits.deviceNodes ?? []).enumerated() {
            let f = "\(field).deviceNodes[\(i)]"
            if node.path.isEmpty {
                throw GPUError(.invalidSpec, "\(f).path: invalid (empty) device path")
            }
            if let type = node.type, !["", "b", "c", "u", "p"].contains(type) {
                throw GPUError(.invalidSpec, "\(f).type: device \"\(node.path)\": invalid type \"\(type)\" (b, c, u or p)")
            }
            if let permissions = node.permissions, permissions.contains(where: { !"rwm".contains($0) }) {
                throw GPUError(.invalidSpec, "\(f).permissions: device \"\(node.path)\": invalid permissions \"\(permissions)\" (a combination of r, w, m)")
            }
            if let mode = node.fileMode, mode > 0o7777 {
                throw GPUError(.invalidSpec, "\(f).fileMode: device \"\(node.path)\": \(mode) is more than the permission bits 07777")
            }
        }
        for (i, hook) in (edits.hooks ?? []).enumerated() {
            let f = "\(field).hooks[\(i)]"
            if !CDIHook.validNames.contains(hook.hookName) {
                throw GPUError(.invalidSpec, "\(f).hookName: invalid hook name \"\(hook.hookName)\" (one of \(CDIHook.validNames.sorted().joined(separator: ", ")))")
            }
            if hook.path.isEmpty {
                throw GPUError(.invalidSpec, "\(f).path: hook \"\(hook.hookName)\" has an empty path")
            }
            try env(hook.env, field: "\(f).env")
            if let timeout = hook.timeout, timeout <= 0 {
                throw GPUError(.invalidSpec, "\(f).timeout: must be more than 0 seconds, is \(timeout)")
            }
        }
        for (i, mount) in (edits.mounts ?? []).enumerated() {
            let f = "\(field).mounts[\(i)]"
            if mount.hostPath.isEmpty {
                throw GPUError(.invalidSpec, "\(f).hostPath: invalid mount, empty host path")
            }
            if mount.containerPath.isEmpty {
                throw GPUError(.invalidSpec, "\(f).containerPath: invalid mount, empty container path")
            }
        }
        if let rdt = edits.intelRdt {
            try intelRdt(rdt, field: "\(field).intelRdt", version: version)
        }
        var seenNames: Set<String> = [], seenHost: Set<String> = []
        for (i, net) in (edits.netDevices ?? []).enumerated() {
            let f = "\(field).netDevices[\(i)]"
            try interfaceName(net.hostInterfaceName, field: "\(f).hostInterfaceName")
            try interfaceName(net.name, field: "\(f).name")
            guard seenHost.insert(net.hostInterfaceName).inserted else {
                throw GPUError(.invalidSpec, "\(f).hostInterfaceName: \"\(net.hostInterfaceName)\" is listed twice")
            }
            guard seenNames.insert(net.name).inserted else {
                throw GPUError(.invalidSpec, "\(f).name: \"\(net.name)\" is listed twice")
            }
        }
    }

    static func intelRdt(_ rdt: CDIIntelRdt, field: String, version: CDIVersion) throws {
        if let closID = rdt.closID {
            if closID == "." || closID == ".." || closID.contains("/") || closID.contains("\n") || closID.utf8.count > 255 {
                throw GPUError(.invalidSpec, "\(field).closID: invalid resctrl group name \"\(closID)\"")
            }
        }
        if version >= .v1_1_0 {
            if rdt.enableCMT != nil {
                throw GPUError(.invalidSpec, "\(field).enableCMT: not valid for CDI spec version \(version) (use enableMonitoring)")
            }
            if rdt.enableMBM != nil {
                throw GPUError(.invalidSpec, "\(field).enableMBM: not valid for CDI spec version \(version) (use enableMonitoring)")
            }
        }
    }

    /// A Linux interface name: 1–15 bytes, no `/`, `:` or white space, not `.` or `..`.
    static func interfaceName(_ name: String, field: String) throws {
        let ok = !name.isEmpty && name.utf8.count <= 15 && name != "." && name != ".."
            && !name.contains(where: { $0 == "/" || $0 == ":" || $0.isWhitespace })
        guard ok else {
            throw GPUError(.invalidSpec, "\(field): invalid network interface name \"\(name)\"")
        }
    }
}
