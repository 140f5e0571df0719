import KujiraOCI
import Testing
@testable import KujiraRuntime

/// The v1 → v2 value conversions (runc's formulas) and the device rule encodings.
@Suite struct CgroupConversionTests {
    @Test(arguments: [(UInt64(0), UInt64(0)), (2, 1), (1024, 39), (262_144, 10_000), (1, 1), (500_000, 10_000)])
    func sharesToWeight(shares: UInt64, weight: UInt64) {
        #expect(CgroupV2CPU.weight(shares: shares) == weight)
    }

    @Test(arguments: [(UInt16(10), UInt64(1)), (500, 4950), (1000, 10_000), (0, 0)])
    func blkioWeightToIOWeight(blkio: UInt16, weight: UInt64) {
        #expect(CgroupV2IO.weight(blkio: blkio) == weight)
    }

    @Test func cpuMaxLine() {
        #expect(CgroupV2CPU.maxLine(quota: nil, period: nil) == nil)
        #expect(CgroupV2CPU.maxLine(quota: 50_000, period: 100_000) == "50000 100000")
        #expect(CgroupV2CPU.maxLine(quota: -1, period: 100_000) == "max 100000")
        #expect(CgroupV2CPU.maxLine(quota: 20_000, period: nil) == "20000")
    }

    @Test func swapBecomesSwapMinusMemoryOnV2() throws {
        #expect(try CgroupV2Memory.swapMax(swap: 96, limit: 32) == 64)
        #expect(try CgroupV2Memory.swapMax(swap: 32, limit: 32) == 0)
        #expect(try CgroupV2Memory.swapMax(swap: -1, limit: 32) == -1)
        #expect(try CgroupV2Memory.swapMax(swap: nil, limit: -1) == -1)
        #expect(try CgroupV2Memory.swapMax(swap: nil, limit: 32) == nil)
        #expect(throws: CgroupError.self) { try CgroupV2Memory.swapMax(swap: 16, limit: 32) }
        #expect(throws: CgroupError.self) { try CgroupV2Memory.swapMax(swap: 64, limit: nil) }
    }

    @Test func v1DeviceLines() throws {
        #expect(try CgroupV1Devices.line(LinuxDeviceCgroup(allow: false, access: "rwm")) == "a")
        #expect(try CgroupV1Devices.line(LinuxDeviceCgroup(allow: true, type: "c", major: 1, minor: 3, access: "rwm")) == "c 1:3 rwm")
        #expect(try CgroupV1Devices.line(LinuxDeviceCgroup(allow: true, type: "c", major: 136, access: "wr")) == "c 136:* rw")
        #expect(try CgroupV1Devices.line(LinuxDeviceCgroup(allow: true, type: "b", major: -1, minor: -1, access: "m")) == "b *:* m")
        #expect(throws: CgroupError.self) { try CgroupV1Devices.line(LinuxDeviceCgroup(allow: true, type: "x")) }
        #expect(throws: CgroupError.self) { try CgroupV1Devices.line(LinuxDeviceCgroup(allow: true, type: "c", access: "rx")) }
    }

    /// The filter's shape: a 6-instruction prologue, one block per rule (last rule first),
    /// jumps that land just past their block, and no dead code after a match-all rule.
    @Test func deviceProgramLayout() throws {
        let rules = [
            LinuxDeviceCgroup(allow: false, access: "rwm"),
            LinuxDeviceCgroup(allow: true, type: "c", major: 1, minor: 3, access: "rw"),
        ]
        let program = try CgroupV2Devices.program(for: rules)
        // prologue 6 + (type, mov, and, jne, major, minor, mov r0, exit) 8 + deny-all (mov r0, exit) 2;
        // nothing after a rule that matches everything (the verifier refuses dead code).
        #expect(program.count == 16)
        let block = Array(program[6..<14])
        #expect(block[0] == CgroupBPFInstruction(code: 0x56, dst: 2, src: 0, off: 7, imm: 2))
        #expect(block[1] == CgroupBPFInstruction(code: 0xbc, dst: 1, src: 3, off: 0, imm: 0))
        #expect(block[2] == CgroupBPFInstruction(code: 0x54, dst: 1, src: 0, off: 0, imm: 6))
        #expect(block[3] == CgroupBPFInstruction(code: 0x5e, dst: 1, src: 3, off: 4, imm: 0))
        #expect(block[4].imm == 1 && block[4].off == 3)
        #expect(block[5].imm == 3 && block[5].off == 2)
        #expect(block[6] == CgroupBPFInstruction(code: 0xb7, dst: 0, src: 0, off: 0, imm: 1))
        #expect(program[14] == CgroupBPFInstruction(code: 0xb7, dst: 0, src: 0, off: 0, imm: 0))
        #expect(program.last?.code == 0x95)
        // Without a match-all rule the program ends in a default deny.
        let open = try CgroupV2Devices.program(for: [LinuxDeviceCgroup(allow: true, type: "c", major: 1, minor: 3)])
        #expect(open.count == 6 + 5 + 2)
        #expect(open[open.count - 2] == CgroupBPFInstruction(code: 0xb7, dst: 0, src: 0, off: 0, imm: 0))
    }
}
