internal import CKujiraRuntime
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc
import KujiraOCI

/// Runs lifecycle hooks (config.md, "POSIX-platform Hooks"): each hook is executed with its
/// `args` and `env`, gets the container state JSON on stdin, and is killed after `timeout`
/// seconds. Output goes to an anonymous file and is quoted in the error when a hook fails.
enum HookRunner {
    /// Runs `hooks` in order; the first failure stops the list and throws.
    static func run(_ hooks: [Hook]?, stage: String, state: State) throws {
        guard let hooks, !hooks.isEmpty else { return }
        let input = try encode(state)
        for (index, hook) in hooks.enumerated() {
            try runOne(hook, input: input, what: "\(stage) hook #\(index) (\(hook.path))")
        }
    }

    /// The state JSON a hook reads on stdin.
    static func encode(_ state: State) throws -> [UInt8] {
        try CompactJSON.encode(state)
    }

    /// Runs `hooks`, turning failures into warnings (poststart, poststop).
    static func runWarning(_ hooks: [Hook]?, stage: String, state: State, warning: (String) -> Void) {
        do { try run(hooks, stage: stage, state: state) } catch { warning("\(error)") }
    }

    private static func runOne(_ hook: Hook, input: [UInt8], what: String) throws {
        guard hook.path.hasPrefix("/") else { throw RuntimeError(.invalidConfig, "\(what): path must be absolute") }
        if let timeout = hook.timeout, timeout <= 0 {
            throw RuntimeError(.invalidConfig, "\(what): timeout must be greater than zero")
        }
        // A socket pair rather than a pipe: a hook may exit without reading its stdin, and
        // send(MSG_NOSIGNAL) then fails with EPIPE instead of raising SIGPIPE, which would kill
        // the embedding program (Swift does not ignore SIGPIPE).
        var pipeFDs: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pipeFDs) == 0 else {
            throw RuntimeError.posix("socketpair for \(what)")
        }
        let output = kujira_memfd("kujira-hook")
        guard output >= 0 else { close(pipeFDs[0]); close(pipeFDs[1]); throw RuntimeError.posix("memfd for \(what)") }
        defer { close(output) }
        let args = (hook.args?.isEmpty == false ? hook.args ?? [] : [hook.path])
        var cArgs = args.map { strdup($0) } + [nil], cEnv = (hook.env ?? []).map { strdup($0) } + [nil]
        defer { (cArgs + cEnv).forEach { free($0) } }
        var pid: pid_t = 0
        let from = [pipeFDs[0], output, output], to: [Int32] = [0, 1, 2]
        let rc = kujira_spawn(hook.path, &cArgs, &cEnv, from, to, 3, 3, 1, &pid)
        close(pipeFDs[0])
        if rc != 0 {
            close(pipeFDs[1])
            throw RuntimeError(.hookFailed, "\(what) could not start", cause: ErrnoText(errno: rc))
        }
        // The hook may exit without reading stdin: EPIPE is not an error.
        input.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let sent = send(pipeFDs[1], bytes.baseAddress.map { $0 + offset }, bytes.count - offset, Int32(MSG_NOSIGNAL))
                if sent < 0 && errno == EINTR { continue }
                if sent <= 0 { break }
                offset += sent
            }
        }
        close(pipeFDs[1])
        let deadline = hook.timeout.map { Date().addingTimeInterval(TimeInterval($0)) }
        var status: Int32 = 0
        while true {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid { break }
            if r < 0 && errno != EINTR { throw RuntimeError.posix("waiting for \(what)") }
            if let deadline, Date() > deadline {
                kill(-pid, SIGKILL)  // the hook's whole process group: a shell may have forked
                _ = kujira_wait_exit(pid)
                throw RuntimeError(.hookFailed, "\(what) timed out after \(hook.timeout ?? 0) s")
            }
            usleep(2000)
        }
        let exited = (status & 0x7f) == 0
        let code = (status >> 8) & 0xff
        if !exited || code != 0 {
            lseek(output, 0, SEEK_SET)
            let text = (try? FileIO.read("/proc/self/fd/\(output)")).map { String(decoding: $0.prefix(4096), as: UTF8.self) } ?? ""
            let how = exited ? "exited with status \(code)" : "was killed by signal \(status & 0x7f)"
            throw RuntimeError(.hookFailed, "\(what) \(how)" + (text.isEmpty ? "" : ", output: \(trimmingWhitespace(text))"))
        }
    }
}
