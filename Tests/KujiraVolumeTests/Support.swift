import Foundation

/// The machine the privileged volume tests need: root (chown to other users).
enum VolumeHost {
    static let requirePrivileged = ProcessInfo.processInfo.environment["KUJIRA_REQUIRE_PRIVILEGED"] == "1"
    /// Run the privileged tests: as root, and always under KUJIRA_REQUIRE_PRIVILEGED=1 (so that
    /// a missing root fails rather than skips).
    static let enabled = requirePrivileged || geteuid() == 0
}
