#if canImport(Glibc)
internal import Glibc
#elseif canImport(Musl)
internal import Musl
#endif

/// Collects what libseccomp's `seccomp_export_bpf`/`seccomp_export_pfc` write to a file
/// descriptor (libseccomp 2.5 has no export to memory).
///
/// The descriptor is an anonymous file: `O_TMPFILE` where the filesystem has it, else a
/// file created `O_EXCL` and unlinked at once. A pipe would deadlock on a program larger than
/// the pipe buffer, and `memfd_create`/`pipe2` are not in Swift's Glibc module. Every
/// descriptor is `O_CLOEXEC`: the parent is multi-threaded and forks containers.
enum SeccompExport {
    /// Runs `export` with a fresh anonymous file and returns the bytes written to it.
    /// `what` names the export in errors.
    static func capture(_ what: String, _ export: (Int32) -> Int32) throws(SecurityError) -> [UInt8] {
        let fd = try openAnonymousFile()
        defer { close(fd) }
        let rc = export(fd)
        if rc < 0 {
            throw SecurityError(.libseccomp, "libseccomp could not export \(what)", cause: SecurityErrno(errno: -rc))
        }
        guard lseek(fd, 0, SEEK_SET) == 0 else {
            throw SecurityError(.io, "cannot rewind the scratch file of \(what)", cause: SecurityErrno(errno: errno))
        }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16384)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count == 0 { break }
            if count < 0 {
                if errno == EINTR { continue }
                throw SecurityError(.io, "cannot read back \(what)", cause: SecurityErrno(errno: errno))
            }
            bytes.append(contentsOf: chunk[0..<count])
        }
        return bytes
    }

    /// Directories to hold the scratch file: tmpfs first, then `$TMPDIR`, then `/tmp`.
    private static var directories: [String] {
        var result = ["/dev/shm"]
        if let tmp = getenv("TMPDIR") { result.append(String(cString: tmp)) }
        result.append("/tmp")
        return result
    }

    private static func openAnonymousFile() throws(SecurityError) -> Int32 {
        let dirs = directories
        if let tmpfile = oTmpfile {
            for dir in dirs {
                let fd = open(dir, O_RDWR | O_CLOEXEC | tmpfile, 0o600)
                if fd >= 0 { return fd }
            }
        }
        var lastErrno: Int32 = 0
        for dir in dirs {
            for attempt in 0..<8 {
                let path = "\(dir)/.kujira-seccomp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))-\(attempt)"
                let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
                if fd >= 0 {
                    unlink(path)
                    return fd
                }
                lastErrno = errno
                if lastErrno != EEXIST { break }
            }
        }
        throw SecurityError(
            .io,
            "cannot create a scratch file for the seccomp program in \(dirs.joined(separator: ", ")); make one of them writable",
            cause: SecurityErrno(errno: lastErrno)
        )
    }

    /// `O_TMPFILE` (`__O_TMPFILE | O_DIRECTORY`), which the Glibc module does not import; nil on
    /// architectures whose `__O_TMPFILE` differs (alpha, parisc, sparc).
    private static var oTmpfile: Int32? {
        #if arch(x86_64) || arch(i386) || arch(arm64) || arch(arm) || arch(riscv64) || arch(s390x) || arch(powerpc64le)
            return 0o2000_0000 | O_DIRECTORY
        #else
            return nil
        #endif
    }
}
