// RUN: the command runs in a container (KujiraRuntime) whose rootfs is an overlay of the
// stage's layers with a fresh upper directory; the upper directory's diff is the new layer.
//
// The container gets BuildKit's sandbox: a new network namespace with only loopback (BuildKit
// uses the host network by default; Kujira has no network for builds yet), hostname
// `buildkitsandbox`, no terminal, stdin from /dev/null, stdout and stderr to a log file that
// becomes the step's output. VOLUMEs are not mounted during the build (as in Docker).

import KujiraOCI
import KujiraImage
import KujiraDockerfile
import KujiraRuntime
import Foundation
import Synchronization
import Glibc

/// kujira-init inherits fds 0-2 of the process calling `ContainerRuntime.create`; the builder
/// points them at the step's log file for the duration of that call. One build step at a time
/// per process does this.
let standardStreamsLock = Mutex(())

extension BuildRun {
    /// Runs `argv` in a container on `image`, returns the layer of its changes.
    func runStep(_ argv: [String], image: StageImage, directory: String, setup: RunSetup,
                 extraEnvironment: [String: String], context: StepContext) throws -> (Descriptor, Digest) {
        let id = "\(buildID)-\(context.number)"
        let rootfs = try WorkingRootfs(image: image, id: id, target: "\(directory)/rootfs", snapshots: snapshots)
        defer { try? rootfs.remove() }
        var config = image.config
        let workdir = (config.workingDir ?? "").isEmpty ? "/" : (config.workingDir ?? "/")
        try ensureDirectory(workdir, in: rootfs.target, owner: nil)
        var env = config.env ?? []
        for (key, value) in extraEnvironment.sorted(by: { $0.key < $1.key })
        where !env.contains(where: { $0.hasPrefix(key + "=") }) {
            env.append("\(key)=\(value)")
        }
        config.env = env
        config.entrypoint = nil
        config.cmd = argv
        config.volumes = nil
        var configuration = image.configuration
        configuration.config = config
        var spec: Spec
        do {
            spec = try BundleSpec.make(from: configuration, rootfs: rootfs.target)
        } catch {
            throw context.error(.unknownUser, "cannot resolve USER \(config.user ?? ""): \(error)", cause: error)
        }
        spec.root = Root(path: rootfs.target)
        spec.hostname = "buildkitsandbox"
        spec.process?.terminal = false
        spec.linux?.cgroupsPath = "/kujira-build/\(id)"
        // The host's resolver files only where the image has an /etc (a scratch image that
        // makes its own /etc must be able to).
        let hasEtc = RootPath.stat("/etc", in: rootfs.target) != nil
        let mounts = setup.mounts.filter { hasEtc || !["/etc/resolv.conf", "/etc/hosts"].contains($0.destination) }
        let targets = setup.targets.filter { hasEtc || !["/etc/resolv.conf", "/etc/hosts"].contains($0) }
        spec.mounts = (spec.mounts ?? []) + mounts
        let environment = (spec.process?.env ?? []) + setup.environment
        spec.process?.env = environment
        if setup.hostNetwork {
            spec.linux?.namespaces?.removeAll { $0.type == .network }
        }
        let bundle = "\(directory)/bundle"
        guard mkdir(bundle, 0o700) == 0 else { throw BuildError(.io, "cannot create \(bundle): \(String(cString: strerror(errno)))") }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try encoder.encode(spec).write(to: URL(fileURLWithPath: "\(bundle)/config.json"))

        let created = Self.missingPaths(targets, rootfs: rootfs.target)
        let logPath = "\(directory)/output.log"
        let status = try runContainer(id: id, bundle: bundle, logPath: logPath, context: context)
        let output = (FileManager.default.contents(atPath: logPath)).map { String(decoding: $0, as: UTF8.self) } ?? ""
        let lines = output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        for line in (lines.last == "" ? Array(lines.dropLast()) : lines) {
            options.progress(.output(number: context.number, line: line))
        }
        if status != 0 {
            let tail = lines.filter { !$0.isEmpty }.suffix(5).joined(separator: "\n")
            throw context.error(.runFailed, "\(context.text) exited with status \(status)" + (tail.isEmpty ? "" : ":\n\(tail)"))
        }
        removeCreatedTargets(created, rootfs: rootfs.target)
        return try commitLayer { tar in try rootfs.diff(to: tar, clampMtime: options.sourceDateEpoch) }
    }

    /// Creates, starts and waits for container `id`; always deletes it. Returns its exit status.
    private func runContainer(id: String, bundle: String, logPath: String, context: StepContext) throws -> Int32 {
        let logFD = open(logPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard logFD >= 0 else { throw BuildError(.io, "cannot create \(logPath): \(String(cString: strerror(errno)))") }
        defer { close(logFD) }
        let nullFD = open("/dev/null", O_RDONLY | O_CLOEXEC)
        guard nullFD >= 0 else { throw BuildError(.io, "cannot open /dev/null: \(String(cString: strerror(errno)))") }
        defer { close(nullFD) }
        // A subreaper only while this container runs: its init is reparented here to be waited
        // for, but an embedding daemon must not collect every orphan for good.
        return try ContainerRuntime.withSubreaper {
            try runContainerAsSubreaper(id: id, bundle: bundle, logFD: logFD, nullFD: nullFD, context: context)
        }
    }

    private func runContainerAsSubreaper(id: String, bundle: String, logFD: Int32, nullFD: Int32, context: StepContext) throws -> Int32 {
        defer { try? runtime.delete(id: id, force: true) }
        let state: RuncState
        do {
            state = try standardStreamsLock.withLock { _ in
                let saved = (0...2).map { fcntl($0, F_DUPFD_CLOEXEC, 10) }
                defer {
                    for (fd, copy) in saved.enumerated() where copy >= 0 {
                        dup2(copy, Int32(fd))
                        close(copy)
                    }
                }
                dup2(nullFD, 0)
                dup2(logFD, 1)
                dup2(logFD, 2)
                return try runtime.create(id: id, bundle: bundle)
            }
            options.progress(.running(number: context.number))
            try runtime.start(id: id)
        } catch let error as BuildError {
            throw error
        } catch {
            throw context.error(.io, "cannot start the container for \(context.text): \(error)", cause: error)
        }
        return try ContainerRuntime.waitForExit(pid: Int32(state.pid))
    }

    /// Creates `path` (and missing parents, mode 0755) in the rootfs when it does not exist.
    func ensureDirectory(_ path: String, in root: String, owner: (uid: UInt32, gid: UInt32)?) throws {
        var current = ""
        var missing: [String] = []
        for part in RootPath.components(path) {
            current += "/" + part
            if RootPath.stat(current, in: root) == nil { missing.append(current) }
        }
        guard !missing.isEmpty else { return }
        let writer = try RootfsWriter(root: root)
        for dir in missing {
            let mtime = options.sourceDateEpoch ?? Int64(Date().timeIntervalSince1970)
            try writer.apply(LayerEntry(path: dir, kind: .directory, mode: 0o755, uid: owner?.uid ?? 0, gid: owner?.gid ?? 0,
                                        mtime: .init(seconds: mtime)))
        }
        try writer.finish()
    }
}
