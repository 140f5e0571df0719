// `exec`: run another process in a running container and wait for it.
//
//     let code = try engine.exec("web", command: ["ls", "/"])
//
// The process gets the caller's stdin, stdout and stderr, the container's environment,
// user, capabilities and seccomp filter; the caller becomes a child subreaper to wait for it.

import KujiraImage
import KujiraOCI
import KujiraRuntime
import Foundation

/// Options of ``Engine/exec(_:command:options:)``.
public struct ExecProcessOptions: Sendable, Hashable {
    /// `-e NAME=VALUE`, added to the container's environment.
    public var env: [String] = []
    /// `-w`; nil keeps the container's.
    public var workingDir: String?
    /// `-u`; nil keeps the container's user.
    public var user: String?
    /// `-d`: do not wait; ``Engine/exec(_:command:options:)`` returns 0.
    public var detach = false
    /// Creates default options.
    public init() {}
}

extension Engine {
    /// Runs `command` in running container `nameOrID` and returns its exit code (128 + n if
    /// signal n killed it).
    public func exec(_ nameOrID: String, command: [String], options: ExecProcessOptions = ExecProcessOptions()) throws -> Int32 {
        let record = try container(nameOrID)
        guard record.state.status == .running else {
            throw EngineError(.invalidState, "container \(record.name) is not running")
        }
        guard !command.isEmpty else { throw EngineError(.invalidArgument, "exec needs a command") }
        guard let data = FileManager.default.contents(atPath: "\(directory(record.id))/config.json"),
              let spec = try? JSONDecoder().decode(Spec.self, from: data), var process = spec.process else {
            throw EngineError(.io, "the bundle of container \(record.name) is unreadable")
        }
        process.args = command
        process.terminal = false
        var env = process.env ?? []
        for entry in options.env where entry.contains("=") { ContainerSpecBuilder.setEnv(&env, entry) }
        process.env = env
        if let dir = options.workingDir { process.cwd = dir }
        if let user = options.user {
            let resolved = try BundleSpec.resolveUser(user, rootfs: record.rootfsPath)
            process.user = User(uid: resolved.uid, gid: resolved.gid,
                                additionalGids: resolved.additionalGids.isEmpty ? nil : resolved.additionalGids)
        }
        let runtime = self.runtime
        func start() throws -> Int32 {
            do {
                return try runtime.exec(id: record.id, process: process)
            } catch {
                throw EngineError(.startFailed, "exec in container \(record.name) failed", cause: error)
            }
        }
        if options.detach {
            _ = try start()
            return 0
        }
        // A subreaper only while waiting: the exec'd process is reparented here to be waited for.
        return try ContainerRuntime.withSubreaper { try ContainerRuntime.waitForExit(pid: try start()) }
    }
}
