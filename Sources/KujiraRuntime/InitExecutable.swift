internal import CKujiraRuntime
import Glibc
import Synchronization

/// Where kujira-init is and the sealed in-memory copy of it that containers are started from.
///
/// The copy is made once per process (memfd_create + F_SEAL_*): a container process that
/// opens /proc/<pid>/exe of its init for writing reaches the sealed memfd, not the binary on
/// disk (CVE-2019-5736).
enum InitExecutable {
    /// The environment variable that overrides where kujira-init is found.
    static let pathVariable = "KUJIRA_INIT_PATH"

    /// The kujira-init to use: `explicit`, else $KUJIRA_INIT_PATH, else next to the running
    /// executable (kujira-runtime and the test bundle are built into the same directory).
    static func locate(_ explicit: String?) throws -> String {
        if let explicit { return explicit }
        if let fromEnvironment = getenv(pathVariable) { return String(cString: fromEnvironment) }
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { throw RuntimeError.posix("reading /proc/self/exe") }
        let exe = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let directory = exe.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        let candidate = directory + "/kujira-init"
        guard access(candidate, X_OK) == 0 else {
            throw RuntimeError(.io, "kujira-init not found at \(candidate); install it next to the runtime or set \(pathVariable)")
        }
        return candidate
    }

    /// Sealed copies by source path, made once.
    private static let copies = Mutex<[String: Int32]>([:])

    /// An fd of the sealed copy of `path` (owned by this cache; do not close it).
    static func sealedCopy(of path: String) throws -> Int32 {
        try copies.withLock { copies in
            if let fd = copies[path] { return fd }
            let fd = kujira_sealed_copy(path)
            guard fd >= 0 else { throw RuntimeError.posix("making a sealed copy of \(path)") }
            copies[path] = fd
            return fd
        }
    }
}
