public import KujiraOCI

/// The five capability sets of the container process as bitmasks, ready for the init:
/// it drops every capability outside ``bounding`` with `prctl(PR_CAPBSET_DROP)`, sets
/// ``effective``/``permitted``/``inheritable`` with `capset(2)` (two 32-bit words each), and
/// raises each of ``ambient`` with `prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE)`.
public struct ProcessCapabilityMasks: Hashable, Sendable {
    /// The bounding set.
    public var bounding: UInt64
    /// The effective set.
    public var effective: UInt64
    /// The permitted set.
    public var permitted: UInt64
    /// The inheritable set.
    public var inheritable: UInt64
    /// The ambient set; always within both ``permitted`` and ``inheritable``.
    public var ambient: UInt64

    /// Creates a value.
    public init(bounding: UInt64, effective: UInt64, permitted: UInt64, inheritable: UInt64, ambient: UInt64) {
        self.bounding = bounding
        self.effective = effective
        self.permitted = permitted
        self.inheritable = inheritable
        self.ambient = ambient
    }

    /// Every set equal to `set` except ``ambient`` (empty): what Docker gives a root process.
    public init(uniform set: CapabilitySet) {
        self.init(
            bounding: set.rawValue, effective: set.rawValue, permitted: set.rawValue,
            inheritable: set.rawValue, ambient: 0
        )
    }
}

/// The masks computed for a container process, and what had to be left out of them.
public struct ResolvedCapabilities: Hashable, Sendable {
    /// The masks the init applies.
    public var masks: ProcessCapabilityMasks
    /// One sentence per capability that was ignored (unknown to libcap or to the kernel) or
    /// dropped (outside the host's bounding set, or ambient without permitted+inheritable),
    /// for the runtime to log as warnings, as runc does.
    public var warnings: [String]

    /// Creates a value.
    public init(masks: ProcessCapabilityMasks, warnings: [String]) {
        self.masks = masks
        self.warnings = warnings
    }
}

extension ProcessCapabilityMasks {
    /// Computes the masks for `process.capabilities` the way runc does: unknown names are
    /// ignored with a warning instead of failing the container, and a missing list means an
    /// empty set.
    ///
    /// A nil `process.capabilities` is not handled here: runc then leaves the init's
    /// capabilities as they are, and so should the caller.
    ///
    /// - Parameters:
    ///   - capabilities: the spec's lists of names.
    ///   - hostBounding: the runtime's own bounding set (``Capability/hostBoundingSet()``):
    ///     capabilities outside it cannot be granted, so they are removed with a warning.
    ///   - lastSupported: the kernel's last capability (``Capability/lastSupported()``);
    ///     names libcap knows but the kernel does not are ignored with a warning.
    public static func resolve(
        _ capabilities: LinuxCapabilities, hostBounding: CapabilitySet, lastSupported: Int
    ) -> ResolvedCapabilities {
        var warnings: [String] = []
        var unknownSeen: Set<String> = []
        var unsupportedSeen: Set<Int> = []
        func set(_ names: [String]?) -> CapabilitySet {
            let (parsed, unknown) = CapabilitySet.parse(names ?? [])
            for name in unknown where unknownSeen.insert(name).inserted {
                warnings.append("unknown capability \"\(name)\" ignored")
            }
            var result = CapabilitySet.empty
            for number in parsed.numbers {
                if number <= lastSupported {
                    result.insert(number)
                } else if unsupportedSeen.insert(number).inserted {
                    warnings.append(
                        "capability \(Capability.name(of: number)) (\(number)) is not supported by the running kernel "
                            + "(last capability \(lastSupported)); ignored"
                    )
                }
            }
            return result
        }
        let requested = (
            bounding: set(capabilities.bounding), effective: set(capabilities.effective),
            permitted: set(capabilities.permitted), inheritable: set(capabilities.inheritable),
            ambient: set(capabilities.ambient)
        )
        let all = requested.bounding.union(requested.effective).union(requested.permitted)
            .union(requested.inheritable).union(requested.ambient)
        let missing = all.subtracting(hostBounding)
        if !missing.isEmpty {
            warnings.append(
                "capabilit\(missing.numbers.count == 1 ? "y" : "ies") \(missing.names.joined(separator: ", ")) "
                    + "not in the host's bounding set (CapBnd) and dropped from the container"
            )
        }
        let permitted = requested.permitted.intersection(hostBounding)
        let inheritable = requested.inheritable.intersection(hostBounding)
        var ambient = requested.ambient.intersection(hostBounding)
        // The kernel refuses an ambient capability that is not both permitted and inheritable.
        let unraisable = ambient.subtracting(permitted.intersection(inheritable))
        if !unraisable.isEmpty {
            warnings.append(
                "ambient capabilit\(unraisable.numbers.count == 1 ? "y" : "ies") \(unraisable.names.joined(separator: ", ")) "
                    + "not in both the permitted and inheritable sets; dropped from the ambient set"
            )
            ambient = ambient.subtracting(unraisable)
        }
        let masks = ProcessCapabilityMasks(
            bounding: requested.bounding.intersection(hostBounding).rawValue,
            effective: requested.effective.intersection(hostBounding).rawValue,
            permitted: permitted.rawValue, inheritable: inheritable.rawValue, ambient: ambient.rawValue
        )
        return ResolvedCapabilities(masks: masks, warnings: warnings)
    }

    /// ``resolve(_:hostBounding:lastSupported:)`` against this process's bounding set and
    /// the running kernel.
    /// - Throws: ``SecurityError`` when `/proc` cannot be read.
    public static func resolveForHost(_ capabilities: LinuxCapabilities) throws(SecurityError) -> ResolvedCapabilities {
        resolve(
            capabilities, hostBounding: try Capability.hostBoundingSet(), lastSupported: try Capability.lastSupported()
        )
    }
}
