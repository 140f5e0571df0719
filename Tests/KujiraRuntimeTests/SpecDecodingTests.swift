import Foundation
import KujiraOCI
@testable import KujiraRuntime
import Testing

/// The hand-written spec decoder (`Spec(json:)`) and state record coding against CompactJSON's
/// Codable decoder: same values, same failures, same messages.
@Suite("SpecDecoding")
struct SpecDecodingTests {
    /// A config.json that gives every field of every spec type a value: no optional is absent,
    /// no array or dictionary is empty (checked by `everyFieldIsSet`, so a field added to
    /// KujiraOCI fails that test until it is added here and to SpecDecoding.swift).
    static let everyField = #"""
        {
          "ociVersion": "1.2.0",
          "process": {
            "terminal": true,
            "consoleSize": {"height": 25, "width": 80},
            "user": {"uid": 1000, "gid": 1001, "umask": 18, "additionalGids": [5, 6], "username": "alice"},
            "args": ["/bin/sh", "-c", "echo \"hi\" \\ \u00e9"],
            "commandLine": "sh -c true",
            "env": ["PATH=/usr/bin:/bin", "TERM=xterm"],
            "cwd": "/work",
            "capabilities": {
              "bounding": ["CAP_KILL", "CAP_CHOWN"],
              "effective": ["CAP_KILL"],
              "inheritable": ["CAP_NET_RAW"],
              "permitted": ["CAP_KILL", "CAP_CHOWN"],
              "ambient": ["CAP_KILL"]
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 18446744073709551615, "soft": 1024}],
            "noNewPrivileges": true,
            "apparmorProfile": "docker-default",
            "oomScoreAdj": -500,
            "selinuxLabel": "system_u:system_r:container_t:s0",
            "ioPriority": {"class": "IOPRIO_CLASS_BE", "priority": 4},
            "scheduler": {
              "policy": "SCHED_DEADLINE", "nice": -5, "priority": 10, "flags": ["SCHED_FLAG_RESET_ON_FORK"],
              "runtime": 10000000, "deadline": 20000000, "period": 30000000
            },
            "execCPUAffinity": {"initial": "0-3", "final": "1"}
          },
          "root": {"path": "rootfs", "readonly": true},
          "hostname": "box",
          "domainname": "example.org",
          "mounts": [
            {
              "destination": "/data", "type": "bind", "source": "/srv/data", "options": ["rbind", "ro"],
              "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
              "gidMappings": [{"containerID": 0, "hostID": 200000, "size": 65536}]
            }
          ],
          "hooks": {
            "prestart": [{"path": "/usr/bin/pre", "args": ["pre", "1"], "env": ["A=1"], "timeout": 5}],
            "createRuntime": [{"path": "/usr/bin/cr", "args": ["cr"], "env": ["B=2"], "timeout": 6}],
            "createContainer": [{"path": "/usr/bin/cc", "args": ["cc"], "env": ["C=3"], "timeout": 7}],
            "startContainer": [{"path": "/usr/bin/sc", "args": ["sc"], "env": ["D=4"], "timeout": 8}],
            "poststart": [{"path": "/usr/bin/ps", "args": ["ps"], "env": ["E=5"], "timeout": 9}],
            "poststop": [{"path": "/usr/bin/pst", "args": ["pst"], "env": ["F=6"], "timeout": 10}]
          },
          "annotations": {"org.example.key": "value", "42": "numeric key"},
          "linux": {
            "namespaces": [{"type": "network", "path": "/proc/1/ns/net"}, {"type": "pid", "path": "/proc/1/ns/pid"}],
            "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
            "gidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
            "timeOffsets": {"monotonic": {"secs": -3600, "nanosecs": 500}, "boottime": {"secs": 7, "nanosecs": 1}},
            "devices": [
              {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 438, "uid": 0, "gid": 0}
            ],
            "cgroupsPath": "/kujira/every-field",
            "resources": {
              "devices": [{"allow": false, "type": "a", "major": -1, "minor": -1, "access": "rwm"}],
              "memory": {
                "limit": 536870912, "reservation": 268435456, "swap": 1073741824, "kernel": -1,
                "kernelTCP": 65536, "swappiness": 60, "disableOOMKiller": false, "useHierarchy": true,
                "checkBeforeUpdate": true
              },
              "cpu": {
                "shares": 1024, "quota": 50000, "burst": 1000, "period": 100000, "realtimeRuntime": 950000,
                "realtimePeriod": 1000000, "cpus": "0-1", "mems": "0", "idle": 1
              },
              "pids": {"limit": 64},
              "blockIO": {
                "weight": 500, "leafWeight": 300,
                "weightDevice": [{"major": 8, "minor": 0, "weight": 600, "leafWeight": 200}],
                "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}],
                "throttleWriteBpsDevice": [{"major": 8, "minor": 16, "rate": 2097152}],
                "throttleReadIOPSDevice": [{"major": 8, "minor": 0, "rate": 100}],
                "throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 200}]
              },
              "hugepageLimits": [{"pageSize": "2MB", "limit": 209715200}],
              "network": {"classID": 1048577, "priorities": [{"name": "eth0", "priority": 500}]},
              "rdma": {"mlx5_1": {"hcaHandles": 3, "hcaObjects": 10000}},
              "unified": {"memory.high": "max", "io.weight": "default 100"}
            },
            "rootfsPropagation": "rslave",
            "seccomp": {
              "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
              "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
              "flags": ["SECCOMP_FILTER_FLAG_LOG"],
              "listenerPath": "/run/seccomp-agent.sock", "listenerMetadata": "meta",
              "syscalls": [
                {
                  "names": ["personality"], "action": "SCMP_ACT_ALLOW", "errnoRet": 38,
                  "args": [{"index": 0, "value": 4294967295, "valueTwo": 8, "op": "SCMP_CMP_MASKED_EQ"}]
                }
              ]
            },
            "sysctl": {"net.ipv4.ip_forward": "1", "kernel.shm_rmid_forced": "1"},
            "maskedPaths": ["/proc/kcore", "/proc/keys"],
            "readonlyPaths": ["/proc/sys", "/proc/bus"],
            "mountLabel": "system_u:object_r:container_file_t:s0",
            "intelRdt": {
              "closID": "guaranteed", "l3CacheSchema": "L3:0=ffff0", "memBwSchema": "MB:0=20", "enableCMT": true,
              "enableMBM": true, "schemata": ["L2:0=f"], "enableMonitoring": true
            },
            "personality": {"domain": "LINUX32", "flags": ["ADDR_NO_RANDOMIZE"]},
            "netDevices": {"eth1": {"name": "net1"}}
          },
          "unknownKey": {"ignored": [1, 2, 3]}
        }
        """#

    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("KujiraOCITests/Fixtures")

    /// Decodes `bytes` both ways; compares the results (values, or error messages).
    static func bothWays(_ bytes: [UInt8]) -> (codable: Result<Spec, CompactJSONError>, manual: Result<Spec, CompactJSONError>) {
        func run(_ body: () throws -> Spec) -> Result<Spec, CompactJSONError> {
            do { return .success(try body()) } catch let error as CompactJSONError { return .failure(error) } catch {
                return .failure(CompactJSONError(description: "unexpected error type: \(error)"))
            }
        }
        let codable = run { try CompactJSON.decode(Spec.self, from: bytes) }
        let manual = run {
            var parser = JSONParser(bytes)
            return try Spec(json: try parser.parseDocument())
        }
        return (codable, manual)
    }

    /// Nil optionals and empty collections in `value`, by path (a Mirror walk).
    static func unsetFields(_ value: Any, _ path: String) -> [String] {
        let mirror = Mirror(reflecting: value)
        switch mirror.displayStyle {
        case .optional:
            guard let wrapped = mirror.children.first else { return [path + " is nil"] }
            return unsetFields(wrapped.value, path)
        case .collection:
            if mirror.children.isEmpty { return [path + " is empty"] }
            return mirror.children.enumerated().flatMap { unsetFields($0.element.value, path + "[\($0.offset)]") }
        case .dictionary:
            if mirror.children.isEmpty { return [path + " is empty"] }
            return mirror.children.flatMap { entry -> [String] in
                let pair = Array(Mirror(reflecting: entry.value).children)
                guard pair.count == 2 else { return [] }
                return unsetFields(pair[1].value, path + "[\(pair[0].value)]")
            }
        case .struct, .class:
            return mirror.children.flatMap { unsetFields($0.value, path + "." + ($0.label ?? "?")) }
        default:
            return []
        }
    }

    @Test func everyFieldIsSet() throws {
        let spec = try CompactJSON.decode(Spec.self, from: Array(Self.everyField.utf8))
        #expect(Self.unsetFields(spec, "spec") == [])
    }

    @Test func theWalkFindsUnsetFields() throws {
        var spec = try CompactJSON.decode(Spec.self, from: Array(Self.everyField.utf8))
        spec.linux?.resources?.rdma = nil
        spec.process?.user.additionalGids = []
        spec.linux?.timeOffsets?["boottime"]?.nanosecs = nil
        #expect(Self.unsetFields(spec, "spec").sorted() == [
            "spec.linux.resources.rdma is nil", "spec.linux.timeOffsets[boottime].nanosecs is nil",
            "spec.process.user.additionalGids is empty",
        ])
    }

    @Test func everyFieldDecodesAsCodableDoes() throws {
        let (codable, manual) = Self.bothWays(Array(Self.everyField.utf8))
        let expected = try codable.get()
        #expect(try manual.get() == expected)
        // The same through Foundation's decoder, as a third opinion.
        #expect(try JSONDecoder().decode(Spec.self, from: Data(Self.everyField.utf8)) == expected)
    }

    /// Docker's defaults on top of the runtime's template: its capabilities and seccomp profile.
    static func dockerLikeSpec() -> Spec {
        var spec = RuntimeTemplates.spec()
        let caps = DefaultCapabilities.dockerNames
        spec.process?.capabilities = LinuxCapabilities(bounding: caps, effective: caps, permitted: caps)
        spec.process?.env = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOSTNAME=c1"]
        spec.linux?.seccomp = DefaultSeccompProfile.profile(capabilities: Set(caps))
        spec.linux?.sysctl = ["net.ipv4.ip_unprivileged_port_start": "0"]
        spec.linux?.resources = LinuxResources(
            devices: [LinuxDeviceCgroup(allow: false, access: "rwm"), LinuxDeviceCgroup(allow: true, type: "c", major: 1, minor: 3, access: "rwm")],
            memory: LinuxMemory(limit: 1 << 30), cpu: LinuxCPU(shares: 512, quota: 50000, period: 100000),
            pids: LinuxPids(limit: -1))
        return spec
    }

    @Test(arguments: ["runtime-spec-full.json", "runc-spec.json", "runc-spec-rootless.json"])
    func fixturesDecodeAsCodableDoes(name: String) throws {
        let data = try Data(contentsOf: Self.fixtures.appendingPathComponent(name))
        let (codable, manual) = Self.bothWays(Array(data))
        #expect(try manual.get() == codable.get())
    }

    @Test(arguments: [false, true])
    func templatesDecodeAsCodableDoes(rootless: Bool) throws {
        for spec in [RuntimeTemplates.spec(rootless: rootless), Self.dockerLikeSpec()] {
            // Foundation's pretty-printed output, as the tests' bundles and many engines write it.
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            for bytes in [Array(try encoder.encode(spec)), try CompactJSON.encode(spec)] {
                let (codable, manual) = Self.bothWays(bytes)
                #expect(try codable.get() == spec)
                #expect(try manual.get() == spec)
            }
        }
    }

    // MARK: - Error parity

    enum Step: CustomStringConvertible {
        case key(String)
        case index(Int)
        var description: String {
            switch self {
            case .key(let key): key
            case .index(let index): "[\(index)]"
            }
        }
    }

    /// Every location in `node`, depth first.
    static func locations(_ node: JSONNode, _ prefix: [Step] = []) -> [[Step]] {
        switch node {
        case .object(let members):
            return members.flatMap { [prefix + [.key($0.0)]] + locations($0.1, prefix + [.key($0.0)]) }
        case .array(let items):
            return items.enumerated().flatMap { [prefix + [.index($0.offset)]] + locations($0.element, prefix + [.index($0.offset)]) }
        default:
            return []
        }
    }

    /// `node` with the value at `path` replaced by `replacement`, or removed when it is nil.
    static func changing(_ node: JSONNode, at path: ArraySlice<Step>, to replacement: JSONNode?) -> JSONNode {
        guard let step = path.first else { return replacement ?? node }
        let rest = path.dropFirst()
        switch (node, step) {
        case (.object(let members), .key(let key)):
            return .object(members.compactMap { member in
                guard member.0 == key else { return member }
                if rest.isEmpty, replacement == nil { return nil }
                return (member.0, changing(member.1, at: rest, to: replacement))
            })
        case (.array(let items), .index(let index)):
            var items = items
            if rest.isEmpty, replacement == nil {
                items.remove(at: index)
            } else {
                items[index] = changing(items[index], at: rest, to: replacement)
            }
            return .array(items)
        default:
            return node
        }
    }

    static func value(_ node: JSONNode, at path: [Step]) -> JSONNode? {
        var node = node
        for step in path {
            switch (node, step) {
            case (.object(let members), .key(let key)):
                guard let next = members.last(where: { $0.0 == key })?.1 else { return nil }
                node = next
            case (.array(let items), .index(let index)):
                node = items[index]
            default:
                return nil
            }
        }
        return node
    }

    /// Values of every JSON type, and numbers at and past the edges of the integer types.
    static let replacements: [JSONNode] = [
        .null, .bool(true), .string("7"), .array([]), .object([]), .array([.string("x")]), .object([("x", .number("1"))]),
        .number("0"), .number("-1"), .number("1.5"), .number("2.0"), .number("1e3"), .number("-0"),
        .number("127"), .number("128"), .number("255"), .number("256"), .number("32767"), .number("32768"),
        .number("65535"), .number("65536"), .number("2147483647"), .number("2147483648"), .number("-2147483649"),
        .number("4294967295"), .number("4294967296"), .number("9223372036854775807"), .number("9223372036854775808"),
        .number("-9223372036854775808"), .number("-9223372036854775809"), .number("18446744073709551615"),
        .number("18446744073709551616"), .number("1e19"), .number("1e30"), .number("-1e3"),
    ]

    static func render(_ node: JSONNode) -> [UInt8] {
        var out: [UInt8] = []
        JSONWriter.write(node, into: &out)
        return out
    }

    /// One mutated document: both decoders succeed with equal values, or both fail with the
    /// same message.
    static func compare(_ document: JSONNode, _ what: String) -> (difference: String?, decoded: Bool) {
        let (codable, manual) = bothWays(render(document))
        switch (codable, manual) {
        case (.success(let a), .success(let b)):
            return (a == b ? nil : "\(what): values differ", true)
        case (.failure(let a), .failure(let b)):
            return (a.description == b.description ? nil : "\(what): messages differ: \(a) vs \(b)", false)
        case (.success, .failure(let b)):
            return ("\(what): Codable decodes it, Spec(json:) fails: \(b)", true)
        case (.failure(let a), .success):
            return ("\(what): Codable fails (\(a)), Spec(json:) decodes it", false)
        }
    }

    @Test func removingAnyKeyFailsOrSucceedsAsCodableDoes() throws {
        var parser = JSONParser(Array(Self.everyField.utf8))
        let document = try parser.parseDocument()
        let paths = Self.locations(document)
        #expect(paths.count > 300)
        let differences = paths.compactMap { path in
            Self.compare(Self.changing(document, at: path[...], to: nil), "removing \(path.map(\.description).joined(separator: "."))")
                .difference
        }
        #expect(differences == [])
    }

    @Test func replacingAnyValueFailsOrSucceedsAsCodableDoes() throws {
        var parser = JSONParser(Array(Self.everyField.utf8))
        let document = try parser.parseDocument()
        var differences: [String] = []
        var failures = 0
        var successes = 0
        for path in Self.locations(document) {
            let location = path.map(\.description).joined(separator: ".")
            for replacement in Self.replacements {
                let mutated = Self.changing(document, at: path[...], to: replacement)
                let outcome = Self.compare(mutated, "\(location) = \(String(decoding: Self.render(replacement), as: UTF8.self))")
                if let difference = outcome.difference { differences.append(difference) }
                if outcome.decoded { successes += 1 } else { failures += 1 }
            }
        }
        #expect(differences == [])
        // Both outcomes are exercised: the mutations are not all accepted, nor all refused.
        #expect(failures > 1000)
        #expect(successes > 100)
    }

    @Test(arguments: [
        "[]", "null", "{}", #"{"ociVersion": 1}"#, #"{"ociVersion": "1", "process": {}}"#,
        #"{"ociVersion": "1", "process": {"cwd": "/", "user": {"uid": -1, "gid": 0}}}"#,
        #"{"ociVersion": "1", "linux": {"sysctl": {"7": 1}}}"#,
        #"{"ociVersion": "1", "linux": {"sysctl": {"a": "1", "a": 2}}}"#,
        #"{"ociVersion": "1", "linux": {"sysctl": {"a": 2, "a": "1"}}}"#,
        #"{"ociVersion": "1", "ociVersion": null}"#,
        #"{"ociVersion": "1", "hostname": null, "mounts": null, "annotations": null}"#,
        #"{"ociVersion": "1", "mounts": [{"destination": "/a"}, {"destination": 3}]}"#,
        #"{"ociVersion": "1", "process": {"cwd": "/", "user": {"uid": 0, "gid": 0, "additionalGids": [1, "2"]}}}"#,
    ])
    func smallDocumentsDecodeAsCodableDoes(document: String) throws {
        var parser = JSONParser(Array(document.utf8))
        #expect(Self.compare(try parser.parseDocument(), document).difference == nil)
    }

    /// Dictionaries past the size where the decoder switches to a lookup table, with
    /// duplicate keys whose first or last value is of the wrong type.
    @Test(arguments: [10, 40], [#""ok""#, "1"])
    func largeDictionariesDecodeAsCodableDoes(size: Int, lastValue: String) throws {
        let entries = (0..<size).map { #""k\#($0)": "v\#($0)""# }
        for members in [entries + [#""k3": 1"#, #""k3": \#(lastValue)"#], entries + [#""k3": \#(lastValue)"#, #""8": 2"#]] {
            let document = #"{"ociVersion": "1", "annotations": {\#(members.joined(separator: ", "))}}"#
            var parser = JSONParser(Array(document.utf8))
            #expect(Self.compare(try parser.parseDocument(), document).difference == nil)
        }
    }

    @Test func errorsNameThePath() {
        let document = #"{"ociVersion": "1", "mounts": [{"destination": "/a", "options": ["ro", 1]}]}"#
        let (_, manual) = Self.bothWays(Array(document.utf8))
        guard case .failure(let error) = manual else {
            Issue.record("decoded a document with a number among the mount options")
            return
        }
        #expect(error.description == "mounts.[0].options.[1]: expected a string, found a number")
    }

    // MARK: - State record

    static func record(specJSON: [UInt8], cgroupPath: String?) throws -> ContainerRecord {
        var parser = JSONParser(specJSON)
        return ContainerRecord(
            id: "c-1", pid: 4242, pidStartTime: 18_446_744_073_709_551_615, bundle: "/b \"quoted\"\n",
            rootfs: "/b/rootfs", created: "2026-11-29T05:00:00.123456789Z", owner: "",
            spec: try Spec(json: try parser.parseDocument()), specJSON: specJSON, cgroupPath: cgroupPath,
            sharesHostPIDNamespace: true)
    }

    static func expectSame(_ a: ContainerRecord, _ b: ContainerRecord) {
        #expect(a.id == b.id)
        #expect(a.pid == b.pid)
        #expect(a.pidStartTime == b.pidStartTime)
        #expect(a.bundle == b.bundle)
        #expect(a.rootfs == b.rootfs)
        #expect(a.created == b.created)
        #expect(a.owner == b.owner)
        #expect(a.spec == b.spec)
        #expect(a.cgroupPath == b.cgroupPath)
        #expect(a.sharesHostPIDNamespace == b.sharesHostPIDNamespace)
    }

    /// The record as CompactJSON's Codable encoder wrote it before (the previous state format).
    struct LegacyRecord: Codable {
        var id: String
        var pid: Int32
        var pidStartTime: UInt64
        var bundle: String
        var rootfs: String
        var created: String
        var owner: String
        var spec: Spec
        var cgroupPath: String?
        var sharesHostPIDNamespace: Bool

        init(_ record: ContainerRecord) {
            id = record.id
            pid = record.pid
            pidStartTime = record.pidStartTime
            bundle = record.bundle
            rootfs = record.rootfs
            created = record.created
            owner = record.owner
            spec = record.spec
            cgroupPath = record.cgroupPath
            sharesHostPIDNamespace = record.sharesHostPIDNamespace
        }
    }

    @Test(arguments: [nil, "/sys/fs/cgroup/kujira/c-1"])
    func recordRoundTrips(cgroupPath: String?) throws {
        // Pretty-printed, with whitespace around: kept as it is inside the state document.
        let specJSON = Array(("\n  " + Self.everyField + "\n\n").utf8)
        let record = try Self.record(specJSON: specJSON, cgroupPath: cgroupPath)
        let bytes = record.encoded()
        let decoded = try ContainerRecord(json: bytes)
        Self.expectSame(decoded, record)
        #expect(try CompactJSON.decode(Spec.self, from: decoded.specJSON) == record.spec)
        // The same document as the previous format, but for the spec's bytes.
        let legacy = try CompactJSON.decode(LegacyRecord.self, from: bytes)
        Self.expectSame(try ContainerRecord(json: try CompactJSON.encode(legacy)), record)
        #expect(try CompactJSON.encode(legacy) == CompactJSON.encode(LegacyRecord(record)))
        // Saved twice, the second save from a loaded record: the same bytes.
        #expect(try ContainerRecord(json: decoded.encoded()).encoded() == decoded.encoded())
    }

    /// The cgroup handle as CompactJSON's Codable coder wrote and read it before.
    struct LegacyHandle: Codable, Equatable {
        var path: String
        var directories: [String: String]
    }

    @Test(arguments: [
        CgroupManagerDriver.Handle(path: "/kujira/c-1", directories: [:]),
        CgroupManagerDriver.Handle(path: "/kujira/\"c\"\n", directories: [
            "memory": "/sys/fs/cgroup/memory/kujira/c-1", "cpu,cpuacct": "/sys/fs/cgroup/cpu,cpuacct/kujira/c-1",
            "": "/sys/fs/cgroup/kujira/c-1", "name=systemd": "/sys/fs/cgroup/systemd/kujira/c-1",
        ]),
    ])
    func cgroupHandleCodesAsCodableDid(handle: CgroupManagerDriver.Handle) throws {
        let legacy = LegacyHandle(path: handle.path, directories: handle.directories)
        // The same bytes as before, read back both ways.
        #expect(handle.encoded() == (try CompactJSON.encode(legacy)))
        #expect(try CompactJSON.decode(LegacyHandle.self, from: handle.encoded()) == legacy)
        let decoded = try CgroupManagerDriver.Handle(json: try CompactJSON.encode(legacy))
        #expect(decoded.path == handle.path)
        #expect(decoded.directories == handle.directories)
        // Broken handles fail as they did.
        for broken in [#"{"path": "/a"}"#, #"{"path": 1, "directories": {}}"#, #"{"path": "/a", "directories": {"x": 1}}"#, "[]"] {
            var message: [String] = []
            for decode in [{ _ = try CompactJSON.decode(LegacyHandle.self, from: Array(broken.utf8)) },
                           { _ = try CgroupManagerDriver.Handle(json: Array(broken.utf8)) }] {
                do { try decode() } catch { message.append("\(error)") }
            }
            #expect(message.count == 2 && message[0] == message[1], "\(broken): \(message)")
        }
    }

    @Test func stateDirectoryLoadsThePreviousFormat() throws {
        let root = try Sandbox.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let directory = StateDirectory(root: root)
        let record = try Self.record(specJSON: Array(Self.everyField.utf8), cgroupPath: "/kujira/c-1")
        try FileManager.default.createDirectory(atPath: directory.directory(record.id), withIntermediateDirectories: true)
        // A state file written by the previous version.
        try Data(try CompactJSON.encode(LegacyRecord(record))).write(to: URL(fileURLWithPath: directory.stateFile(record.id)))
        Self.expectSame(try directory.load(record.id), record)
        // This version's file, written and read back from disk (not from the cache: the bytes
        // are written by hand).
        try Data(record.encoded()).write(to: URL(fileURLWithPath: directory.stateFile(record.id)))
        Self.expectSame(try directory.load(record.id), record)
        // And a state file this version cannot read names the path.
        try Data(#"{"id": "c-1", "pid": "4242"}"#.utf8).write(to: URL(fileURLWithPath: directory.stateFile(record.id)))
        #expect {
            try directory.load(record.id)
        } throws: { error in
            "\(error)".contains("pid: expected a number, found a string")
        }
    }
}
