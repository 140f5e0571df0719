// `--init`: a minimal init as the container's PID 1 that reaps zombies and forwards signals to
// the command (Docker's docker-init, which is tini; podman's catatonit). Kujira does not build
// its own: it bind-mounts a static init binary from the host read-only at /dev/init (on the
// container's /dev tmpfs, so the rootfs is untouched and `--read-only` works) and prepends it
// to the process's arguments: `/dev/init -- CMD…`.

import KujiraOCI
import Foundation

/// The host's static init binary for `--init`.
enum InitProcess {
    /// Where the binary appears in the container.
    static let destination = "/dev/init"
    /// Where a static init is looked for: `$KUJIRA_INIT_BINARY`, then Debian's catatonit and
    /// tini-static, then Docker's docker-init.
    static let candidates = ["/usr/libexec/podman/catatonit", "/usr/bin/catatonit", "/usr/bin/tini-static",
                             "/usr/libexec/docker/docker-init", "/usr/bin/docker-init"]

    /// The init binary to use.
    /// - Throws: ``EngineError`` `.unsupported` when the host has none.
    static func locate(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String {
        if let given = environment["KUJIRA_INIT_BINARY"], !given.isEmpty {
            guard FileManager.default.isExecutableFile(atPath: given) else {
                throw EngineError(.invalidArgument, "KUJIRA_INIT_BINARY=\(given) is not an executable file")
            }
            return given
        }
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw EngineError(.unsupported, "--init needs a static init binary on the host: install Debian's catatonit (or tini, for tini-static), or set KUJIRA_INIT_BINARY")
        }
        return found
    }

    /// Mounts the init at ``destination`` and makes it the process, with the command after `--`.
    static func apply(to spec: inout Spec) throws {
        let binary = try locate()
        var mounts = spec.mounts ?? []
        mounts.removeAll { $0.destination == destination }
        mounts.append(Mount(destination: destination, type: "bind", source: binary, options: ["bind", "ro", "nosuid", "nodev"]))
        spec.mounts = mounts
        let args = spec.process?.args ?? []
        spec.process?.args = [destination, "--"] + args
    }
}
