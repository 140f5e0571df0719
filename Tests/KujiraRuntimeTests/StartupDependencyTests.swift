import Foundation
import Testing

/// What kujira-runtime loads at every start (Docs/performance.md, "Runtime"): neither
/// OpenSSL's libcrypto (KujiraOCI opens it with dlopen on the first digest) nor the whole of
/// Foundation (CoreFoundation, ICU); FoundationEssentials is enough for the runtime. `ldd`
/// lists the shared libraries of the build's (dynamically linked) kujira-runtime.
@Suite("kujira-runtime's start-up dependencies")
struct StartupDependencyTests {
    @Test func neitherLibcryptoNorFoundationIsLoaded() throws {
        let result = try runCommand("/usr/bin/ldd", [buildDirectory + "/kujira-runtime"])
        #expect(result.status == 0, "\(result.stderr)")
        let libraries = result.stdout.split(separator: "\n").compactMap { line in
            line.split(separator: " ").first.map { String($0.trimmingCharacters(in: .whitespaces)) }
        }
        // The listing is real: libc and the libraries KujiraRuntime links are in it.
        #expect(libraries.contains { $0.hasPrefix("libc.so") })
        #expect(libraries.contains { $0.hasPrefix("libseccomp.so") })
        let unwanted = libraries.filter { name in
            ["libcrypto.so", "libssl.so", "libFoundation.so", "libFoundationInternationalization.so",
             "lib_FoundationICU.so", "libCoreFoundation.so"].contains { name.hasPrefix($0) }
        }
        #expect(unwanted.isEmpty, "kujira-runtime loads \(unwanted) at start-up")
    }
}
