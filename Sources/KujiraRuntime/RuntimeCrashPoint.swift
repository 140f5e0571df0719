// Crash points for the recovery tests: with `KUJIRA_RUNTIME_CRASHPOINT=NAME` in the
// environment, the runtime kills itself with SIGKILL when it reaches the point named NAME,
// exactly as a `kill -9` at that moment would. Unset (always, outside tests) it costs one
// getenv per point.

import Glibc

/// The runtime's crash points (see the file comment).
enum RuntimeCrashPoint {
    /// Kills this process with SIGKILL when `KUJIRA_RUNTIME_CRASHPOINT` is `name`:
    /// `create-before-save` (the init reported "created" and waits for `start`; the cgroup
    /// exists; no state.json yet).
    static func hit(_ name: String) {
        guard let armed = getenv("KUJIRA_RUNTIME_CRASHPOINT"), String(cString: armed) == name else { return }
        kill(getpid(), SIGKILL)
    }
}
