import KujiraOCI

/// One entry of Docker's default profile: a spec rule plus the conditions under which
/// Docker puts it into a container's profile (`includes`/`excludes` in moby's JSON).
struct DefaultProfileRule: Sendable {
    /// The syscalls of the rule.
    var names: [String]
    /// The spec action.
    var action = "SCMP_ACT_ALLOW"
    /// The errno for `SCMP_ACT_ERRNO`.
    var errnoRet: UInt32?
    /// Argument conditions.
    var args: [LinuxSeccompArg] = []
    /// Included only when the container has every one of these capabilities.
    var includeCaps: [String] = []
    /// Left out when the container has any one of these capabilities.
    var excludeCaps: [String] = []
    /// Included only on these host architectures (Go's `GOARCH` names, as moby writes them).
    var includeArches: [String] = []
    /// Left out on these host architectures.
    var excludeArches: [String] = []
    /// Included only on kernels at least this new.
    var minKernel: KernelVersion?
}

extension DefaultProfileRule {
    /// A rule from a whitespace-separated list of syscall names (easier to read and to diff
    /// against moby's JSON than one string literal per line).
    init(
        _ names: String, action: String = "SCMP_ACT_ALLOW", errnoRet: UInt32? = nil, args: [LinuxSeccompArg] = [],
        includeCaps: [String] = [], excludeCaps: [String] = [], includeArches: [String] = [],
        excludeArches: [String] = [], minKernel: KernelVersion? = nil
    ) {
        self.init(
            names: names.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init), action: action,
            errnoRet: errnoRet, args: args, includeCaps: includeCaps, excludeCaps: excludeCaps,
            includeArches: includeArches, excludeArches: excludeArches, minKernel: minKernel
        )
    }
}

/// The data of Docker's default seccomp profile, transcribed from moby's
/// `profiles/seccomp/default.json` (the version with the `socket` AF_VSOCK rule, CAP_BPF and
/// CAP_PERFMON rules and `clock_settime64`). Order matters only for readability: the kernel
/// takes the most restrictive matching action, and libseccomp sorts rules itself.
extension DefaultSeccompProfile {
    /// `SCMP_ARCH_*` architectures per host architecture (moby's `archMap`): the native
    /// one and the compat ones whose programs can run on it.
    static let architectureMap: [String: [String]] = [
        "SCMP_ARCH_X86_64": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "SCMP_ARCH_AARCH64": ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"],
        "SCMP_ARCH_MIPS64": ["SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64N32"],
        "SCMP_ARCH_MIPS64N32": ["SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64"],
        "SCMP_ARCH_MIPSEL64": ["SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64N32"],
        "SCMP_ARCH_MIPSEL64N32": ["SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64"],
        "SCMP_ARCH_S390X": ["SCMP_ARCH_S390X", "SCMP_ARCH_S390"],
        "SCMP_ARCH_RISCV64": ["SCMP_ARCH_RISCV64"],
    ]

    /// `CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID |
    /// CLONE_NEWNET | CLONE_NEWCGROUP`: without CAP_SYS_ADMIN, `clone` may create none of these.
    static let namespaceCloneFlags: UInt64 = 0x7E02_0000

    /// `AF_VSOCK`: sockets of this family reach the hypervisor, so the profile refuses them.
    static let addressFamilyVSOCK: UInt64 = 40

    /// The rules, in moby's order.
    static let rules: [DefaultProfileRule] = [
        DefaultProfileRule(
            """
            accept accept4 access adjtimex alarm bind brk capget capset chdir chmod chown chown32
            clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime clock_gettime64
            clock_nanosleep clock_nanosleep_time64 close close_range connect copy_file_range creat dup dup2
            dup3 epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait
            epoll_wait_old eventfd eventfd2 execve execveat exit exit_group faccessat faccessat2 fadvise64
            fadvise64_64 fallocate fanotify_mark fchdir fchmod fchmodat fchown fchown32 fchownat fcntl
            fcntl64 fdatasync fgetxattr flistxattr flock fork fremovexattr fsetxattr fstat fstat64 fstatat64
            fstatfs fstatfs64 fsync ftruncate ftruncate64 futex futex_time64 futex_waitv futimesat getcpu
            getcwd getdents getdents64 getegid getegid32 geteuid geteuid32 getgid getgid32 getgroups
            getgroups32 getitimer getpeername getpgid getpgrp getpid getppid getpriority getrandom getresgid
            getresgid32 getresuid getresuid32 getrlimit get_robust_list getrusage getsid getsockname
            getsockopt get_thread_area gettid gettimeofday getuid getuid32 getxattr inotify_add_watch
            inotify_init inotify_init1 inotify_rm_watch io_cancel ioctl io_destroy io_getevents io_pgetevents
            io_pgetevents_time64 ioprio_get ioprio_set io_setup io_submit io_uring_enter io_uring_register
            io_uring_setup ipc kill landlock_add_rule landlock_create_ruleset landlock_restrict_self lchown
            lchown32 lgetxattr link linkat listen listxattr llistxattr _llseek lremovexattr lseek lsetxattr
            lstat lstat64 madvise membarrier memfd_create memfd_secret mincore mkdir mkdirat mknod mknodat
            mlock mlock2 mlockall mmap mmap2 mprotect mq_getsetattr mq_notify mq_open mq_timedreceive
            mq_timedreceive_time64 mq_timedsend mq_timedsend_time64 mq_unlink mremap msgctl msgget msgrcv
            msgsnd msync munlock munlockall munmap name_to_handle_at nanosleep newfstatat _newselect open
            openat openat2 pause pidfd_open pidfd_send_signal pipe pipe2 pkey_alloc pkey_free pkey_mprotect
            poll ppoll ppoll_time64 prctl pread64 preadv preadv2 prlimit64 process_mrelease pselect6
            pselect6_time64 pwrite64 pwritev pwritev2 read readahead readlink readlinkat readv recv recvfrom
            recvmmsg recvmmsg_time64 recvmsg remap_file_pages removexattr rename renameat renameat2
            restart_syscall rmdir rseq rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn
            rt_sigsuspend rt_sigtimedwait rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_getaffinity
            sched_getattr sched_getparam sched_get_priority_max sched_get_priority_min sched_getscheduler
            sched_rr_get_interval sched_rr_get_interval_time64 sched_setaffinity sched_setattr
            sched_setparam sched_setscheduler sched_yield seccomp select semctl semget semop semtimedop
            semtimedop_time64 send sendfile sendfile64 sendmmsg sendmsg sendto setfsgid setfsgid32 setfsuid
            setfsuid32 setgid setgid32 setgroups setgroups32 setitimer setpgid setpriority setregid
            setregid32 setresgid setresgid32 setresuid setresuid32 setreuid setreuid32 setrlimit
            set_robust_list setsid setsockopt set_thread_area set_tid_address setuid setuid32 setxattr shmat
            shmctl shmdt shmget shutdown sigaltstack signalfd signalfd4 sigprocmask sigreturn socketcall
            socketpair splice stat stat64 statfs statfs64 statx symlink symlinkat sync sync_file_range
            syncfs sysinfo tee tgkill time timer_create timer_delete timer_getoverrun timer_gettime
            timer_gettime64 timer_settime timer_settime64 timerfd_create timerfd_gettime timerfd_gettime64
            timerfd_settime timerfd_settime64 times tkill truncate truncate64 ugetrlimit umask uname unlink
            unlinkat utime utimensat utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid write writev
            """
        ),
        DefaultProfileRule("process_vm_readv process_vm_writev ptrace", minKernel: KernelVersion(major: 4, minor: 8)),
        DefaultProfileRule("socket", args: [LinuxSeccompArg(index: 0, value: addressFamilyVSOCK, op: "SCMP_CMP_NE")]),
        // personality(2) only for the Linux personality, its 32-bit variant (PER_LINUX32 =
        // 0x0008), UNAME26 (0x20000) and the query 0xffffffff.
        DefaultProfileRule("personality", args: [LinuxSeccompArg(index: 0, value: 0x0, op: "SCMP_CMP_EQ")]),
        DefaultProfileRule("personality", args: [LinuxSeccompArg(index: 0, value: 0x0008, op: "SCMP_CMP_EQ")]),
        DefaultProfileRule("personality", args: [LinuxSeccompArg(index: 0, value: 0x20000, op: "SCMP_CMP_EQ")]),
        DefaultProfileRule("personality", args: [LinuxSeccompArg(index: 0, value: 0x20008, op: "SCMP_CMP_EQ")]),
        DefaultProfileRule("personality", args: [LinuxSeccompArg(index: 0, value: 0xffff_ffff, op: "SCMP_CMP_EQ")]),
        DefaultProfileRule("sync_file_range2 swapcontext", includeArches: ["ppc64le"]),
        DefaultProfileRule(
            "arm_fadvise64_64 arm_sync_file_range sync_file_range2 breakpoint cacheflush set_tls",
            includeArches: ["arm", "arm64"]
        ),
        DefaultProfileRule("arch_prctl", includeArches: ["amd64", "x32"]),
        DefaultProfileRule("modify_ldt", includeArches: ["amd64", "x32", "x86"]),
        DefaultProfileRule("s390_pci_mmio_read s390_pci_mmio_write s390_runtime_instr", includeArches: ["s390", "s390x"]),
        DefaultProfileRule("riscv_flush_icache", includeArches: ["riscv64"]),
        DefaultProfileRule("open_by_handle_at", includeCaps: ["CAP_DAC_READ_SEARCH"]),
        DefaultProfileRule(
            """
            bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie mount mount_setattr
            move_mount open_tree perf_event_open quotactl quotactl_fd setdomainname sethostname setns syslog
            umount umount2 unshare
            """,
            includeCaps: ["CAP_SYS_ADMIN"]
        ),
        DefaultProfileRule(
            "clone", args: [LinuxSeccompArg(index: 0, value: namespaceCloneFlags, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ")],
            excludeCaps: ["CAP_SYS_ADMIN"], excludeArches: ["s390", "s390x"]
        ),
        // s390 passes clone's flags as the second argument.
        DefaultProfileRule(
            "clone", args: [LinuxSeccompArg(index: 1, value: namespaceCloneFlags, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ")],
            excludeCaps: ["CAP_SYS_ADMIN"], includeArches: ["s390", "s390x"]
        ),
        // clone3 passes its flags in memory, where seccomp cannot look: answer ENOSYS so that
        // glibc falls back to clone, whose flags the rule above checks.
        DefaultProfileRule("clone3", action: "SCMP_ACT_ERRNO", errnoRet: 38, excludeCaps: ["CAP_SYS_ADMIN"]),
        DefaultProfileRule("reboot", includeCaps: ["CAP_SYS_BOOT"]),
        DefaultProfileRule("chroot", includeCaps: ["CAP_SYS_CHROOT"]),
        DefaultProfileRule("delete_module init_module finit_module", includeCaps: ["CAP_SYS_MODULE"]),
        DefaultProfileRule("acct", includeCaps: ["CAP_SYS_PACCT"]),
        DefaultProfileRule(
            "kcmp pidfd_getfd process_madvise process_vm_readv process_vm_writev ptrace", includeCaps: ["CAP_SYS_PTRACE"]
        ),
        DefaultProfileRule("iopl ioperm", includeCaps: ["CAP_SYS_RAWIO"]),
        DefaultProfileRule("settimeofday stime clock_settime clock_settime64", includeCaps: ["CAP_SYS_TIME"]),
        DefaultProfileRule("vhangup", includeCaps: ["CAP_SYS_TTY_CONFIG"]),
        DefaultProfileRule("get_mempolicy mbind set_mempolicy set_mempolicy_home_node", includeCaps: ["CAP_SYS_NICE"]),
        DefaultProfileRule("syslog", includeCaps: ["CAP_SYSLOG"]),
        DefaultProfileRule("bpf", includeCaps: ["CAP_BPF"]),
        DefaultProfileRule("perf_event_open", includeCaps: ["CAP_PERFMON"]),
    ]
}
