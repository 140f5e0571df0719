// Fully qualified CDI device names, `vendor/class=name` (SPEC.md, "Fully qualified device
// names"), and the character rules for each part, as the CDI reference parser applies them.

/// A fully qualified CDI device name: `vendor/class=name`, e.g. `nvidia.com/gpu=0`.
public struct CDIQualifiedName: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The vendor, e.g. `nvidia.com`.
    public let vendor: String
    /// The class, e.g. `gpu`.
    public let deviceClass: String
    /// The device name, e.g. `0`, `all` or a UUID.
    public let name: String

    /// A name from its parts, each checked by the CDI character rules.
    public init(vendor: String, deviceClass: String, name: String) throws {
        try CDINameRules.validateVendor(vendor)
        try CDINameRules.validateClass(deviceClass)
        try CDINameRules.validateDeviceName(name)
        self.vendor = vendor
        self.deviceClass = deviceClass
        self.name = name
    }

    /// Parses `vendor/class=name`.
    public init(parsing text: String) throws {
        guard let eq = text.firstIndex(of: "=") else {
            throw GPUError(.invalidName, "\"\(text)\" is not a CDI device name: expected vendor/class=name, e.g. nvidia.com/gpu=0")
        }
        let kind = String(text[..<eq])
        let name = String(text[text.index(after: eq)...])
        let (vendor, deviceClass) = try CDIQualifiedName.parseKind(kind, context: "device \"\(text)\"")
        do {
            try self.init(vendor: vendor, deviceClass: deviceClass, name: name)
        } catch let error as GPUError {
            throw GPUError(.invalidName, "device \"\(text)\": \(error.message)")
        }
    }

    /// Whether `text` looks like a qualified name (has `/` before `=`); for telling
    /// `--device nvidia.com/gpu=0` from `--device /dev/fuse`.
    public static func isQualifiedName(_ text: String) -> Bool {
        guard !text.hasPrefix("/"), let eq = text.firstIndex(of: "="), let slash = text.firstIndex(of: "/") else {
            return false
        }
        return slash < eq
    }

    /// Splits and checks a kind, `vendor/class`.
    public static func parseKind(_ kind: String, context: String = "kind") throws -> (vendor: String, deviceClass: String) {
        let parts = kind.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
            throw GPUError(.invalidName, "\(context): kind \"\(kind)\" is not vendor/class, e.g. nvidia.com/gpu")
        }
        let vendor = String(parts[0]), deviceClass = String(parts[1])
        do {
            try CDINameRules.validateVendor(vendor)
            try CDINameRules.validateClass(deviceClass)
        } catch let error as GPUError {
            throw GPUError(.invalidName, "\(context): \(error.message)")
        }
        return (vendor, deviceClass)
    }

    /// `vendor/class`.
    public var kind: String { "\(vendor)/\(deviceClass)" }
    /// `vendor/class=name`.
    public var description: String { "\(kind)=\(name)" }

    /// Orders by the text form.
    public static func < (lhs: CDIQualifiedName, rhs: CDIQualifiedName) -> Bool {
        lhs.description < rhs.description
    }
}

/// The character rules of CDI names (the reference parser's `ValidateVendorName`,
/// `ValidateClassName`, `ValidateDeviceName`).
public enum CDINameRules {
    static func isLetter(_ c: Character) -> Bool { c.isASCII && c.isLetter }
    static func isAlphaNumeric(_ c: Character) -> Bool { c.isASCII && (c.isLetter || c.isNumber) }

    /// A vendor: starts with a letter, ends with a letter or digit, letters, digits, `_`, `-`
    /// and `.` between.
    public static func validateVendor(_ vendor: String) throws {
        try validateVendorOrClass(vendor, what: "vendor")
    }

    /// A class: the vendor rules (dots only from CDI 0.6.0 on, checked with the version).
    public static func validateClass(_ deviceClass: String) throws {
        try validateVendorOrClass(deviceClass, what: "class")
    }

    private static func validateVendorOrClass(_ name: String, what: String) throws {
        guard let first = name.first, let last = name.last else {
            throw GPUError(.invalidName, "invalid \(what): empty name")
        }
        guard isLetter(first) else {
            throw GPUError(.invalidName, "invalid \(what) \"\(name)\": must start with a letter")
        }
        for c in name.dropFirst().dropLast() where !(isAlphaNumeric(c) || c == "_" || c == "-" || c == ".") {
            throw GPUError(.invalidName, "invalid \(what) \"\(name)\": character '\(c)' is not allowed (letters, digits, _ - .)")
        }
        guard isAlphaNumeric(last) else {
            throw GPUError(.invalidName, "invalid \(what) \"\(name)\": must end with a letter or digit")
        }
    }

    /// A device name: starts and ends with a letter or digit, letters, digits, `_`, `-`, `.`
    /// and `:` between (a leading digit needs CDI 0.5.0, checked with the version).
    public static func validateDeviceName(_ name: String) throws {
        guard let first = name.first, let last = name.last else {
            throw GPUError(.invalidName, "invalid (empty) device name")
        }
        guard isAlphaNumeric(first) else {
            throw GPUError(.invalidName, "invalid device name \"\(name)\": must start with a letter or digit")
        }
        for c in name.dropFirst().dropLast() where !(isAlphaNumeric(c) || "_-.:".contains(c)) {
            throw GPUError(.invalidName, "invalid device name \"\(name)\": character '\(c)' is not allowed (letters, digits, _ - . :)")
        }
        guard isAlphaNumeric(last) else {
            throw GPUError(.invalidName, "invalid device name \"\(name)\": must end with a letter or digit")
        }
    }
}
