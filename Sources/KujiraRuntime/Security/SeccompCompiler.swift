public import KujiraOCI
internal import CSeccomp
#if canImport(Glibc)
internal import Glibc
#elseif canImport(Musl)
internal import Musl
#endif

/// Compiles a runtime-spec seccomp profile (`linux.seccomp`) into the classic BPF program
/// that the container init installs with `seccomp(2)`.
///
/// The rules follow runc's `libcontainer/seccomp`, so a profile behaves the same under both:
/// - the native architecture is always in the filter, next to the spec's `architectures`;
/// - syscall names libseccomp does not know are skipped (``SeccompProgram/skippedSyscalls``);
/// - a rule whose action equals the default action is dropped (libseccomp refuses it);
/// - conditions on the same argument index in one rule become one rule each (libseccomp
///   cannot AND two comparisons of one argument), so such a rule matches if any holds;
/// - `SCMP_ACT_ERRNO`/`SCMP_ACT_TRACE` without `errnoRet` return `EPERM`;
/// - libseccomp's `no_new_privs` and `TSYNC` attributes are off: the init sets
///   `no_new_privs` itself and passes ``SeccompProgram/flags`` to `seccomp(2)`;
/// - unless the default action is permissive or already `ENOSYS`, a stub in front of the
///   filter answers `ENOSYS` for syscalls numbered above all those the profile names.
///
/// ```swift
/// if let profile = spec.linux?.seccomp {
///     let program = try SeccompCompiler.compile(profile, noNewPrivileges: spec.process?.noNewPrivileges ?? false)
///     plan.seccompFilter = program.bpf   // installed by the init right before execve
/// }
/// ```
public enum SeccompCompiler {
    /// Compiles `seccomp` into a BPF program and the `seccomp(2)` flags.
    ///
    /// - Parameters:
    ///   - seccomp: the profile, as in the bundle's `config.json`.
    ///   - noNewPrivileges: the process's `noNewPrivileges`; when false the program says
    ///     to install it before capabilities are dropped
    ///     (``SeccompProgram/installBeforeDroppingCapabilities``).
    /// - Throws: ``SecurityError`` naming the action, architecture, flag, operator or syscall
    ///   at fault.
    public static func compile(_ seccomp: LinuxSeccomp, noNewPrivileges: Bool) throws(SecurityError) -> SeccompProgram {
        let filter = try LibseccompFilter(seccomp)
        let bpf = try SeccompExport.capture("the seccomp BPF program") { fd in
            seccomp_export_bpf(filter.context, fd)
        }
        guard !bpf.isEmpty, bpf.count % SeccompProgram.instructionSize == 0 else {
            throw SecurityError(
                .libseccomp,
                "libseccomp \(SeccompSpecTerms.libseccompVersion) exported a BPF program of \(bpf.count) bytes, "
                    + "not a whole number of 8-byte instructions"
            )
        }
        var stub: [UInt8] = []
        var notes = filter.notes
        let enosys = SeccompSpecTerms.Action.errno | UInt32(ENOSYS)
        if SeccompSpecTerms.isPermissive(filter.defaultAction) {
            notes.append("no ENOSYS stub: the default action lets unknown syscalls run")
        } else if filter.defaultAction == enosys {
            notes.append("no ENOSYS stub: the default action already returns ENOSYS")
        } else {
            stub = try SeccompEnosysStub.make(
                architectures: filter.architectures, syscallNames: filter.knownSyscallNames
            )
        }
        let program = stub + bpf
        let count = program.count / SeccompProgram.instructionSize
        guard count <= SeccompProgram.maximumInstructions else {
            throw SecurityError(
                .invalidProfile,
                "the seccomp profile compiles to \(count) BPF instructions, more than the kernel's limit of "
                    + "\(SeccompProgram.maximumInstructions); merge rules that share an action or drop architectures"
            )
        }
        return SeccompProgram(
            bpf: program, flags: filter.flags, needsListener: filter.needsListener,
            listenerPath: seccomp.listenerPath, listenerMetadata: seccomp.listenerMetadata,
            installBeforeDroppingCapabilities: !noNewPrivileges, skippedSyscalls: filter.skippedSyscalls,
            notes: notes, enosysStubLength: stub.count / SeccompProgram.instructionSize
        )
    }

    /// libseccomp's human-readable rendering of the filter (pseudo filter code), for
    /// `--debug` output and tests. It shows libseccomp's rules, without the ENOSYS stub.
    public static func pseudoFilterCode(_ seccomp: LinuxSeccomp) throws(SecurityError) -> String {
        let filter = try LibseccompFilter(seccomp)
        let bytes = try SeccompExport.capture("the seccomp pseudo filter code") { fd in
            seccomp_export_pfc(filter.context, fd)
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// A libseccomp filter context built from a spec profile; released when dropped.
private final class LibseccompFilter {
    let context: scmp_filter_ctx
    let defaultAction: UInt32
    /// Every architecture token in the filter, the native one first.
    private(set) var architectures: [UInt32] = []
    private(set) var flags: UInt32 = 0
    private(set) var needsListener = false
    private(set) var skippedSyscalls: [String] = []
    /// Names libseccomp resolved, for the ENOSYS stub (including rules dropped for having
    /// the default action: they are still syscalls the profile knows about).
    private(set) var knownSyscallNames: [String] = []
    private(set) var notes: [String] = []

    init(_ seccomp: LinuxSeccomp) throws(SecurityError) {
        defaultAction = try SeccompSpecTerms.action(
            seccomp.defaultAction, errnoRet: seccomp.defaultErrnoRet, what: "the default action"
        )
        if defaultAction == SeccompSpecTerms.Action.notify {
            throw SecurityError(
                .invalidProfile,
                "SCMP_ACT_NOTIFY cannot be the default action (the init itself would wait on the listener); "
                    + "use it in rules for chosen syscalls"
            )
        }
        guard let context = seccomp_init(defaultAction) else {
            throw SecurityError(
                .libseccomp,
                "libseccomp \(SeccompSpecTerms.libseccompVersion) refused the default action \(seccomp.defaultAction); "
                    + "the running kernel may not support it"
            )
        }
        self.context = context
        architectures = [seccomp_arch_native()]
        try addArchitectures(seccomp.architectures ?? [])
        try setAttribute(SCMP_FLTATR_CTL_NNP, 0, "SCMP_FLTATR_CTL_NNP")
        try setAttribute(SCMP_FLTATR_CTL_TSYNC, 0, "SCMP_FLTATR_CTL_TSYNC")
        for (index, rule) in (seccomp.syscalls ?? []).enumerated() {
            try addRule(rule, index: index)
        }
        try parseFlags(seccomp.flags ?? [])
        if needsListener, (seccomp.listenerPath ?? "").isEmpty {
            throw SecurityError(
                .invalidProfile,
                "the seccomp profile uses SCMP_ACT_NOTIFY but sets no listenerPath; "
                    + "set linux.seccomp.listenerPath to the UNIX socket of the seccomp agent"
            )
        }
    }

    deinit { seccomp_release(context) }

    private func addArchitectures(_ names: [String]) throws(SecurityError) {
        for name in names {
            let token = try SeccompSpecTerms.architecture(name)
            let rc = seccomp_arch_add(context, token)
            if rc == -EEXIST { continue }
            if rc < 0 {
                throw SecurityError(
                    .libseccomp, "libseccomp could not add seccomp architecture \(name)", cause: SecurityErrno(errno: -rc)
                )
            }
            architectures.append(token)
        }
    }

    private func setAttribute(_ attribute: scmp_filter_attr, _ value: UInt32, _ name: String) throws(SecurityError) {
        let rc = seccomp_attr_set(context, attribute, value)
        if rc < 0 {
            throw SecurityError(.libseccomp, "libseccomp could not set \(name) to \(value)", cause: SecurityErrno(errno: -rc))
        }
    }

    private func parseFlags(_ names: [String]) throws(SecurityError) {
        for name in names {
            guard let bit = SeccompFilterFlag.byName[name] else {
                throw SecurityError(
                    .unknownFlag,
                    "unsupported seccomp flag \"\(name)\"; Kujira supports "
                        + SeccompFilterFlag.byName.keys.sorted().joined(separator: ", ")
                )
            }
            flags |= bit
        }
        if flags & SeccompFilterFlag.waitKillableRecv != 0, !needsListener {
            throw SecurityError(
                .invalidProfile,
                "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV needs an SCMP_ACT_NOTIFY rule (the kernel refuses it "
                    + "without a listener); remove the flag or add a notify rule"
            )
        }
    }

    private func addRule(_ rule: LinuxSyscall, index: Int) throws(SecurityError) {
        let what = "syscalls[\(index)] (\(rule.names.joined(separator: ", ")))"
        guard !rule.names.isEmpty else {
            throw SecurityError(.invalidProfile, "seccomp rule syscalls[\(index)] names no syscall; give at least one name")
        }
        let action = try SeccompSpecTerms.action(rule.action, errnoRet: rule.errnoRet, what: "rule \(what)")
        if action == SeccompSpecTerms.Action.notify {
            if rule.names.contains("write") {
                throw SecurityError(
                    .invalidProfile,
                    "SCMP_ACT_NOTIFY cannot be used for the write syscall (rule \(what)): the init writes to the "
                        + "runtime after installing the filter and would block on the agent (as in runc); use another action"
                )
            }
            needsListener = true
        }
        let conditions = try Self.conditions(rule.args ?? [], what: what)
        // libseccomp cannot compare one argument twice in a rule (EINVAL); runc then adds
        // each condition as a rule of its own, and so does Kujira.
        let indexes = conditions.map(\.arg)
        let groups: [[scmp_arg_cmp]] = Set(indexes).count < indexes.count ? conditions.map { [$0] } : [conditions]
        for name in rule.names {
            let number = name.withCString { seccomp_syscall_resolve_name($0) }
            if number == -1 {  // __NR_SCMP_ERROR: unknown to libseccomp on every architecture
                skippedSyscalls.append(name)
                continue
            }
            knownSyscallNames.append(name)
            if action == defaultAction {
                notes.append("rule \(what): \(name) left out, its action \(rule.action) is the default action")
                continue
            }
            for group in groups {
                let rc = group.withUnsafeBufferPointer { buffer in
                    seccomp_rule_add_array(context, action, number, UInt32(buffer.count), buffer.baseAddress)
                }
                if rc < 0 {
                    throw SecurityError(
                        .libseccomp,
                        "libseccomp refused the seccomp rule for syscall \(name) with action \(rule.action) "
                            + "and \(group.count) argument condition(s) (rule \(what))",
                        cause: SecurityErrno(errno: -rc)
                    )
                }
            }
        }
    }

    private static func conditions(_ args: [LinuxSeccompArg], what: String) throws(SecurityError) -> [scmp_arg_cmp] {
        var result: [scmp_arg_cmp] = []
        for arg in args {
            guard arg.index < 6 else {
                throw SecurityError(
                    .invalidProfile,
                    "seccomp rule \(what) compares argument index \(arg.index); syscalls have arguments 0 to 5"
                )
            }
            let op = try SeccompSpecTerms.comparison(arg.op, what: "rule \(what)")
            // For SCMP_CMP_MASKED_EQ, `value` is the mask and `valueTwo` the expected result.
            result.append(scmp_arg_cmp(arg: UInt32(arg.index), op: op, datum_a: arg.value, datum_b: arg.valueTwo ?? 0))
        }
        return result
    }
}
