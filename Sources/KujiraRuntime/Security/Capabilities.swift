internal import CCap
#if canImport(Glibc)
internal import Glibc
#elseif canImport(Musl)
internal import Musl
#endif

/// A set of Linux capabilities as the kernel stores it: bit `n` is capability number `n`
/// (`CAP_CHOWN` = 0, … `CAP_CHECKPOINT_RESTORE` = 40), the layout of `capset(2)`'s two
/// 32-bit words and of `/proc/<pid>/status`'s `CapBnd`/`CapEff` lines.
public struct CapabilitySet: Hashable, Sendable, CustomStringConvertible {
    /// The bitmask.
    public var rawValue: UInt64

    /// The empty set.
    public static let empty = CapabilitySet(rawValue: 0)

    /// Creates a set from a bitmask.
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// Creates a set from capability numbers; numbers outside 0…63 are ignored.
    public init(numbers: some Sequence<Int>) {
        var mask: UInt64 = 0
        for number in numbers where (0..<64).contains(number) { mask |= 1 << UInt64(number) }
        rawValue = mask
    }

    /// Creates a set from names, refusing names that libcap does not know.
    ///
    /// Names may be written as the runtime spec does (`CAP_CHOWN`) or without the prefix and
    /// in any case (`chown`), as Docker's `--cap-add` accepts them.
    /// - Throws: ``SecurityError`` with code `unknownCapability`, naming every unknown name.
    ///   Use ``parse(_:)`` to skip unknown names as runc does.
    public init(names: [String]) throws(SecurityError) {
        let (set, unknown) = Self.parse(names)
        guard unknown.isEmpty else {
            throw SecurityError(
                .unknownCapability,
                "unknown capabilit\(unknown.count == 1 ? "y" : "ies") \(unknown.joined(separator: ", ")); "
                    + "names are like CAP_CHOWN (see capabilities(7))"
            )
        }
        self = set
    }

    /// The set of the names libcap knows, and the names it does not (in their original
    /// spelling, in order), which runc warns about and ignores.
    public static func parse(_ names: [String]) -> (set: CapabilitySet, unknown: [String]) {
        var set = CapabilitySet.empty
        var unknown: [String] = []
        for name in names {
            if let number = Capability.number(named: name) {
                set.insert(number)
            } else {
                unknown.append(name)
            }
        }
        return (set, unknown)
    }

    /// Whether capability `number` is in the set.
    public func contains(_ number: Int) -> Bool {
        (0..<64).contains(number) && rawValue & (1 << UInt64(number)) != 0
    }

    /// Adds capability `number` (ignored outside 0…63).
    public mutating func insert(_ number: Int) {
        if (0..<64).contains(number) { rawValue |= 1 << UInt64(number) }
    }

    /// The capabilities in both sets.
    public func intersection(_ other: CapabilitySet) -> CapabilitySet { CapabilitySet(rawValue: rawValue & other.rawValue) }
    /// The capabilities in either set.
    public func union(_ other: CapabilitySet) -> CapabilitySet { CapabilitySet(rawValue: rawValue | other.rawValue) }
    /// The capabilities of this set that are not in `other`.
    public func subtracting(_ other: CapabilitySet) -> CapabilitySet { CapabilitySet(rawValue: rawValue & ~other.rawValue) }
    /// Whether the set is empty.
    public var isEmpty: Bool { rawValue == 0 }

    /// The capability numbers in the set, ascending.
    public var numbers: [Int] { (0..<64).filter { contains($0) } }
    /// The names in the set (`CAP_CHOWN`, …), by number.
    public var names: [String] { numbers.map(Capability.name(of:)) }

    /// The names, comma-separated, and the mask in hex as `/proc` prints it.
    public var description: String {
        let hex = String(rawValue, radix: 16)
        return "[\(names.joined(separator: ", "))] (0x\(String(repeating: "0", count: max(0, 16 - hex.count)) + hex))"
    }
}

/// Capability names and numbers, through libcap and the running kernel.
public enum Capability {
    /// The canonical spelling of a capability name: upper case with the `CAP_` prefix
    /// (`chown`, `Cap_Chown` and `CAP_CHOWN` all give `CAP_CHOWN`). Pure text; it does not
    /// check that the capability exists.
    public static func canonicalName(_ name: String) -> String {
        let upper = name.uppercased()
        return upper.hasPrefix("CAP_") ? upper : "CAP_" + upper
    }

    /// The number of a capability name (any spelling ``canonicalName(_:)`` accepts), from
    /// libcap's `cap_from_name`; nil when libcap does not know it.
    public static func number(named name: String) -> Int? {
        let canonical = canonicalName(name)
        // libcap also parses bare numbers; a capability *name* must not be one.
        guard canonical.dropFirst(4).contains(where: { $0.isLetter }) else { return nil }
        var value: cap_value_t = 0
        let rc = canonical.lowercased().withCString { cap_from_name($0, &value) }
        guard rc == 0, value >= 0, value < 64 else { return nil }
        return Int(value)
    }

    /// The name of capability `number` (`CAP_CHOWN`), from libcap's `cap_to_name`; a number
    /// that libcap does not name is written `CAP_<number>`.
    public static func name(of number: Int) -> String {
        guard let text = cap_to_name(cap_value_t(number)) else { return "CAP_\(number)" }
        defer { cap_free(text) }
        let name = String(cString: text).uppercased()
        return name.hasPrefix("CAP_") ? name : "CAP_\(number)"
    }

    /// The highest capability number the running kernel supports, from
    /// `/proc/sys/kernel/cap_last_cap` (40 on Linux 5.9 and later).
    public static func lastSupported() throws(SecurityError) -> Int {
        let path = "/proc/sys/kernel/cap_last_cap"
        let text = try KernelFile.contents(of: path).trimmed(of: " \n")
        guard let last = Int(text), (0..<64).contains(last) else {
            throw SecurityError(.io, "\(path) holds \"\(text)\", not a capability number")
        }
        return last
    }

    /// Every capability the running kernel supports.
    public static func allSupported() throws(SecurityError) -> CapabilitySet {
        CapabilitySet(numbers: 0...(try lastSupported()))
    }

    /// The bounding set of the calling process (`CapBnd` in `/proc/self/status`): the most a
    /// container started from here can have. Some hosts lack capabilities in it (this CI
    /// machine has no `CAP_SYS_RESOURCE`).
    public static func hostBoundingSet() throws(SecurityError) -> CapabilitySet {
        let path = "/proc/self/status"
        let status = try KernelFile.contents(of: path)
        for line in status.split(separator: "\n") where line.hasPrefix("CapBnd:") {
            let hex = line.dropFirst("CapBnd:".count).trimmed(of: " \t")
            if let mask = UInt64(hex, radix: 16) { return CapabilitySet(rawValue: mask) }
            throw SecurityError(.io, "\(path) has a CapBnd line \"\(line)\" that is not a hex mask")
        }
        throw SecurityError(.io, "\(path) has no CapBnd line; is /proc mounted?")
    }
}

/// Capability sets that engines use as defaults.
public enum DefaultCapabilities {
    /// The capabilities Docker (and containerd's default spec) gives a container, by name.
    public static let dockerNames = [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
        "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
        "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
    ]

    /// Docker's default set as a mask, `0x00000000a80425fb` (a `docker run` process's CapEff).
    /// Built from fixed numbers (capabilities(7)), so it does not depend on libcap.
    public static let docker = CapabilitySet(numbers: [0, 1, 3, 4, 5, 6, 7, 8, 10, 13, 18, 27, 29, 31])
}

/// Reads small kernel text files (`/proc`, `/sys`) with an `O_CLOEXEC` descriptor.
enum KernelFile {
    static func contents(of path: String) throws(SecurityError) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw SecurityError(.io, "cannot open \(path)", cause: SecurityErrno(errno: errno))
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count == 0 { break }
            if count < 0 {
                if errno == EINTR { continue }
                throw SecurityError(.io, "cannot read \(path)", cause: SecurityErrno(errno: errno))
            }
            bytes.append(contentsOf: chunk[0..<count])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension StringProtocol {
    /// The text without leading and trailing characters from `set` (no Foundation here).
    fileprivate func trimmed(of set: String) -> String {
        var slice = Substring(self)
        while let first = slice.first, set.contains(first) { slice = slice.dropFirst() }
        while let last = slice.last, set.contains(last) { slice = slice.dropLast() }
        return String(slice)
    }
}
