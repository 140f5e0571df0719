#if canImport(Glibc)
import Glibc
#endif

/// Signal names as Docker accepts them: `TERM`, `SIGTERM`, `15`.
public enum Signals {
    static let table: [String: Int32] = [
        "HUP": SIGHUP, "INT": SIGINT, "QUIT": SIGQUIT, "ILL": SIGILL, "TRAP": SIGTRAP, "ABRT": SIGABRT,
        "BUS": SIGBUS, "FPE": SIGFPE, "KILL": SIGKILL, "USR1": SIGUSR1, "SEGV": SIGSEGV, "USR2": SIGUSR2,
        "PIPE": SIGPIPE, "ALRM": SIGALRM, "TERM": SIGTERM, "STKFLT": SIGSTKFLT, "CHLD": SIGCHLD, "CONT": SIGCONT,
        "STOP": SIGSTOP, "TSTP": SIGTSTP, "TTIN": SIGTTIN, "TTOU": SIGTTOU, "URG": SIGURG, "XCPU": SIGXCPU,
        "XFSZ": SIGXFSZ, "VTALRM": SIGVTALRM, "PROF": SIGPROF, "WINCH": SIGWINCH, "IO": SIGIO, "PWR": SIGPWR,
        "SYS": SIGSYS,
    ]

    /// The number of signal `name`.
    /// - Throws: ``EngineError`` `.invalidArgument` for an unknown signal.
    public static func parse(_ name: String) throws -> Int32 {
        if let number = Int32(name), number > 0, number < 65 { return number }
        var upper = name.uppercased()
        if upper.hasPrefix("SIG") { upper.removeFirst(3) }
        if let number = table[upper] { return number }
        if upper.hasPrefix("RTMIN+"), let offset = Int32(upper.dropFirst(6)), offset >= 0, 34 + offset <= 64 { return 34 + offset }
        throw EngineError(.invalidArgument, "invalid signal \(name): use a name such as TERM or SIGKILL, or a number")
    }
}
