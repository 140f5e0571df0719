import Foundation
import Testing
@testable import KujiraGPU

/// A spec document in YAML with `VERSION` and `EDITS`/`DEVICE` placeholders.
private func yaml(version: String, kind: String = "vendor.com/device", deviceName: String = "dev0",
                  deviceEdits: String = "deviceNodes: [{path: /dev/null}]", specExtra: String = "",
                  deviceExtra: String = "") -> String {
    """
    cdiVersion: "\(version)"
    kind: \(kind)
    \(specExtra)
    devices:
    - name: "\(deviceName)"
      \(deviceExtra)
      containerEdits: {\(deviceEdits)}
    """
}

struct ValidationCase: CustomTestStringConvertible, Sendable {
    var label: String
    var document: String
    /// nil: valid; else a substring of the error message.
    var error: String?
    var testDescription: String { label }
}

/// Every version rule with the version before it (rejected) and the version that introduced
/// it (accepted), and each per-field rule.
let validationCases: [ValidationCase] = [
    // Versions.
    .init(label: "0.3.0 basic", document: yaml(version: "0.3.0")),
    .init(label: "1.1.0 basic", document: yaml(version: "1.1.0")),
    .init(label: "v-prefixed version", document: yaml(version: "v0.6.0")),
    .init(label: "0.2.0 unsupported", document: yaml(version: "0.2.0"), error: "cdiVersion: unsupported version 0.2.0"),
    .init(label: "1.2.0 unknown", document: yaml(version: "1.2.0"), error: "unsupported version"),
    .init(label: "garbage version", document: yaml(version: "one"), error: "is not a version"),
    // 0.4.0: mounts[].type
    .init(label: "mount type needs 0.4.0", document: yaml(version: "0.3.0", deviceEdits: "mounts: [{hostPath: /a, containerPath: /b, type: bind}]"), error: "needs at least 0.4.0"),
    .init(label: "mount type in 0.4.0", document: yaml(version: "0.4.0", deviceEdits: "mounts: [{hostPath: /a, containerPath: /b, type: bind}]")),
    // 0.5.0: hostPath, names starting with a digit
    .init(label: "hostPath needs 0.5.0", document: yaml(version: "0.4.0", deviceEdits: "deviceNodes: [{path: /dev/x, hostPath: /dev/null}]"), error: "needs at least 0.5.0"),
    .init(label: "hostPath in 0.5.0", document: yaml(version: "0.5.0", deviceEdits: "deviceNodes: [{path: /dev/x, hostPath: /dev/null}]")),
    .init(label: "digit name needs 0.5.0", document: yaml(version: "0.4.0", deviceName: "0"), error: "needs at least 0.5.0"),
    .init(label: "digit name in 0.5.0", document: yaml(version: "0.5.0", deviceName: "0")),
    // 0.6.0: annotations, dots in class
    .init(label: "spec annotations need 0.6.0", document: yaml(version: "0.5.0", specExtra: "annotations: {a.io/b: c}"), error: "needs at least 0.6.0"),
    .init(label: "spec annotations in 0.6.0", document: yaml(version: "0.6.0", specExtra: "annotations: {a.io/b: c}")),
    .init(label: "device annotations need 0.6.0", document: yaml(version: "0.5.0", deviceExtra: "annotations: {k: v}"), error: "needs at least 0.6.0"),
    .init(label: "dot in class needs 0.6.0", document: yaml(version: "0.5.0", kind: "vendor.com/dev.ice"), error: "needs at least 0.6.0"),
    .init(label: "dot in class in 0.6.0", document: yaml(version: "0.6.0", kind: "vendor.com/dev.ice")),
    // 0.7.0: intelRdt, additionalGids
    .init(label: "additionalGids need 0.7.0", document: yaml(version: "0.6.0", deviceEdits: "additionalGids: [5]"), error: "needs at least 0.7.0"),
    .init(label: "additionalGids in 0.7.0", document: yaml(version: "0.7.0", deviceEdits: "additionalGids: [5]")),
    .init(label: "intelRdt needs 0.7.0", document: yaml(version: "0.6.0", deviceEdits: "intelRdt: {closID: c1}"), error: "needs at least 0.7.0"),
    .init(label: "intelRdt enableCMT in 1.0.0", document: yaml(version: "1.0.0", deviceEdits: "intelRdt: {closID: c1, enableCMT: true}")),
    .init(label: "intelRdt enableCMT gone in 1.1.0", document: yaml(version: "1.1.0", deviceEdits: "intelRdt: {closID: c1, enableCMT: true}"), error: "intelRdt.enableCMT: not valid"),
    .init(label: "intelRdt enableMBM gone in 1.1.0", document: yaml(version: "1.1.0", deviceEdits: "intelRdt: {enableMBM: false}"), error: "intelRdt.enableMBM: not valid"),
    // 1.1.0: netDevices, schemata, enableMonitoring
    .init(label: "netDevices need 1.1.0", document: yaml(version: "1.0.0", deviceEdits: "netDevices: [{hostInterfaceName: eth1, name: net0}]"), error: "needs at least 1.1.0"),
    .init(label: "netDevices in 1.1.0", document: yaml(version: "1.1.0", deviceEdits: "netDevices: [{hostInterfaceName: eth1, name: net0}]")),
    .init(label: "schemata need 1.1.0", document: yaml(version: "1.0.0", deviceEdits: "intelRdt: {schemata: [\"L3:0=ff\"]}"), error: "needs at least 1.1.0"),
    .init(label: "enableMonitoring needs 1.1.0", document: yaml(version: "0.8.0", deviceEdits: "intelRdt: {enableMonitoring: true}"), error: "needs at least 1.1.0"),
    .init(label: "bad net device name", document: yaml(version: "1.1.0", deviceEdits: "netDevices: [{hostInterfaceName: eth1, name: \"a/b\"}]"), error: "netDevices[0].name: invalid network interface name"),
    .init(label: "net device name too long", document: yaml(version: "1.1.0", deviceEdits: "netDevices: [{hostInterfaceName: eth1, name: abcdefghijklmnop}]"), error: "invalid network interface name"),
    // Kind and names.
    .init(label: "kind without class", document: yaml(version: "0.3.0", kind: "vendor.com"), error: "is not vendor/class"),
    .init(label: "vendor starting with digit", document: yaml(version: "0.3.0", kind: "1vendor.com/gpu"), error: "must start with a letter"),
    .init(label: "class with bad char", document: yaml(version: "0.3.0", kind: "vendor.com/g+u"), error: "character '+' is not allowed"),
    .init(label: "device name with slash", document: yaml(version: "0.5.0", deviceName: "a/b"), error: "devices[0].name"),
    .init(label: "device name ending in dash", document: yaml(version: "0.5.0", deviceName: "gpu-"), error: "must end with a letter or digit"),
    .init(label: "device name with colon", document: yaml(version: "0.5.0", deviceName: "0:1")),
    .init(label: "duplicate device", document: """
        cdiVersion: 0.3.0
        kind: v.com/c
        devices:
        - {name: a, containerEdits: {env: [A=1]}}
        - {name: a, containerEdits: {env: [A=2]}}
        """, error: "devices[1].name: device \"a\" is already defined by devices[0]"),
    .init(label: "device without edits", document: "cdiVersion: 0.3.0\nkind: v.com/c\ndevices:\n- name: a\n", error: "devices[0].containerEdits: device \"a\" has no edits"),
    .init(label: "bad annotation key", document: yaml(version: "0.6.0", specExtra: "annotations: {\"-bad\": x}"), error: "annotation key \"-bad\""),
    // Env.
    .init(label: "env without =", document: yaml(version: "0.3.0", deviceEdits: "env: [FOO]"), error: "containerEdits.env[0]: invalid environment variable \"FOO\""),
    .init(label: "env with empty key", document: yaml(version: "0.3.0", deviceEdits: "env: [\"=x\"]"), error: "invalid environment variable"),
    .init(label: "env with empty value", document: yaml(version: "0.3.0", deviceEdits: "env: [\"A=\"]")),
    // Device nodes.
    .init(label: "node without path", document: yaml(version: "0.3.0", deviceEdits: "deviceNodes: [{path: \"\"}]"), error: "deviceNodes[0].path: invalid (empty) device path"),
    .init(label: "node bad type", document: yaml(version: "0.3.0", deviceEdits: "deviceNodes: [{path: /dev/x, type: x}]"), error: "deviceNodes[0].type: device \"/dev/x\": invalid type \"x\""),
    .init(label: "node types b c u p", document: yaml(version: "0.3.0", deviceEdits: "deviceNodes: [{path: /dev/a, type: b}, {path: /dev/b, type: c}, {path: /dev/c, type: u}, {path: /dev/d, type: p}]")),
    .init(label: "node bad permissions", document: yaml(version: "0.3.0", deviceEdits: "deviceNodes: [{path: /dev/x, permissions: rwx}]"), error: "invalid permissions \"rwx\""),
    .init(label: "node mode too big", document: yaml(version: "0.3.0", deviceEdits: "deviceNodes: [{path: /dev/x, fileMode: 70000}]"), error: "fileMode"),
    // Hooks.
    .init(label: "bad hook name", document: yaml(version: "0.3.0", deviceEdits: "hooks: [{hookName: prestop, path: /bin/true}]"), error: "hooks[0].hookName: invalid hook name \"prestop\""),
    .init(label: "hook without path", document: yaml(version: "0.3.0", deviceEdits: "hooks: [{hookName: poststop, path: \"\"}]"), error: "hooks[0].path"),
    .init(label: "hook bad env", document: yaml(version: "0.3.0", deviceEdits: "hooks: [{hookName: createContainer, path: /bin/true, env: [X]}]"), error: "hooks[0].env[0]"),
    .init(label: "hook zero timeout", document: yaml(version: "0.3.0", deviceEdits: "hooks: [{hookName: createRuntime, path: /bin/true, timeout: 0}]"), error: "hooks[0].timeout"),
    .init(label: "all hook names", document: yaml(version: "0.3.0", deviceEdits: "hooks: [{hookName: prestart, path: /a}, {hookName: createRuntime, path: /a}, {hookName: createContainer, path: /a}, {hookName: startContainer, path: /a}, {hookName: poststart, path: /a}, {hookName: poststop, path: /a}]")),
    // Mounts.
    .init(label: "mount without host path", document: yaml(version: "0.3.0", deviceEdits: "mounts: [{hostPath: \"\", containerPath: /b}]"), error: "mounts[0].hostPath: invalid mount, empty host path"),
    .init(label: "mount without container path", document: yaml(version: "0.3.0", deviceEdits: "mounts: [{hostPath: /a, containerPath: \"\"}]"), error: "mounts[0].containerPath"),
    // Decoding: the field is named.
    .init(label: "missing kind", document: "cdiVersion: 0.3.0\ndevices: []\n", error: "kind: required field is missing"),
    .init(label: "missing mount containerPath", document: yaml(version: "0.3.0", deviceEdits: "mounts: [{hostPath: /a}]"), error: "devices[0].containerEdits.mounts[0].containerPath: required field is missing"),
    .init(label: "major as string", document: yaml(version: "0.3.0", deviceEdits: "deviceNodes: [{path: /dev/x, major: abc}]"), error: "devices[0].containerEdits.deviceNodes[0].major"),
    .init(label: "spec-level edits validated", document: yaml(version: "0.3.0", specExtra: "containerEdits: {env: [NOEQUALS]}"), error: "containerEdits.env[0]"),
]

@Test(arguments: validationCases)
func specValidation(_ c: ValidationCase) throws {
    let source = "/etc/cdi/test.yaml"
    do {
        _ = try CDISpec(decoding: Data(c.document.utf8), format: .yaml, source: source)
        if let expected = c.error { Issue.record("accepted, expected an error containing \(expected)") }
    } catch let error as GPUError {
        guard let expected = c.error else {
            Issue.record("rejected a valid spec: \(error)")
            return
        }
        #expect(error.message.contains(expected), "\(error.message)")
        #expect(error.message.hasPrefix(source + ": "), "the message names the file: \(error.message)")
    }
}

@Test func jsonAndYAMLDecodeTheSame() throws {
    let json = """
        {"cdiVersion":"0.5.0","kind":"nvidia.com/gpu","devices":[{"name":"0","containerEdits":{"deviceNodes":[{"path":"/dev/nvidia0","type":"c","major":195,"minor":0,"fileMode":438}]}}],"containerEdits":{"env":["A=1"],"mounts":[{"hostPath":"/a","containerPath":"/a","options":["ro","bind"]}],"hooks":[{"hookName":"createContainer","path":"/bin/true","args":["true"],"timeout":5}]}}
        """
    let yamlText = """
        cdiVersion: 0.5.0
        kind: nvidia.com/gpu
        devices:
          - name: "0"
            containerEdits:
              deviceNodes:
                - {path: /dev/nvidia0, type: c, major: 195, minor: 0, fileMode: 438}
        containerEdits:
          env: [A=1]
          mounts: [{hostPath: /a, containerPath: /a, options: [ro, bind]}]
          hooks: [{hookName: createContainer, path: /bin/true, args: ["true"], timeout: 5}]
        """
    let a = try CDISpec(decoding: Data(json.utf8), format: .json, source: "a.json")
    let b = try CDISpec(decoding: Data(yamlText.utf8), format: .yaml, source: "b.yaml")
    #expect(a == b)
    // Round trips through both encodings.
    for format in CDISpecFormat.allCases {
        let again = try CDISpec(decoding: try a.encoded(as: format), format: format, source: "x")
        #expect(again == a)
    }
}

@Test func minimumVersionIsComputed() throws {
    var spec = CDISpec(cdiVersion: "1.1.0", kind: "v.com/c", devices: [CDIDevice(name: "a", containerEdits: .init(env: ["A=1"]))])
    #expect(spec.minimumVersion == .v0_3_0)
    spec.devices[0].name = "0"
    #expect(spec.minimumVersion == .v0_5_0)
    spec.containerEdits = CDIContainerEdits(additionalGids: [44])
    #expect(spec.minimumVersion == .v0_7_0)
}

@Test(arguments: [
    ("nvidia.com/gpu=0", true), ("nvidia.com/gpu=all", true), ("vendor.com/class=GPU-1234-abcd", true),
    ("nvidia.com/gpu", false), ("nvidia.com=0", false), ("/dev/fuse", false), ("nvidia.com/gpu=", false),
    ("nvidia.com/gpu=a/b", false), ("-x.com/gpu=0", false), ("nvidia.com/gpu=0:1", true),
])
func qualifiedNames(_ text: String, _ valid: Bool) {
    let parsed = try? CDIQualifiedName(parsing: text)
    #expect((parsed != nil) == valid, "\(text)")
    if let parsed { #expect(parsed.description == text) }
}
