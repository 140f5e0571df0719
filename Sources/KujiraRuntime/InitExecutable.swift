internal import CKujiraRuntime
import Glibc
import Synchronization

/// Which kujira-init containers start from, and the sealed in-memory copy of it.
///
/// By default it is the image embedded in KujiraRuntime (Plugins/KujiraInitImage compiles
/// Sources/kujira-init with clang into a libc-only executable at build time), so nothing has
/// to be installed or found next to the runtime. `ContainerRuntime.initPath` or
/// `$KUJIRA_INIT_PATH` name a file to use instead.
///
/// The copy is made once per process (memfd_create + F_SEAL_*): a container process that
/// opens /proc/<pid>/exe of its init for writing reaches the sealed memfd, not a file on disk
/// (CVE-2019-5736).
enum InitExecutable {
    /// The environment variable that overrides the embedded kujira-init with a file.
    static let pathVariable = "KUJIRA_INIT_PATH"

    /// The kujira-init file to use: `explicit`, else $KUJIRA_INIT_PATH, else nil (the embedded
    /// image).
    static func locate(_ explicit: String?) throws -> String? {
        if let explicit { return explicit }
        if let fromEnvironment = getenv(pathVariable), fromEnvironment.pointee != 0 { return String(cString: fromEnvironment) }
        return nil
    }

    /// Sealed copies by source path ("" for the embedded image), made once.
    private static let copies = Mutex<[String: Int32]>([:])

    /// An fd of the sealed copy of `path`, or of the embedded image when nil (owned by this
    /// cache; do not close it).
    static func sealedCopy(of path: String?) throws -> Int32 {
        try copies.withLock { copies in
            if let fd = copies[path ?? ""] { return fd }
            let fd: Int32
            if let path {
                fd = kujira_sealed_copy(path)
                guard fd >= 0 else { throw RuntimeError.posix("making a sealed copy of \(path)") }
            } else {
                fd = kujiraInitImageBase64.withUTF8Buffer { image in
                    image.withMemoryRebound(to: CChar.self) { kujira_sealed_image($0.baseAddress, $0.count) }
                }
                guard fd >= 0 else { throw RuntimeError.posix("making a sealed copy of the embedded kujira-init") }
            }
            copies[path ?? ""] = fd
            return fd
        }
    }
}
