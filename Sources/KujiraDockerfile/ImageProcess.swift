// How ENTRYPOINT and CMD combine, per the table "Understand how CMD and ENTRYPOINT interact"
// of the Dockerfile reference, plus BuildKit's rule that setting ENTRYPOINT clears a CMD
// inherited from the base image unless the same stage sets CMD.

/// The process an image starts: `Entrypoint` and `Cmd` of the image config.
public struct ImageProcess: Sendable, Hashable, Codable {
    /// `Config.Entrypoint`.
    public var entrypoint: [String]?
    /// `Config.Cmd`.
    public var cmd: [String]?
    /// `Config.Shell` (SHELL), used to wrap shell-form commands.
    public var shell: [String]

    /// Creates a process description; the default shell is `/bin/sh -c`.
    public init(entrypoint: [String]? = nil, cmd: [String]? = nil, shell: [String] = ["/bin/sh", "-c"]) {
        self.entrypoint = entrypoint
        self.cmd = cmd
        self.shell = shell
    }

    /// The argument vector a container runs: entrypoint followed by cmd. Empty when neither
    /// is set (the container cannot start).
    public var argv: [String] { (entrypoint ?? []) + (cmd ?? []) }

    /// Applies a stage's instructions to a base image's process.
    public static func resolve(base: ImageProcess = ImageProcess(), instructions: [Instruction]) -> ImageProcess {
        var b = Builder(base: base)
        for i in instructions { b.apply(i) }
        return b.process
    }

    /// Applies instructions one by one.
    struct Builder {
        var process: ImageProcess
        var cmdSet = false

        init(base: ImageProcess) { process = base }

        mutating func wrap(_ form: CommandForm) -> [String] {
            switch form {
            case .exec(let argv): return argv
            case .shell(let line): return process.shell + [line]
            }
        }

        mutating func apply(_ instruction: Instruction) {
            switch instruction {
            case .shell(let s):
                process.shell = s
            case .cmd(let form):
                process.cmd = form.map { wrap($0) }
                cmdSet = true
            case .entrypoint(let form):
                // An empty exec form or a bare ENTRYPOINT resets it.
                if let form, !(form == .exec([])) { process.entrypoint = wrap(form) } else { process.entrypoint = nil }
                if !cmdSet { process.cmd = nil }
            default:
                break
            }
        }
    }
}
