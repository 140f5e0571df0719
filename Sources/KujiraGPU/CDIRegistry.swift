// The CDI registry: the spec files of the spec directories, their devices by qualified name,
// and the errors found while reading them. Like the CDI reference cache: directories are
// listed in priority order (a later directory wins over an earlier one), a broken file is
// reported and skipped without hiding the others, and a device defined by two files of the
// same priority is a conflict that makes the device unusable until one file goes.

import Foundation
public import KujiraOCI

/// A spec file read by a ``CDIRegistry``.
public struct CDISpecFile: Hashable, Sendable {
    /// The file's path.
    public var path: String
    /// The index of its directory in the registry's list; higher wins.
    public var priority: Int
    /// The decoded, validated spec.
    public var spec: CDISpec
}

/// A device known to a ``CDIRegistry``.
public struct CDIRegisteredDevice: Hashable, Sendable {
    /// The fully qualified name.
    public var name: CDIQualifiedName
    /// The device.
    public var device: CDIDevice
    /// The file that defines it.
    public var file: CDISpecFile
}

/// The CDI devices defined by the spec files of a list of directories.
public struct CDIRegistry: Sendable {
    /// The directories CDI consumers read by default, lowest priority first: `/etc/cdi` (static
    /// specs) and `/var/run/cdi` (specs generated at boot).
    public static let defaultSpecDirectories = ["/etc/cdi", "/var/run/cdi"]

    /// The directories read, lowest priority first.
    public let specDirectories: [String]
    /// The valid spec files read, in directory then name order.
    public private(set) var files: [CDISpecFile] = []
    /// Usable devices by qualified name (`vendor/class=name`).
    public private(set) var devices: [String: CDIRegisteredDevice] = [:]
    /// Problems found: unreadable or invalid files (the message names the file and field)
    /// and conflicts (naming both files). The registry still serves the other devices.
    public private(set) var errors: [GPUError] = []
    /// Conflicting device names and the files that define them.
    public private(set) var conflicts: [String: [String]] = [:]

    /// Reads every `*.json`, `*.yaml` and `*.yml` file of `specDirectories` (missing
    /// directories are skipped). Files are read in name order within a directory.
    public init(specDirectories: [String] = CDIRegistry.defaultSpecDirectories) {
        self.specDirectories = specDirectories
        for (priority, directory) in specDirectories.enumerated() {
            let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
            for name in names {
                guard let format = CDISpecFormat(fileName: name) else { continue }
                let path = directory.hasSuffix("/") ? directory + name : directory + "/" + name
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
                    continue
                }
                guard let data = FileManager.default.contents(atPath: path) else {
                    errors.append(GPUError(.hostIO, "\(path): cannot read the CDI spec"))
                    continue
                }
                do {
                    let spec = try CDISpec(decoding: data, format: format, source: path)
                    add(CDISpecFile(path: path, priority: priority, spec: spec))
                } catch let error as GPUError {
                    errors.append(error)
                } catch {
                    errors.append(GPUError(.malformedSpec, "\(path): cannot read the CDI spec", cause: error))
                }
            }
        }
    }

    /// A registry over specs already in memory (for specs generated on the fly), each at the
    /// priority of its position: later wins.
    public init(specs: [(path: String, spec: CDISpec)]) throws {
        specDirectories = []
        for (priority, entry) in specs.enumerated() {
            do {
                try entry.spec.validate()
            } catch let error as GPUError {
                throw GPUError(error.code, "\(entry.path): \(error.message)")
            }
            add(CDISpecFile(path: entry.path, priority: priority, spec: entry.spec))
        }
    }

    private mutating func add(_ file: CDISpecFile) {
        files.append(file)
        guard let (vendor, deviceClass) = try? CDIQualifiedName.parseKind(file.spec.kind) else { return }
        for device in file.spec.devices {
            guard let name = try? CDIQualifiedName(vendor: vendor, deviceClass: deviceClass, name: device.name) else {
                continue
            }
            let key = name.description
            if let paths = conflicts[key] {
                // Already conflicting: a higher priority definition settles it, another one of
                // the same priority joins the conflict.
                let priorities = files.filter { paths.contains($0.path) }.map(\.priority)
                if file.priority > (priorities.max() ?? -1) {
                    conflicts[key] = nil
                    devices[key] = CDIRegisteredDevice(name: name, device: device, file: file)
                } else if file.priority == priorities.max() {
                    conflicts[key] = paths + [file.path]
                    errors.append(GPUError(.deviceConflict, "conflicting device \"\(key)\" (specs \(file.path), \(paths.joined(separator: ", ")))"))
                }
                continue
            }
            if let old = devices[key] {
                if file.priority == old.file.priority {
                    devices[key] = nil
                    conflicts[key] = [old.file.path, file.path]
                    errors.append(GPUError(.deviceConflict, "conflicting device \"\(key)\" (specs \(old.file.path), \(file.path))"))
                    continue
                }
                if file.priority < old.file.priority { continue }
            }
            devices[key] = CDIRegisteredDevice(name: name, device: device, file: file)
        }
    }

    /// The qualified names of the usable devices, sorted.
    public var deviceNames: [String] { devices.keys.sorted() }

    /// The kinds (`vendor/class`) of the valid spec files, sorted.
    public var kinds: [String] { Set(files.map(\.spec.kind)).sorted() }

    /// The device with the qualified name `name`. The error for an unknown name lists the
    /// devices of the same kind (or every device when the kind is unknown) and the spec
    /// directories.
    public func device(named name: String) throws -> CDIRegisteredDevice {
        let qualified = try CDIQualifiedName(parsing: name)
        if let device = devices[qualified.description] { return device }
        if let paths = conflicts[qualified.description] {
            throw GPUError(.deviceConflict, "CDI device \"\(qualified)\" is defined by more than one spec of the same priority (\(paths.joined(separator: ", "))); remove one of them")
        }
        let sameKind = deviceNames.filter { $0.hasPrefix(qualified.kind + "=") }
        let dirs = specDirectories.isEmpty ? "the given specs" : specDirectories.joined(separator: ", ")
        if !sameKind.isEmpty {
            throw GPUError(.unknownDevice, "unknown CDI device \"\(qualified)\"; \(qualified.kind) has: \(sameKind.joined(separator: ", "))")
        }
        let known = deviceNames.isEmpty ? "no CDI devices are defined" : "known devices: \(deviceNames.joined(separator: ", "))"
        var message = "unknown CDI device \"\(qualified)\": no spec of kind \(qualified.kind) in \(dirs); \(known)"
        if qualified.kind == "nvidia.com/gpu" {
            message += " (generate one with `kujira cdi generate nvidia -o /var/run/cdi/nvidia.yaml`)"
        }
        let broken = errors.filter { $0.code != .deviceConflict }
        if !broken.isEmpty {
            message += "; \(broken.count) spec file(s) could not be used: " + broken.map(\.message).joined(separator: "; ")
        }
        throw GPUError(.unknownDevice, message)
    }

    /// The combined edits for `names`, in request order: each spec's own edits once (before
    /// its first device), then each device's edits; a name requested twice counts once.
    public func edits(for names: [String]) throws -> CDIContainerEdits {
        var result = CDIContainerEdits()
        var seenSpecs: Set<String> = [], seenDevices: Set<String> = []
        for name in names {
            let device = try device(named: name)
            guard seenDevices.insert(device.name.description).inserted else { continue }
            if seenSpecs.insert(device.file.path).inserted, let specEdits = device.file.spec.containerEdits {
                result = result.appending(specEdits)
            }
            result = result.appending(device.device.containerEdits)
        }
        return result
    }

    /// Applies the devices `names` to `spec`. Every name is resolved before anything is
    /// changed, so an unknown name leaves `spec` as it was.
    public func apply(devices names: [String], to spec: inout Spec) throws {
        let edits = try edits(for: names)
        var copy = spec
        try edits.apply(to: &copy)
        spec = copy
    }

    /// The CDI device names requested by `cdi.k8s.io/*` annotations (the CRI convention: a key
    /// `cdi.k8s.io/<plugin>_<id>`, a value of comma-separated qualified names), sorted by key.
    public static func devicesRequested(byAnnotations annotations: [String: String]) throws -> [String] {
        var names: [String] = []
        for (key, value) in annotations.sorted(by: { $0.key < $1.key }) where key.hasPrefix(annotationPrefix) {
            for part in value.split(separator: ",") {
                let name = part.trimmingCharacters(in: .whitespaces)
                do {
                    names.append(try CDIQualifiedName(parsing: name).description)
                } catch let error as GPUError {
                    throw GPUError(.invalidName, "annotation \(key): \(error.message)")
                }
            }
        }
        return names
    }

    /// The prefix of CDI device-request annotations: `cdi.k8s.io/`.
    public static let annotationPrefix = "cdi.k8s.io/"
}
