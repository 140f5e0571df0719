import ArgumentParser
import Glibc

/// The commands containerd's shim and conmon run for every container (`create`, `start`,
/// `state`, `kill`, `delete`, `run`, and `exec --process`), parsed by hand.
///
/// ArgumentParser builds its command tree by reflection (`Mirror` and dynamic casts, each of
/// which scans every protocol conformance in the binary on first use): that was a third of the
/// runtime's CPU time for a `run` of `/bin/true`, and a good part of its peak memory. Only
/// the exact forms listed below are taken; anything else (help, unknown or misspelt options, a
/// missing id) returns `nil`, and ArgumentParser parses the arguments as before, with its
/// messages. Both paths run the same bodies (``Lifecycle``).
enum FastPath {
    /// A parsed hot command.
    enum Command {
        case create(CreateFlags)
        case run(CreateFlags, detach: Bool)
        case start(String)
        case state(String)
        case kill(String, signal: String, all: Bool)
        case delete(String, force: Bool)
        /// `exec --process FILE` (containerd's shim and conmon): the process comes as JSON.
        case exec(String, process: String, ExecFlags)
    }

    /// Runs `arguments` (as given: global options first) and exits, or returns if they are not
    /// one of the forms this parser takes.
    static func runIfPossible(_ arguments: [String]) {
        guard let (settings, command) = parse(arguments) else { return }
        var status: Int32 = 0
        do {
            try reportingErrors(settings) {
                switch command {
                case .create(let flags): try Lifecycle.create(settings, flags)
                case .run(let flags, let detach): status = try Lifecycle.run(settings, flags, detach: detach)
                case .start(let id): try Lifecycle.start(settings, id: id)
                case .state(let id): try Lifecycle.state(settings, id: id)
                case .kill(let id, let signal, let all): try Lifecycle.kill(settings, id: id, signal: signal, all: all)
                case .delete(let id, let force): try Lifecycle.delete(settings, id: id, force: force)
                case .exec(let id, let path, let flags):
                    let runtime = try settings.runtime()
                    status = try Lifecycle.exec(settings, runtime: runtime, id: id, process: try Lifecycle.readProcess(path), flags: flags)
                }
            }
        } catch let code as ExitCode {
            status = code.rawValue
        } catch {
            status = 1
        }
        fflush(nil)  // every stdio stream: `state` prints through buffered stdout
        exit(status)
    }

    /// The settings and command of `arguments`, or nil to leave them to ArgumentParser.
    static func parse(_ arguments: [String]) -> (RuntimeSettings, Command)? {
        var settings = RuntimeSettings()
        var words = Words(arguments)
        // Global options, before the subcommand.
        while let word = words.peek, word.hasPrefix("-") {
            guard parseGlobal(&words, into: &settings) else { return nil }
        }
        guard let subcommand = words.next() else { return nil }
        var flags = CreateFlags()
        var positionals: [String] = []
        var detach = false, force = false, all = false
        var exec = ExecFlags()
        var processPath: String?
        while let word = words.next() {
            if !word.hasPrefix("-") || word == "-" {
                positionals.append(word)
                continue
            }
            let (name, inline) = split(word)
            switch (subcommand, name) {
            case ("create", _), ("run", _):
                switch name {
                case "--bundle", "-b": guard let value = words.value(inline) else { return nil }; flags.bundle = value
                case "--console-socket": guard let value = words.value(inline) else { return nil }; flags.consoleSocket = value
                case "--pid-file": guard let value = words.value(inline) else { return nil }; flags.pidFile = value
                case "--preserve-fds":
                    guard let value = words.value(inline).flatMap(UInt32.init) else { return nil }
                    flags.preserveFDs = value
                case "--no-pivot" where inline == nil: flags.noPivot = true
                case "--no-new-keyring" where inline == nil: flags.noNewKeyring = true
                case "--detach", "-d":
                    guard subcommand == "run", inline == nil else { return nil }
                    detach = true
                default: return nil
                }
            case ("exec", _):
                // Only the form with --process: the argument forms build the process from the
                // container's config and flags, which ArgumentParser's `Exec` does.
                switch name {
                case "--process", "-p": guard let value = words.value(inline) else { return nil }; processPath = value
                case "--console-socket": guard let value = words.value(inline) else { return nil }; exec.consoleSocket = value
                case "--pid-file": guard let value = words.value(inline) else { return nil }; exec.pidFile = value
                case "--preserve-fds":
                    guard let value = words.value(inline).flatMap(UInt32.init) else { return nil }
                    exec.preserveFDs = value
                case "--detach", "-d":
                    guard inline == nil else { return nil }
                    exec.detach = true
                default: return nil
                }
            case ("delete", "--force"), ("delete", "-f"):
                guard inline == nil else { return nil }
                force = true
            case ("kill", "--all"), ("kill", "-a"):
                guard inline == nil else { return nil }
                all = true
            default:
                return nil
            }
        }
        switch (subcommand, positionals.count) {
        case ("create", 1):
            flags.id = positionals[0]
            return (settings, .create(flags))
        case ("run", 1):
            flags.id = positionals[0]
            return (settings, .run(flags, detach: detach))
        case ("start", 1): return (settings, .start(positionals[0]))
        case ("state", 1): return (settings, .state(positionals[0]))
        case ("delete", 1): return (settings, .delete(positionals[0], force: force))
        case ("kill", 1): return (settings, .kill(positionals[0], signal: "SIGTERM", all: all))
        case ("kill", 2): return (settings, .kill(positionals[0], signal: positionals[1], all: all))
        case ("exec", 1):
            guard let processPath else { return nil }
            return (settings, .exec(positionals[0], process: processPath, exec))
        default: return nil
        }
    }

    /// One global option (`--root R`, `--root=R`, `--log`, `--log-format`, `--rootless`,
    /// `--debug`, `--systemd-cgroup`); false for anything else.
    private static func parseGlobal(_ words: inout Words, into settings: inout RuntimeSettings) -> Bool {
        guard let word = words.next() else { return false }
        let (name, inline) = split(word)
        switch name {
        case "--root": guard let value = words.value(inline) else { return false }; settings.root = value
        case "--log": guard let value = words.value(inline) else { return false }; settings.log = value
        case "--log-format": guard let value = words.value(inline) else { return false }; settings.logFormat = value
        case "--rootless": guard let value = words.value(inline) else { return false }; settings.rootless = value
        case "--debug" where inline == nil: break
        case "--systemd-cgroup" where inline == nil: settings.systemdCgroup = true
        default: return false
        }
        return true
    }

    /// `--name=value` as ("--name", "value"); other words as (word, nil).
    private static func split(_ word: String) -> (String, String?) {
        guard word.hasPrefix("--"), let equals = word.firstIndex(of: "=") else { return (word, nil) }
        return (String(word[..<equals]), String(word[word.index(after: equals)...]))
    }

    /// The argument words, consumed from the front.
    struct Words {
        private var words: [String]
        private var index = 0

        init(_ words: [String]) { self.words = words }

        var peek: String? { index < words.count ? words[index] : nil }

        mutating func next() -> String? {
            defer { index += 1 }
            return peek
        }

        /// An option's value: the inline `=value`, or the next word.
        mutating func value(_ inline: String?) -> String? {
            if let inline { return inline }
            return next()
        }
    }
}
