// The Container Device Interface spec document (CDI SPEC.md, versions 0.3.0 to 1.1.0): the
// JSON or YAML files in /etc/cdi and /var/run/cdi. Field names follow the JSON names of the
// spec; optional fields are omitted when nil, so a spec Kujira writes is what nvidia-ctk and
// podman read. Validation is in CDIValidation.swift, application to a runtime Spec in
// CDIContainerEdits+Apply.swift.

public import Foundation
import Yams

/// A CDI spec file: the devices of one kind (`vendor/class`) and the edits they need.
public struct CDISpec: Codable, Hashable, Sendable {
    /// `cdiVersion`: the version of the CDI specification the document follows, e.g. `0.5.0`.
    public var cdiVersion: String
    /// `kind`: the `vendor/class` of the devices, e.g. `nvidia.com/gpu`.
    public var kind: String
    /// `annotations`: metadata of the spec (0.6.0 and later).
    public var annotations: [String: String]?
    /// `devices`: the devices the spec defines.
    public var devices: [CDIDevice]
    /// `containerEdits`: edits applied once to a container that gets any device of the spec.
    public var containerEdits: CDIContainerEdits?

    /// Creates a value; optional fields default to absent.
    public init(
        cdiVersion: String, kind: String, annotations: [String: String]? = nil, devices: [CDIDevice],
        containerEdits: CDIContainerEdits? = nil
    ) {
        self.cdiVersion = cdiVersion
        self.kind = kind
        self.annotations = annotations
        self.devices = devices
        self.containerEdits = containerEdits
    }

    /// The newest CDI specification version Kujira reads and writes.
    public static let latestVersion = "1.1.0"
    /// The oldest CDI specification version Kujira reads.
    public static let earliestVersion = "0.3.0"
}

/// A device of a CDI spec (SPEC.md, "devices").
public struct CDIDevice: Codable, Hashable, Sendable {
    /// `name`: the device name, unique in its spec; the part after `=` of a qualified name.
    public var name: String
    /// `annotations`: metadata of the device (0.6.0 and later).
    public var annotations: [String: String]?
    /// `containerEdits`: the edits that give a container this device. Must not be empty.
    public var containerEdits: CDIContainerEdits

    /// Creates a value; optional fields default to absent.
    public init(name: String, annotations: [String: String]? = nil, containerEdits: CDIContainerEdits = .init()) {
        self.name = name
        self.annotations = annotations
        self.containerEdits = containerEdits
    }

    enum CodingKeys: String, CodingKey {
        case name, annotations, containerEdits
    }

    /// Decodes a device; a missing `containerEdits` decodes as empty edits, which validation
    /// then reports (as the Go reference does), rather than as an anonymous decoding error.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        annotations = try c.decodeIfPresent([String: String].self, forKey: .annotations)
        containerEdits = try c.decodeIfPresent(CDIContainerEdits.self, forKey: .containerEdits) ?? .init()
    }
}

/// The edits of a container's runtime Spec that expose a device (SPEC.md, "containerEdits").
public struct CDIContainerEdits: Codable, Hashable, Sendable {
    /// `env`: `KEY=value` entries added to the process environment, replacing the same key.
    public var env: [String]?
    /// `deviceNodes`: device nodes to create in the container.
    public var deviceNodes: [CDIDeviceNode]?
    /// `hooks`: OCI hooks to add.
    public var hooks: [CDIHook]?
    /// `mounts`: mounts to add, replacing a mount at the same container path.
    public var mounts: [CDIMount]?
    /// `intelRdt`: Intel RDT settings (0.7.0 and later).
    public var intelRdt: CDIIntelRdt?
    /// `additionalGids`: supplementary groups of the process (0.7.0 and later).
    public var additionalGids: [UInt32]?
    /// `netDevices`: host network interfaces to move into the container (1.1.0 and later).
    public var netDevices: [CDINetDevice]?

    /// Creates a value; optional fields default to absent.
    public init(
        env: [String]? = nil, deviceNodes: [CDIDeviceNode]? = nil, hooks: [CDIHook]? = nil,
        mounts: [CDIMount]? = nil, intelRdt: CDIIntelRdt? = nil, additionalGids: [UInt32]? = nil,
        netDevices: [CDINetDevice]? = nil
    ) {
        self.env = env
        self.deviceNodes = deviceNodes
        self.hooks = hooks
        self.mounts = mounts
        self.intelRdt = intelRdt
        self.additionalGids = additionalGids
        self.netDevices = netDevices
    }

    /// Whether the edits change nothing.
    public var isEmpty: Bool {
        (env ?? []).isEmpty && (deviceNodes ?? []).isEmpty && (hooks ?? []).isEmpty
            && (mounts ?? []).isEmpty && intelRdt == nil && (additionalGids ?? []).isEmpty
            && (netDevices ?? []).isEmpty
    }

    /// These edits followed by `other`'s (lists concatenated; `other`'s `intelRdt` wins).
    public func appending(_ other: CDIContainerEdits) -> CDIContainerEdits {
        func join<T>(_ a: [T]?, _ b: [T]?) -> [T]? {
            let joined = (a ?? []) + (b ?? [])
            return joined.isEmpty ? nil : joined
        }
        return CDIContainerEdits(
            env: join(env, other.env), deviceNodes: join(deviceNodes, other.deviceNodes),
            hooks: join(hooks, other.hooks), mounts: join(mounts, other.mounts),
            intelRdt: other.intelRdt ?? intelRdt, additionalGids: join(additionalGids, other.additionalGids),
            netDevices: join(netDevices, other.netDevices))
    }
}

/// A device node to create in the container (SPEC.md, "deviceNodes").
public struct CDIDeviceNode: Codable, Hashable, Sendable {
    /// `path`: the path of the node in the container. Required.
    public var path: String
    /// `hostPath`: the node on the host, when it differs from `path` (0.5.0 and later).
    public var hostPath: String?
    /// `type`: `c`, `b`, `u` or `p`; taken from the host node when absent.
    public var type: String?
    /// `major`: the major number; taken from the host node when absent or 0.
    public var major: Int64?
    /// `minor`: the minor number; taken from the host node with the major.
    public var minor: Int64?
    /// `fileMode`: the permission bits of the node in the container; the host node's when absent.
    public var fileMode: UInt32?
    /// `permissions`: the cgroup access, a combination of `r`, `w`, `m`; `rwm` when absent.
    public var permissions: String?
    /// `uid`: the owner of the node in the container.
    public var uid: UInt32?
    /// `gid`: the group of the node in the container.
    public var gid: UInt32?

    /// Creates a value; optional fields default to absent.
    public init(
        path: String, hostPath: String? = nil, type: String? = nil, major: Int64? = nil, minor: Int64? = nil,
        fileMode: UInt32? = nil, permissions: String? = nil, uid: UInt32? = nil, gid: UInt32? = nil
    ) {
        self.path = path
        self.hostPath = hostPath
        self.type = type
        self.major = major
        self.minor = minor
        self.fileMode = fileMode
        self.permissions = permissions
        self.uid = uid
        self.gid = gid
    }
}

/// A mount to add to the container (SPEC.md, "mounts").
public struct CDIMount: Codable, Hashable, Sendable {
    /// `hostPath`: the mount source on the host. Required.
    public var hostPath: String
    /// `containerPath`: the mount point in the container. Required.
    public var containerPath: String
    /// `type`: the filesystem type, e.g. `bind` or `tmpfs` (0.4.0 and later).
    public var type: String?
    /// `options`: mount options, e.g. `ro`, `nosuid`, `nodev`, `bind`.
    public var options: [String]?

    /// Creates a value; optional fields default to absent.
    public init(hostPath: String, containerPath: String, type: String? = nil, options: [String]? = nil) {
        self.hostPath = hostPath
        self.containerPath = containerPath
        self.type = type
        self.options = options
    }
}

/// An OCI hook to add to the container (SPEC.md, "hooks").
public struct CDIHook: Codable, Hashable, Sendable {
    /// `hookName`: the OCI hook list: `prestart`, `createRuntime`, `createContainer`,
    /// `startContainer`, `poststart` or `poststop`. Required.
    public var hookName: String
    /// `path`: the hook executable. Required.
    public var path: String
    /// `args`: the arguments, the executable's name first.
    public var args: [String]?
    /// `env`: `KEY=value` entries.
    public var env: [String]?
    /// `timeout`: seconds before the hook is aborted.
    public var timeout: Int?

    /// Creates a value; optional fields default to absent.
    public init(hookName: String, path: String, args: [String]? = nil, env: [String]? = nil, timeout: Int? = nil) {
        self.hookName = hookName
        self.path = path
        self.args = args
        self.env = env
        self.timeout = timeout
    }

    /// The hook names CDI accepts: the lists of the OCI runtime spec.
    public static let validNames: Set<String> = [
        "prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop",
    ]
}

/// Intel RDT settings (SPEC.md, "intelRdt", 0.7.0 and later).
public struct CDIIntelRdt: Codable, Hashable, Sendable {
    /// `closID`: the resctrl class of service (directory) name.
    public var closID: String?
    /// `l3CacheSchema`: the L3 cache allocation schema.
    public var l3CacheSchema: String?
    /// `memBwSchema`: the memory bandwidth allocation schema.
    public var memBwSchema: String?
    /// `schemata`: whole schemata lines (1.1.0 and later).
    public var schemata: [String]?
    /// `enableCMT`: cache monitoring (0.7.0 to 1.0.0; replaced by `enableMonitoring`).
    public var enableCMT: Bool?
    /// `enableMBM`: memory bandwidth monitoring (0.7.0 to 1.0.0; replaced by `enableMonitoring`).
    public var enableMBM: Bool?
    /// `enableMonitoring`: resctrl monitoring (1.1.0 and later).
    public var enableMonitoring: Bool?

    /// Creates a value; optional fields default to absent.
    public init(
        closID: String? = nil, l3CacheSchema: String? = nil, memBwSchema: String? = nil, schemata: [String]? = nil,
        enableCMT: Bool? = nil, enableMBM: Bool? = nil, enableMonitoring: Bool? = nil
    ) {
        self.closID = closID
        self.l3CacheSchema = l3CacheSchema
        self.memBwSchema = memBwSchema
        self.schemata = schemata
        self.enableCMT = enableCMT
        self.enableMBM = enableMBM
        self.enableMonitoring = enableMonitoring
    }
}

/// A host network interface to move into the container (SPEC.md, "netDevices", 1.1.0).
public struct CDINetDevice: Codable, Hashable, Sendable {
    /// `hostInterfaceName`: the interface's name on the host. Required.
    public var hostInterfaceName: String
    /// `name`: the interface's name in the container. Required.
    public var name: String

    /// Creates a value.
    public init(hostInterfaceName: String, name: String) {
        self.hostInterfaceName = hostInterfaceName
        self.name = name
    }
}

// MARK: - Reading and writing

/// The encodings of a CDI spec file, chosen by file extension.
public enum CDISpecFormat: String, Sendable, CaseIterable {
    /// `.json`.
    case json
    /// `.yaml` (and `.yml`).
    case yaml

    /// The format for a file name, or nil for names CDI ignores.
    public init?(fileName: String) {
        if fileName.hasSuffix(".json") { self = .json }
        else if fileName.hasSuffix(".yaml") || fileName.hasSuffix(".yml") { self = .yaml }
        else { return nil }
    }
}

extension CDISpec {
    /// Decodes a spec from JSON or YAML and validates it (``validate()``). `source` names the
    /// file in errors: `source: devices[1].containerEdits.deviceNodes[0].path: …`.
    public init(decoding data: Data, format: CDISpecFormat, source: String) throws {
        do {
            switch format {
            case .json:
                self = try JSONDecoder().decode(CDISpec.self, from: data)
            case .yaml:
                self = try YAMLDecoder().decode(CDISpec.self, from: String(decoding: data, as: UTF8.self))
            }
        } catch let error as DecodingError {
            throw GPUError(.malformedSpec, "\(source): \(Self.describe(error))")
        } catch {
            throw GPUError(.malformedSpec, "\(source): not a valid CDI spec (\(format.rawValue))", cause: error)
        }
        do {
            try validate()
        } catch let error as GPUError {
            throw GPUError(error.code, "\(source): \(error.message)", cause: error.cause)
        }
    }

    /// The spec encoded as JSON (sorted keys, as nvidia-ctk writes with `--format json`) or YAML.
    public func encoded(as format: CDISpecFormat) throws -> Data {
        switch format {
        case .json:
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            return try encoder.encode(self) + Data("\n".utf8)
        case .yaml:
            let encoder = YAMLEncoder()
            encoder.options.sortKeys = false
            // Writes "---" first, like nvidia-ctk, so the file reads as one YAML document.
            return Data(("---\n" + (try encoder.encode(self))).utf8)
        }
    }

    /// A decoding error rendered as `field.path: what is wrong`.
    static func describe(_ error: DecodingError) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            var text = ""
            for key in keys {
                if let index = key.intValue { text += "[\(index)]" }
                else { text += text.isEmpty ? key.stringValue : "." + key.stringValue }
            }
            return text.isEmpty ? "(document)" : text
        }
        switch error {
        case .keyNotFound(let key, let context):
            let parent = path(context.codingPath)
            let field = parent == "(document)" ? key.stringValue : parent + "." + key.stringValue
            return "\(field): required field is missing"
        case .typeMismatch(let type, let context):
            return "\(path(context.codingPath)): expected \(Self.typeName(type))"
        case .valueNotFound(let type, let context):
            return "\(path(context.codingPath)): expected \(Self.typeName(type)), found null"
        case .dataCorrupted(let context):
            let underlying = context.underlyingError.map { " (\($0))" } ?? ""
            return "\(path(context.codingPath)): \(context.debugDescription)\(underlying)"
        @unknown default:
            return "\(error)"
        }
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Bool.Type: "a boolean"
        case is Int.Type, is Int64.Type, is UInt32.Type: "an integer"
        default:
            String(describing: type).hasPrefix("Array") ? "a list" : "an object (\(type))"
        }
    }
}
