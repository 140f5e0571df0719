public import KujiraOCI

// The runtime spec (config.json) decoded by hand from CompactJSON's parse tree, without Codable.
//
// Why: kujira-runtime is a short-lived process, so every first-use cost is paid at every
// `create`. Decoding a `Spec` through Codable asks the Swift runtime for the metadata of
// `KeyedDecodingContainer<T.CodingKeys>` of each of the ~45 spec types (demangling by name,
// `swift_getTypeByMangledName`) and for their conformances (`swift_conformsToProtocol` scans
// of every conformance record of the binary): 7 % and 3.7 % of a `run`'s samples, under
// `loadSpec` and the state record's encoding (Docs/performance.md, "Runtime", round 3). These
// decoders are plain functions over `JSONNode`: no generic containers, no existentials. The
// `linux` part is in SpecDecoding+Linux.swift.
//
// Semantics are those of `CompactJSON.decode(Spec.self, …)`, which the parity tests
// (SpecDecodingTests) check field by field: unknown keys are ignored, `null` is absent for an
// optional field, a missing required key or a value of the wrong JSON type throws a
// `CompactJSONError` naming the path the way CompactJSON's Codable decoder does
// (`process.user.uid: missing`, `mounts.[0].options.[1]: expected a string, found a number`),
// fields are read in declaration order (the same first error), and integers are converted as
// CompactJSON's `integer` does (exact text, or an exact floating-point value in range).
// A field added to KujiraOCI must be added here too: the tests' every-field fixture fails
// until it is.

/// A JSON object being read by a hand-written decoder: its members and its path in the document.
struct JSONObjectReader {
    private let members: [(String, JSONNode)]
    /// The object's path as CompactJSON writes it in messages (`linux.resources`); empty for
    /// the document itself.
    let path: String

    /// Reads `node`, which must be an object, at `path`.
    init(_ node: JSONNode, path: String) throws {
        guard case .object(let members) = node else { throw JSONValue.mismatch("an object", node, path) }
        self.members = members
        self.path = path
    }

    /// The path of member `key`.
    func path(_ key: String) -> String { path.isEmpty ? key : path + "." + key }

    /// The value of `key`; a later duplicate wins, as in CompactJSON (and JSONDecoder).
    func value(_ key: String) -> JSONNode? {
        var i = members.count
        while i > 0 {
            i -= 1
            if members[i].0 == key { return members[i].1 }
        }
        return nil
    }

    /// The value of a required `key`.
    private func required(_ key: String) throws -> JSONNode {
        guard let node = value(key) else { throw CompactJSONError(description: "\(path(key)): missing") }
        return node
    }

    /// The value of an optional `key`, nil when it is absent or `null`.
    private func optional(_ key: String) -> JSONNode? {
        guard let node = value(key) else { return nil }
        if case .null = node { return nil }
        return node
    }

    func string(_ key: String) throws -> String { try JSONValue.string(try required(key), path(key)) }
    func bool(_ key: String) throws -> Bool { try JSONValue.bool(try required(key), path(key)) }
    func integer<T: FixedWidthInteger>(_ key: String, as type: T.Type) throws -> T {
        try JSONValue.integer(try required(key), path(key), as: type)
    }
    func strings(_ key: String) throws -> [String] { try JSONValue.strings(try required(key), path(key)) }
    func object<T>(_ key: String, _ decode: (JSONNode, String) throws -> T) throws -> T {
        try decode(try required(key), path(key))
    }
    func array<T>(_ key: String, _ element: (JSONNode, String) throws -> T) throws -> [T] {
        try JSONValue.array(try required(key), path(key), element)
    }

    func optionalString(_ key: String) throws -> String? {
        guard let node = optional(key) else { return nil }
        return try JSONValue.string(node, path(key))
    }
    func optionalBool(_ key: String) throws -> Bool? {
        guard let node = optional(key) else { return nil }
        return try JSONValue.bool(node, path(key))
    }
    func optionalInteger<T: FixedWidthInteger>(_ key: String, as type: T.Type) throws -> T? {
        guard let node = optional(key) else { return nil }
        return try JSONValue.integer(node, path(key), as: type)
    }
    func optionalStrings(_ key: String) throws -> [String]? {
        guard let node = optional(key) else { return nil }
        return try JSONValue.strings(node, path(key))
    }
    func optionalIntegers<T: FixedWidthInteger>(_ key: String, as type: T.Type) throws -> [T]? {
        guard let node = optional(key) else { return nil }
        return try JSONValue.array(node, path(key)) { try JSONValue.integer($0, $1, as: type) }
    }
    func optionalObject<T>(_ key: String, _ decode: (JSONNode, String) throws -> T) throws -> T? {
        guard let node = optional(key) else { return nil }
        return try decode(node, path(key))
    }
    func optionalArray<T>(_ key: String, _ element: (JSONNode, String) throws -> T) throws -> [T]? {
        guard let node = optional(key) else { return nil }
        return try JSONValue.array(node, path(key), element)
    }
    /// A `[String: T]` member: its members in document order (a later duplicate wins).
    func optionalDictionary<T>(_ key: String, _ value: (JSONNode, String) throws -> T) throws -> [String: T]? {
        guard let node = optional(key) else { return nil }
        return try JSONValue.dictionary(node, path(key), value)
    }
    func optionalStringDictionary(_ key: String) throws -> [String: String]? {
        try optionalDictionary(key) { try JSONValue.string($0, $1) }
    }
}

/// Conversions of single JSON values, with CompactJSON's messages.
enum JSONValue {
    /// CompactJSON's type-mismatch message; an empty path is the document.
    static func mismatch(_ expected: String, _ node: JSONNode, _ path: String) -> CompactJSONError {
        CompactJSONError(description: "\(path.isEmpty ? "the document" : path): expected \(expected), found \(node.kind)")
    }

    static func string(_ node: JSONNode, _ path: String) throws -> String {
        guard case .string(let value) = node else { throw mismatch("a string", node, path) }
        return value
    }

    static func bool(_ node: JSONNode, _ path: String) throws -> Bool {
        guard case .bool(let value) = node else { throw mismatch("a boolean", node, path) }
        return value
    }

    /// A number's text as `T`: the exact integer, or a floating-point text with an exact
    /// integer value in range (`1.0`, `1e3`), as CompactJSON's `integer` converts.
    static func integer<T: FixedWidthInteger>(_ node: JSONNode, _ path: String, as type: T.Type) throws -> T {
        guard case .number(let text) = node else { throw mismatch("a number", node, path) }
        if let value = T(text) { return value }
        if let double = Double(text), double.rounded() == double, let value = T(exactly: double) { return value }
        throw CompactJSONError(description: "\(path.isEmpty ? "the document" : path): \(text) is not a valid \(T.self)")
    }

    /// The path of element `index` of the array at `path` (`mounts.[2]`).
    static func elementPath(_ path: String, _ index: Int) -> String {
        path.isEmpty ? "[\(index)]" : path + ".[\(index)]"
    }

    /// The path of member `key` of a dictionary at `path`: a key that reads as an `Int` is
    /// written `[n]`, as the standard library's dictionary coding key makes CompactJSON write it.
    static func dictionaryKeyPath(_ path: String, _ key: String) -> String {
        let segment = Int(key).map { "[\($0)]" } ?? key
        return path.isEmpty ? segment : path + "." + segment
    }

    static func strings(_ node: JSONNode, _ path: String) throws -> [String] {
        guard case .array(let items) = node else { throw mismatch("an array", node, path) }
        var out: [String] = []
        out.reserveCapacity(items.count)
        for (i, item) in items.enumerated() {
            guard case .string(let value) = item else { throw mismatch("a string", item, elementPath(path, i)) }
            out.append(value)
        }
        return out
    }

    static func array<T>(_ node: JSONNode, _ path: String, _ element: (JSONNode, String) throws -> T) throws -> [T] {
        guard case .array(let items) = node else { throw mismatch("an array", node, path) }
        var out: [T] = []
        out.reserveCapacity(items.count)
        for (i, item) in items.enumerated() { out.append(try element(item, elementPath(path, i))) }
        return out
    }

    static func dictionary<T>(_ node: JSONNode, _ path: String, _ value: (JSONNode, String) throws -> T) throws -> [String: T] {
        guard case .object(let members) = node else { throw mismatch("an object", node, path) }
        // As Dictionary(from:) over CompactJSON: every key in document order, each decoded from
        // the last value given for it (so a bad value fails at its key's first place). A small
        // object is searched from the end; a large one gets a lookup table (which costs the
        // generic metadata of a second dictionary type at its first use).
        let table: [String: JSONNode]?
        if members.count > 32 {
            var lookup: [String: JSONNode] = [:]
            lookup.reserveCapacity(members.count)
            for (key, item) in members { lookup[key] = item }
            table = lookup
        } else {
            table = nil
        }
        func last(_ key: String) -> JSONNode? {
            if let table { return table[key] }
            var i = members.count
            while i > 0 {
                i -= 1
                if members[i].0 == key { return members[i].1 }
            }
            return nil
        }
        var out: [String: T] = [:]
        out.reserveCapacity(members.count)
        for (key, _) in members where out[key] == nil {
            guard let item = last(key) else { continue }
            out[key] = try value(item, dictionaryKeyPath(path, key))
        }
        return out
    }
}

// MARK: - config.md

extension Spec {
    /// Decodes a container configuration from the parsed `config.json` (see the file comment).
    init(json node: JSONNode) throws {
        try self.init(json: node, path: "")
    }

    init(json node: JSONNode, path: String) throws {
        let o = try JSONObjectReader(node, path: path)
        let ociVersion = try o.string("ociVersion")
        let process = try o.optionalObject("process") { try Process(json: $0, path: $1) }
        let root = try o.optionalObject("root") { try Root(json: $0, path: $1) }
        let hostname = try o.optionalString("hostname")
        let domainname = try o.optionalString("domainname")
        let mounts = try o.optionalArray("mounts") { try Mount(json: $0, path: $1) }
        let hooks = try o.optionalObject("hooks") { try Hooks(json: $0, path: $1) }
        let annotations = try o.optionalStringDictionary("annotations")
        let linux = try o.optionalObject("linux") { try Linux(json: $0, path: $1) }
        self.init(
            ociVersion: ociVersion, process: process, root: root, hostname: hostname, domainname: domainname,
            mounts: mounts, hooks: hooks, annotations: annotations, linux: linux)
    }
}

extension Process {
    init(json node: JSONNode, path: String) throws {
        let o = try JSONObjectReader(node, path: path)
        let terminal = try o.optionalBool("terminal")
        let consoleSize = try o.optionalObject("consoleSize") { try ConsoleSize(json: $0, path: $1) }
        let user = try o.object("user") { try User(json: $0, path: $1) }
        let args = try o.optionalStrings("args")
        let commandLine = try o.optionalString("commandLine")
        let env = try o.optionalStrings("env")
        let cwd = try o.string("cwd")
        let capabilities = try o.optionalObject("capabilities") { try LinuxCapabilities(json: $0, path: $1) }
        let rlimits = try o.optionalArray("rlimits") { try POSIXRlimit(json: $0, path: $1) }
        let noNewPrivileges = try o.optionalBool("noNewPrivileges")
        let apparmorProfile = try o.optionalString("apparmorProfile")
        let oomScoreAdj = try o.optionalInteger("oomScoreAdj", as: Int.self)
        let selinuxLabel = try o.optionalString("selinuxLabel")
        let ioPriority = try o.optionalObject("ioPriority") { try LinuxIOPriority(json: $0, path: $1) }
        let scheduler = try o.optionalObject("scheduler") { try Scheduler(json: $0, path: $1) }
        let execCPUAffinity = try o.optionalObject("execCPUAffinity") { try ExecCPUAffinity(json: $0, path: $1) }
        self.init(
            terminal: terminal, consoleSize: consoleSize, user: user, args: args, commandLine: commandLine,
            env: env, cwd: cwd, capabilities: capabilities, rlimits: rlimits, noNewPrivileges: noNewPrivileges,
            apparmorProfile: apparmorProfile, oomScoreAdj: oomScoreAdj, selinuxLabel: selinuxLabel,
            ioPriority: ioPriority, scheduler: scheduler, execCPUAffinity: execCPUAffinity)
    }
}

extension ConsoleSize {
    init(json node: JSONNode, path: String) throws {
        let o = try JSONObjectReader(node, path: path)
        let height = try o.integer("height", as: UInt32.self)
        let width = try o.integer("width", as: UInt32.self)
        self.init(height: height, width: width)
    }
}

extension User {
    init(json node: JSONNode, path: String) throws {
        let o = try JSONObjectReader(node, path: path)
        let uid = try o.integer("uid", as: UInt32.self)
        let gid = try o.integer("gid", as: UInt32.self)
        let umask = try o.optionalInteger("umask", as: UInt32.self)
        let additionalGids = try o.optionalIntegers("additionalGids", as: UInt32.self)
        let username = try o.optionalString("username")
        self.init(uid: uid, gid: gid, umask: umask, additionalGids: additionalGids, username: username)
    }
}

extension LinuxCapabilities {
    init(json node: JSONNode, path: String) throws {
        let o = try JSONObjectReader(node, path: path)
        let bounding = try o.optionalStrings("bounding")
        let effective = try o.optionalStrings("effective")
        let inheritable = try o.optionalStrings("inheritable")
        let permitted = try o.optionalStrings("permitted")
        let ambient = try o.optionalStrings("ambient")
        self.init(bounding: bounding, effective: effective, inheritable: inheritable, permitted: permitted, ambient: ambient)
    }
}

extension POSIXRlimit {
    init(json node: JSONNode, path: String) throws {
        let o = try JSONObjectReader(node, path: path)
        let type = try o.string("type")
        let hard = try o.integer("hard", as: UInt64.self)
        let soft = try o.integer("soft", as: UInt64.self)
        self.init(type: type, hard: hard, soft: soft)
    }
}

extension LinuxIOPriority {
    init(json node: JSONNode, path: String) throws {
        let o = try JSONObjectReader(node, path: path)
        let ioClass = try o.string("class")
        let priority = try o.integer("priority", as: Int.self)
        self.init(ioClass: ioClass, priority: priority)
    }
}

extension Scheduler {
    init(json node: JSONNode, path: String) throws {
        let o = try JSONObjectReader(node, path: path)
        let policy = try o.string("policy")
        let nice = try o.optionalInteger("nice", as: Int32.self)
        let priority = try o.optionalInteger("priority", as: Int32.self)
        let flags = try o.optionalStrings("flags")
        let runtime = try o.optionalInteger("runtime", as: UInt64.self)
        let deadline = try o.optionalInteger("deadline", as: UInt64.self)
        let period = try o.optionalInteger("period", as: UInt64.self)
        self.init(
            policy: policy, nice: nice, priority: priority, flags: flags, runtime: runtime, deadline: deadline,
            period: period)
    }
}

extension ExecCPUAffinity {
    init(json node: JSONNode, path: String) throws {
        let o = try JSONObjectReader(node, path: path)
        let initial = try o.optionalString("initial")
        let final = try o.optionalString("final")
        self.init(initial: initial, final: final)
    }
}

extension Root {
    init(json node: JSONNode, path: String) throws {
        let o = try JSONObjectReader(node, path: path)
        let rootPath = try o.string("path")
        let readonly = try o.optionalBool("readonly")
        self.init(path: rootPath, readonly: readonly)
    }
}

extension Mount {
    init(json node: JSONNode, path: String) throws {
        let o = try JSONObjectReader(node, path: path)
        let destination = try o.string("destination")
        let type = try o.optionalString("type")
        let source = try o.optionalString("source")
        let options = try o.optionalStrings("options")
        let uidMappings = try o.optionalArray("uidMappings") { try LinuxIDMapping(json: $0, path: $1) }
        let gidMappings = try o.optionalArray("gidMappings") { try LinuxIDMapping(json: $0, path: $1) }
        self.init(
            destination: destination, type: type, source: source, options: options, uidMappings: uidMappings,
            gidMappings: gidMappings)
    }
}

extension Hooks {
    init(json node: JSONNode, path: String) throws {
        let o = try JSONObjectReader(node, path: path)
        let prestart = try o.optionalArray("prestart") { try Hook(json: $0, path: $1) }
        let createRuntime = try o.optionalArray("createRuntime") { try Hook(json: $0, path: $1) }
        let createContainer = try o.optionalArray("createContainer") { try Hook(json: $0, path: $1) }
        let startContainer = try o.optionalArray("startContainer") { try Hook(json: $0, path: $1) }
        let poststart = try o.optionalArray("poststart") { try Hook(json: $0, path: $1) }
        let poststop = try o.optionalArray("poststop") { try Hook(json: $0, path: $1) }
        self.init(
            prestart: prestart, createRuntime: createRuntime, createContainer: createContainer,
            startContainer: startContainer, poststart: poststart, poststop: poststop)
    }
}

extension Hook {
    init(json node: JSONNode, path: String) throws {
        let o = try JSONObjectReader(node, path: path)
        let hookPath = try o.string("path")
        let args = try o.optionalStrings("args")
        let env = try o.optionalStrings("env")
        let timeout = try o.optionalInteger("timeout", as: Int.self)
        self.init(path: hookPath, args: args, env: env, timeout: timeout)
    }
}

extension ContainerRuntime {
    /// Decodes a runtime-spec `process` object (`exec --process`'s JSON) with the same
    /// decoder as config.json: what Codable's decoding of ``KujiraOCI/Process`` gives, without
    /// Codable's first-use cost in a short-lived process.
    /// - Throws: ``RuntimeError`` `.invalidConfig` naming the field at fault.
    public static func decodeProcess(_ bytes: [UInt8]) throws -> KujiraOCI.Process {
        do {
            var parser = JSONParser(bytes)
            return try KujiraOCI.Process(json: try parser.parseDocument(), path: "")
        } catch {
            throw RuntimeError(.invalidConfig, "the process JSON is not a valid runtime-spec process", cause: error)
        }
    }
}
