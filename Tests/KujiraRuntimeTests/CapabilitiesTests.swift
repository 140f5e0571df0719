import Foundation
import KujiraOCI
import Testing
@testable import KujiraRuntime

/// Capability names, masks and the per-process sets the init applies.
struct CapabilitiesTests {
    @Test(arguments: [
        ("CAP_CHOWN", 0), ("CAP_DAC_OVERRIDE", 1), ("CAP_DAC_READ_SEARCH", 2), ("CAP_FOWNER", 3), ("CAP_KILL", 5),
        ("CAP_SETPCAP", 8), ("CAP_NET_BIND_SERVICE", 10), ("CAP_NET_ADMIN", 12), ("CAP_NET_RAW", 13),
        ("CAP_SYS_CHROOT", 18), ("CAP_SYS_PTRACE", 19), ("CAP_SYS_ADMIN", 21), ("CAP_SYS_RESOURCE", 24),
        ("CAP_MKNOD", 27), ("CAP_AUDIT_WRITE", 29), ("CAP_SETFCAP", 31), ("CAP_MAC_ADMIN", 33), ("CAP_SYSLOG", 34),
        ("CAP_BPF", 39), ("CAP_CHECKPOINT_RESTORE", 40),
    ])
    func namesAndNumbers(name: String, number: Int) {
        #expect(Capability.number(named: name) == number)
        #expect(Capability.name(of: number) == name)
    }

    @Test(arguments: ["CAP_CHOWN", "cap_chown", "chown", "Chown", "CHOWN"])
    func spellings(name: String) {
        #expect(Capability.number(named: name) == 0)
        #expect(Capability.canonicalName(name) == "CAP_CHOWN")
    }

    @Test func numbersAreNotNames() {
        #expect(Capability.number(named: "12") == nil)
        #expect(Capability.number(named: "CAP_12") == nil)
        #expect(Capability.number(named: "") == nil)
    }

    @Test func dockerDefaultMask() throws {
        #expect(DefaultCapabilities.docker.rawValue == 0x0000_0000_a804_25fb)
        #expect(try CapabilitySet(names: DefaultCapabilities.dockerNames) == DefaultCapabilities.docker)
        #expect(DefaultCapabilities.docker.numbers.count == 14)
        #expect(Set(DefaultCapabilities.docker.names) == Set(DefaultCapabilities.dockerNames))
        #expect(DefaultCapabilities.docker.description.hasSuffix("(0x00000000a80425fb)"))
    }

    @Test func unknownNamesAreNamed() {
        do {
            _ = try CapabilitySet(names: ["CAP_CHOWN", "CAP_BOGUS", "CAP_MAGIC"])
            Issue.record("unknown names must throw")
        } catch {
            #expect(error.code == .unknownCapability)
            #expect(error.message.contains("CAP_BOGUS, CAP_MAGIC"))
        }
        let (set, unknown) = CapabilitySet.parse(["CAP_CHOWN", "CAP_BOGUS", "kill"])
        #expect(set.numbers == [0, 5])
        #expect(unknown == ["CAP_BOGUS"])
    }

    @Test func setAlgebra() {
        let a = CapabilitySet(numbers: [0, 1, 40])
        let b = CapabilitySet(numbers: [1, 2, 99])
        #expect(a.intersection(b).numbers == [1])
        #expect(a.union(b).numbers == [0, 1, 2, 40])
        #expect(a.subtracting(b).numbers == [0, 40])
        #expect(CapabilitySet.empty.isEmpty)
        #expect(!a.contains(64))
    }

    @Test func resolveLikeRunc() {
        var host = CapabilitySet(numbers: 0...40)
        host.rawValue &= ~(1 << 24)  // like this CI machine: no CAP_SYS_RESOURCE
        let caps = LinuxCapabilities(
            bounding: DefaultCapabilities.dockerNames + ["CAP_SYS_RESOURCE", "CAP_WIZARDRY"],
            effective: DefaultCapabilities.dockerNames + ["CAP_SYS_RESOURCE"],
            inheritable: ["CAP_NET_BIND_SERVICE"],
            permitted: DefaultCapabilities.dockerNames + ["CAP_CHECKPOINT_RESTORE"],
            ambient: ["CAP_NET_BIND_SERVICE", "CAP_KILL"]
        )
        let resolved = ProcessCapabilityMasks.resolve(caps, hostBounding: host, lastSupported: 38)
        #expect(resolved.masks.bounding == DefaultCapabilities.docker.rawValue)
        #expect(resolved.masks.effective == DefaultCapabilities.docker.rawValue)
        #expect(resolved.masks.permitted == DefaultCapabilities.docker.rawValue, "CAP_CHECKPOINT_RESTORE is past cap 38")
        #expect(resolved.masks.inheritable == 1 << 10)
        #expect(resolved.masks.ambient == 1 << 10, "CAP_KILL is not inheritable, so it cannot be ambient")
        let warnings = resolved.warnings.joined(separator: "\n")
        #expect(warnings.contains("CAP_WIZARDRY"))
        #expect(warnings.contains("CAP_SYS_RESOURCE"))
        #expect(warnings.contains("CAP_CHECKPOINT_RESTORE"))
        #expect(warnings.contains("CAP_KILL"))
        #expect(resolved.warnings.count == 4, "\(resolved.warnings)")
    }

    @Test func missingListsAreEmpty() {
        let resolved = ProcessCapabilityMasks.resolve(
            LinuxCapabilities(bounding: ["CAP_KILL"]), hostBounding: CapabilitySet(numbers: 0...40), lastSupported: 40
        )
        #expect(resolved.masks == ProcessCapabilityMasks(bounding: 1 << 5, effective: 0, permitted: 0, inheritable: 0, ambient: 0))
        #expect(resolved.warnings.isEmpty)
        #expect(ProcessCapabilityMasks(uniform: DefaultCapabilities.docker).ambient == 0)
    }

    @Test func hostSetsMatchProc() throws {
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("CapBnd:") })
        let expected = try #require(UInt64(line.split(separator: "\t").last ?? "", radix: 16))
        #expect(try Capability.hostBoundingSet().rawValue == expected)

        let lastText = try String(contentsOfFile: "/proc/sys/kernel/cap_last_cap", encoding: .utf8)
        let last = try #require(Int(lastText.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(try Capability.lastSupported() == last)
        #expect(try Capability.allSupported().numbers == Array(0...last))
        let resolved = try ProcessCapabilityMasks.resolveForHost(LinuxCapabilities(bounding: DefaultCapabilities.dockerNames))
        #expect(resolved.masks.bounding == DefaultCapabilities.docker.intersection(CapabilitySet(rawValue: expected)).rawValue)
    }
}
