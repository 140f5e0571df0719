import Foundation
import Testing

/// `kujira cdi` against the CDI consumer that exists on Debian: podman applies the spec
/// `kujira cdi generate nvidia` writes for a fake NVIDIA host (Tests/gpu/podman-cdi.sh).
@Suite("kujira cdi with podman")
struct GPUCLITests {
    /// The repository root, from this file's path.
    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    @Test("podman runs a container with --device nvidia.com/gpu=all from Kujira's spec",
          .enabled(if: Host.has(["podman", "umoci", "skopeo", "runc", "cc"], root: true)))
    func podmanAppliesKujiraSpec() throws {
        let result = try run("/bin/bash", ["\(Self.repository)/Tests/gpu/podman-cdi.sh", Host.kujira])
        #expect(result.succeeded, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("/dev/nvidia0 character special file c3:0"))
    }
}
