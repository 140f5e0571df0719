import Foundation
import Glibc
import KujiraOCI
@testable import KujiraRuntime
import Testing

/// The compiled-filter cache gives the program libseccomp gives, and a damaged or foreign
/// entry is a miss, never a wrong filter.
@Suite("Seccomp filter cache", .serialized, .enabled(if: Privilege.shouldRun, Privilege.reason))
struct SeccompCacheTests {
    @Test func cachedProgramsEqualCompiledOnesAndBadEntriesAreMisses() throws {
        try Privilege.check()
        // A profile no other test uses (a unique errno), so the entry is this test's.
        var profile = DefaultSeccompProfile.profile(capabilities: ["CAP_CHOWN"])
        profile.defaultErrnoRet = UInt32.random(in: 200...4000)
        let direct = try SeccompCompiler.compile(profile, noNewPrivileges: true)
        var compilations = 0
        let compile = { (section: LinuxSeccomp, nnp: Bool) throws -> SeccompProgram in
            compilations += 1
            return try SeccompCompiler.compile(section, noNewPrivileges: nnp)
        }
        let first = try SeccompCache.compile(profile, noNewPrivileges: true, compiler: compile)
        let second = try SeccompCache.compile(profile, noNewPrivileges: true, compiler: compile)
        #expect(first == direct && second == direct)
        #expect(compilations == 1)
        // Another noNewPrivileges is another entry.
        _ = try SeccompCache.compile(profile, noNewPrivileges: false, compiler: compile)
        #expect(compilations == 2)
        // Damage every entry file of this profile: the next lookup compiles again, correctly.
        let entries = try FileManager.default.contentsOfDirectory(atPath: SeccompCache.directory).filter { !$0.contains(".tmp") }
        #expect(!entries.isEmpty)
        var damaged = 0
        for name in entries {
            let path = SeccompCache.directory + "/" + name
            guard let bytes = FileManager.default.contents(atPath: path),
                  String(decoding: bytes, as: UTF8.self).contains("\"defaultErrnoRet\":\(profile.defaultErrnoRet ?? 0)") else { continue }
            try bytes.dropLast(3).write(to: URL(fileURLWithPath: path))
            damaged += 1
        }
        #expect(damaged == 2)
        let third = try SeccompCache.compile(profile, noNewPrivileges: true, compiler: compile)
        #expect(third == direct)
        #expect(compilations == 3)
        // Leave no entry of this test's throw-away profile behind.
        for name in try FileManager.default.contentsOfDirectory(atPath: SeccompCache.directory) {
            let path = SeccompCache.directory + "/" + name
            if let bytes = FileManager.default.contents(atPath: path),
               String(decoding: bytes, as: UTF8.self).contains("\"defaultErrnoRet\":\(profile.defaultErrnoRet ?? 0)") {
                unlink(path)
            }
        }
    }
}
