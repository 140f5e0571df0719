// Crash points for the recovery tests: with `KUJIRA_RUNTIME_CRASHPOINT=NAME` in the
// environment, the runtime kills itself with SIGKILL when it reaches the point named NAME,
// exactly as a `kill -9` at that moment would. Unset (always, outside tests) it costs one
// getenv per point. `KUJIRA_RUNTIME_PAUSEPOINT=NAME` instead makes the runtime wait 300 ms
// there, so that a test can make a race with the container's init come out one way.

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

    /// Waits 300 ms when `KUJIRA_RUNTIME_PAUSEPOINT` is `name`: `before-join` (the container
    /// process was forked; the runtime has not yet joined it to its cgroup).
    static func pause(_ name: String) {
        guard let armed = getenv("KUJIRA_RUNTIME_PAUSEPOINT"), String(cString: armed) == name else { return }
        usleep(300_000)
    }
}
