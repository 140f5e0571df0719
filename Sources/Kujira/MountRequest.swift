// The mount flags of `create`/`run`, parsed as the Docker CLI parses them:
//
//     -v NAME:/ctr[:ro|rw][,nocopy]                  a named volume (created if missing)
//     -v /ctr                                        an anonymous volume
//     -v /host:/ctr[:ro|rw][,z|Z][,propagation]      a bind mount (a missing host dir is made)
//     --mount type=volume|bind|tmpfs,src=…,dst=…,readonly,volume-opt=k=v,volume-nocopy,
//             volume-label=k=v,bind-propagation=…,tmpfs-size=…,tmpfs-mode=…
//
// A bind source given to `--mount` must exist, as in Docker. Options after the destination
// of `-v` may be separated by `,` (Docker) or by further `:`.

import Foundation
import KujiraVolume

/// One mount a user asked for with `-v` or `--mount`.
struct MountRequest: Sendable, Hashable {
    /// What is mounted.
    enum Kind: String, Sendable, Hashable {
        /// A host path.
        case bind
        /// A named volume, or an anonymous one when ``source`` is empty.
        case volume
        /// A new tmpfs.
        case tmpfs
    }

    var kind: Kind
    /// The host path (bind), the volume name (empty: anonymous), or empty (tmpfs).
    var source: String
    /// The absolute path in the container.
    var destination: String
    var readOnly = false
    /// The mode as `docker inspect` shows it (`ro`, `z`, …).
    var mode = ""
    /// The bind propagation (`rprivate` unless given); empty for volumes.
    var propagation = ""
    /// `nocopy` / `volume-nocopy`: no copy-up of the image's content.
    var noCopy = false
    /// `volume-opt`: driver options for a volume created by this mount.
    var volumeOptions: [String: String] = [:]
    /// `volume-label`: labels of a volume created by this mount.
    var volumeLabels: [String: String] = [:]
    /// `volume-driver`.
    var volumeDriver = "local"
    /// `tmpfs-size`, `tmpfs-mode` (and `ro`), as `--tmpfs` options.
    var tmpfsOptions: [String] = []
    /// Whether a missing bind source is created (`-v`) or an error (`--mount`).
    var createHostPath = false

    static let propagations = ["private", "rprivate", "shared", "rshared", "slave", "rslave"]

    /// Parses a `-v` value.
    static func parseVolume(_ text: String) throws -> MountRequest {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard !text.isEmpty, !parts.contains("") || parts.count == 1 else {
            throw EngineError(.invalidArgument, "invalid volume \(text): use NAME:/container/path, /host/path:/container/path or /container/path, each with optional :ro")
        }
        if parts.count == 1 {
            try checkDestination(parts[0], text: text)
            return MountRequest(kind: .volume, source: "", destination: clean(parts[0]))
        }
        let source = parts[0], destination = parts[1]
        try checkDestination(destination, text: text)
        let isBind = source.hasPrefix("/") || source.hasPrefix(".")
        if isBind && !source.hasPrefix("/") {
            throw EngineError(.invalidArgument, "-v \(text): the host path must be absolute")
        }
        var request = MountRequest(kind: isBind ? .bind : .volume, source: isBind ? clean(source) : source, destination: clean(destination))
        if !isBind {
            guard Volume.isValidName(source) else {
                throw EngineError(.invalidArgument, "-v \(text): \"\(source)\" is not a valid volume name ([a-zA-Z0-9][a-zA-Z0-9_.-]+) nor an absolute host path")
            }
        }
        let modes = parts.dropFirst(2).flatMap { $0.split(separator: ",").map(String.init) }
        var shown: [String] = []
        for mode in modes {
            switch mode {
            case "ro": request.readOnly = true
            case "rw": request.readOnly = false
            case "z", "Z": break  // SELinux relabelling: no SELinux labels are set by Kujira.
            case "nocopy":
                guard !isBind else { throw EngineError(.invalidArgument, "-v \(text): nocopy applies to volumes, not to bind mounts") }
                request.noCopy = true
            case _ where propagations.contains(mode):
                guard isBind else { throw EngineError(.invalidArgument, "-v \(text): propagation \(mode) applies to bind mounts, not to volumes") }
                request.propagation = mode
            default:
                throw EngineError(.invalidArgument, "-v \(text): unknown option \(mode) (use ro, rw, z, Z, nocopy or a propagation: \(propagations.joined(separator: ", ")))")
            }
            shown.append(mode)
        }
        request.mode = shown.joined(separator: ",")
        if isBind {
            request.createHostPath = true
            if request.propagation.isEmpty { request.propagation = "rprivate" }
        } else if request.mode.isEmpty {
            request.mode = "z"
        }
        return request
    }

    /// Parses a `--mount` value.
    static func parseMount(_ text: String) throws -> MountRequest {
        var kind = Kind.volume
        var source = "", destination = ""
        var request = MountRequest(kind: .volume, source: "", destination: "")
        var bindOnly: [String] = [], volumeOnly: [String] = [], tmpfsOnly: [String] = []
        func bool(_ key: String, _ value: String?) throws -> Bool {
            switch value?.lowercased() {
            case nil, "true", "1": return true
            case "false", "0": return false
            default: throw EngineError(.invalidArgument, "--mount \(text): \(key) takes true or false")
            }
        }
        func pair(_ key: String, _ value: String?) throws -> (String, String) {
            guard let value, let equals = value.firstIndex(of: "=") else {
                throw EngineError(.invalidArgument, "--mount \(text): \(key) takes KEY=VALUE")
            }
            return (String(value[..<equals]), String(value[value.index(after: equals)...]))
        }
        for field in splitFields(text) {
            let kv = field.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            let key = kv[0].lowercased(), value = kv.count > 1 ? kv[1] : nil
            switch key {
            case "type":
                guard let value, let given = Kind(rawValue: value) else {
                    throw EngineError(.invalidArgument, "--mount \(text): type must be volume, bind or tmpfs")
                }
                kind = given
            case "source", "src": source = value ?? ""
            case "destination", "dst", "target": destination = value ?? ""
            case "readonly", "ro": request.readOnly = try bool(key, value)
            case "consistency": break  // macOS only; Docker ignores it on Linux too.
            case "bind-propagation":
                guard let value, propagations.contains(value) else {
                    throw EngineError(.invalidArgument, "--mount \(text): bind-propagation must be one of \(propagations.joined(separator: ", "))")
                }
                request.propagation = value
                bindOnly.append(key)
            case "bind-create-src":
                request.createHostPath = try bool(key, value)
                bindOnly.append(key)
            case "volume-nocopy":
                request.noCopy = try bool(key, value)
                volumeOnly.append(key)
            case "volume-opt":
                let (k, v) = try pair(key, value)
                request.volumeOptions[k] = v
                volumeOnly.append(key)
            case "volume-label":
                let (k, v) = try pair(key, value)
                request.volumeLabels[k] = v
                volumeOnly.append(key)
            case "volume-driver":
                request.volumeDriver = value ?? ""
                volumeOnly.append(key)
            case "tmpfs-size":
                guard let value, let bytes = try? ContainerSpecBuilder.parseBytes(value) else {
                    throw EngineError(.invalidArgument, "--mount \(text): tmpfs-size takes a size such as 64m")
                }
                request.tmpfsOptions.append("size=\(bytes)")
                tmpfsOnly.append(key)
            case "tmpfs-mode":
                guard let value, let mode = UInt32(value, radix: 8), mode <= 0o7777 else {
                    throw EngineError(.invalidArgument, "--mount \(text): tmpfs-mode takes an octal mode such as 1777")
                }
                request.tmpfsOptions.append("mode=\(String(mode, radix: 8))")
                tmpfsOnly.append(key)
            default:
                throw EngineError(.invalidArgument, "--mount \(text): unknown field \(key)")
            }
        }
        let wrong = kind == .bind ? volumeOnly + tmpfsOnly : kind == .volume ? bindOnly + tmpfsOnly : bindOnly + volumeOnly
        if let field = wrong.first {
            throw EngineError(.invalidArgument, "--mount \(text): \(field) does not apply to type=\(kind.rawValue)")
        }
        guard !destination.isEmpty else {
            throw EngineError(.invalidArgument, "--mount \(text): the destination (dst=/path) is required")
        }
        try checkDestination(destination, text: text)
        request.kind = kind
        request.destination = clean(destination)
        switch kind {
        case .bind:
            guard !source.isEmpty else { throw EngineError(.invalidArgument, "--mount \(text): a bind mount needs src=/host/path") }
            guard source.hasPrefix("/") else { throw EngineError(.invalidArgument, "--mount \(text): the bind source \(source) must be an absolute path") }
            request.source = clean(source)
            if request.propagation.isEmpty { request.propagation = "rprivate" }
            request.mode = request.readOnly ? "ro" : ""
        case .volume:
            if !source.isEmpty && !Volume.isValidName(source) {
                throw EngineError(.invalidArgument, "--mount \(text): \"\(source)\" is not a valid volume name ([a-zA-Z0-9][a-zA-Z0-9_.-]+)")
            }
            request.source = source
            request.mode = "z"
        case .tmpfs:
            guard source.isEmpty else { throw EngineError(.invalidArgument, "--mount \(text): a tmpfs mount takes no source") }
            if request.readOnly { request.tmpfsOptions.append("ro") }
        }
        return request
    }

    /// Splits a `--mount` value on commas, as a CSV record (a field may be quoted).
    static func splitFields(_ text: String) -> [String] {
        var fields: [String] = [], current = "", quoted = false
        for character in text {
            if character == "\"" { quoted.toggle(); continue }
            if character == "," && !quoted {
                fields.append(current)
                current = ""
            } else {
                current.append(character)
            }
        }
        fields.append(current)
        return fields.filter { !$0.isEmpty }
    }

    static func checkDestination(_ path: String, text: String) throws {
        guard path.hasPrefix("/") else {
            throw EngineError(.invalidArgument, "invalid mount \(text): the container path \(path) must be absolute")
        }
        guard clean(path) != "/" else {
            throw EngineError(.invalidArgument, "invalid mount \(text): the container path cannot be /")
        }
    }

    /// `path` without repeated or trailing slashes and `.` components.
    static func clean(_ path: String) -> String {
        "/" + path.split(separator: "/").filter { $0 != "." }.joined(separator: "/")
    }
}
