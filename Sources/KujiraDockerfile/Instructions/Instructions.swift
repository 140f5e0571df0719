// The typed instruction model, one type per instruction of the Dockerfile reference.
// Values are as written (quotes kept where the reference expands them later); use
// `DockerfileEvaluator` to expand variables with ARG/ENV scoping.

/// Shell form (`RUN echo hi`, run by the stage's SHELL) or exec form (`RUN ["echo", "hi"]`).
public enum CommandForm: Sendable, Hashable, Codable {
    /// The command line, given to the shell as one string.
    case shell(String)
    /// The argument vector.
    case exec([String])
}

/// `FROM [--platform=…] image [AS name]`.
public struct FromInstruction: Sendable, Hashable, Codable {
    /// The base: an image reference, a stage name, or `scratch`.
    public var image: String
    /// `--platform`, as written.
    public var platform: String?
    /// The stage name after `AS`, in lower case.
    public var stageName: String?
    /// The stage name as written (for the StageNameCasing lint).
    public var stageNameAsWritten: String?
    /// The `AS` keyword as written (for the FromAsCasing lint).
    public var asKeyword: String?
}

/// A `--mount` option of RUN.
public struct RunMount: Sendable, Hashable, Codable {
    /// The mount types of the reference.
    public enum Kind: String, Sendable, Hashable, Codable, CaseIterable {
        /// Read-only (by default) bind of the context or a stage.
        case bind
        /// A persistent cache directory.
        case cache
        /// A tmpfs.
        case tmpfs
        /// A build secret as a file or an environment variable.
        case secret
        /// An SSH agent socket.
        case ssh
    }

    /// The mount type (default `bind`).
    public var type: Kind = .bind
    /// `from=`: a stage, image or named context to mount from.
    public var from: String?
    /// `source=`/`src=`.
    public var source: String?
    /// `target=`/`dst=`/`destination=`.
    public var target: String?
    /// `readonly`/`ro`, `readwrite`/`rw`; bind and secret/ssh default to read-only.
    public var readOnly: Bool = true
    /// `id=`: cache, secret or ssh id.
    public var id: String?
    /// `sharing=` of cache mounts: `shared`, `private` or `locked`.
    public var sharing: String?
    /// `required` of secret and ssh mounts.
    public var required: Bool = false
    /// `mode=` (octal) of cache, secret and ssh mounts.
    public var mode: UInt32?
    /// `uid=`.
    public var uid: UInt32?
    /// `gid=`.
    public var gid: UInt32?
    /// `size=` of tmpfs mounts, in bytes.
    public var size: Int64?
    /// `env=` of secret mounts: expose the secret as this environment variable.
    public var env: String?
    /// The option text as written (before expansion).
    public var raw: String = ""

    /// Creates a bind mount with defaults.
    public init() {}
}

/// `RUN`.
public struct RunInstruction: Sendable, Hashable, Codable {
    /// The command; nil for `RUN` with nothing after the flags.
    public var command: CommandForm?
    /// Heredoc files (`RUN <<EOF`): for a lone `<<EOF` the first one is the script.
    public var heredocs: [Heredoc]
    /// `--mount` options.
    public var mounts: [RunMount]
    /// `--network=default|none|host`.
    public var network: String?
    /// `--security=sandbox|insecure`.
    public var security: String?
}

/// `ADD` and `COPY`.
public struct CopyInstruction: Sendable, Hashable, Codable {
    /// Source paths or URLs, as written.
    public var sources: [String]
    /// Inline sources (`COPY <<EOF /dest`).
    public var heredocSources: [Heredoc]
    /// The destination.
    public var destination: String
    /// The arguments were a JSON array.
    public var isJSON: Bool
    /// `--from` (COPY): stage name or index, image, or named context.
    public var from: String?
    /// `--chown=user[:group]`.
    public var chown: String?
    /// `--chmod`: octal (`0755`) or symbolic (`u=rwx,go=rx`).
    public var chmod: String?
    /// `--link`.
    public var link: Bool
    /// `--parents`.
    public var parents: Bool
    /// `--exclude` patterns.
    public var excludes: [String]
    /// `--checksum` (ADD): `sha256:…` of the remote source.
    public var checksum: String?
    /// `--keep-git-dir` (ADD).
    public var keepGitDir: Bool
    /// `--unpack` (ADD): nil when not given.
    public var unpack: Bool?
}

/// An `ENV` or `LABEL` pair.
public struct KeyValuePair: Sendable, Hashable, Codable {
    /// The key as written.
    public var key: String
    /// The value as written.
    public var value: String
    /// Written in the legacy `KEY value` form.
    public var legacy: Bool

    /// Creates a pair.
    public init(key: String, value: String, legacy: Bool = false) {
        self.key = key
        self.value = value
        self.legacy = legacy
    }
}

/// One name of an `ARG` line.
public struct ArgDeclaration: Sendable, Hashable, Codable {
    /// The name.
    public var name: String
    /// The default after `=`, as written; nil when absent.
    public var defaultValue: String?

    /// Creates a declaration.
    public init(name: String, defaultValue: String? = nil) {
        self.name = name
        self.defaultValue = defaultValue
    }
}

/// `HEALTHCHECK`.
public enum HealthcheckInstruction: Sendable, Hashable, Codable {
    /// `HEALTHCHECK NONE`: disable any inherited check.
    case none
    /// `HEALTHCHECK [options] CMD …`.
    case check(HealthcheckConfig)
}

/// The options and test of `HEALTHCHECK CMD`.
public struct HealthcheckConfig: Sendable, Hashable, Codable {
    /// The test as the image config stores it: `["CMD", …]` or `["CMD-SHELL", "…"]`.
    public var test: [String]
    /// `--interval` in nanoseconds (0: default).
    public var interval: Int64
    /// `--timeout` in nanoseconds.
    public var timeout: Int64
    /// `--start-period` in nanoseconds.
    public var startPeriod: Int64
    /// `--start-interval` in nanoseconds.
    public var startInterval: Int64
    /// `--retries` (0: default).
    public var retries: Int
}

/// `ONBUILD`.
public struct OnbuildInstruction: Sendable, Hashable, Codable {
    /// The trigger as stored in the image (the text after `ONBUILD`, heredocs appended).
    public var expression: String
    /// The trigger parsed (one element), or empty when it is not an instruction this
    /// parser knows; triggers run only in a child build.
    public var trigger: [DockerfileInstruction]
}

/// One instruction, typed.
public enum Instruction: Sendable, Hashable, Codable {
    /// `FROM`.
    indirect case from(FromInstruction)
    /// `RUN`.
    case run(RunInstruction)
    /// `CMD`; nil for `CMD` with nothing.
    case cmd(CommandForm?)
    /// `ENTRYPOINT`; nil for an empty ENTRYPOINT.
    case entrypoint(CommandForm?)
    /// `SHELL ["executable", "parameters"]`.
    case shell([String])
    /// `LABEL`.
    case label([KeyValuePair])
    /// `EXPOSE` ports as written (`80`, `80/udp`, `8000-8010/tcp`, `$PORT`).
    case expose([String])
    /// `ENV`.
    case env([KeyValuePair])
    /// `ADD`.
    indirect case add(CopyInstruction)
    /// `COPY`.
    indirect case copy(CopyInstruction)
    /// `ARG`.
    case arg([ArgDeclaration])
    /// `VOLUME`.
    case volume([String])
    /// `USER user[:group]`.
    case user(String)
    /// `WORKDIR`.
    case workdir(String)
    /// `HEALTHCHECK`.
    case healthcheck(HealthcheckInstruction)
    /// `STOPSIGNAL`.
    case stopSignal(String)
    /// `ONBUILD`.
    case onbuild(OnbuildInstruction)
    /// `MAINTAINER` (deprecated: use `LABEL maintainer=…`).
    case maintainer(String)

    /// The instruction keyword in upper case.
    public var keyword: String {
        switch self {
        case .from: return "FROM"
        case .run: return "RUN"
        case .cmd: return "CMD"
        case .entrypoint: return "ENTRYPOINT"
        case .shell: return "SHELL"
        case .label: return "LABEL"
        case .expose: return "EXPOSE"
        case .env: return "ENV"
        case .add: return "ADD"
        case .copy: return "COPY"
        case .arg: return "ARG"
        case .volume: return "VOLUME"
        case .user: return "USER"
        case .workdir: return "WORKDIR"
        case .healthcheck: return "HEALTHCHECK"
        case .stopSignal: return "STOPSIGNAL"
        case .onbuild: return "ONBUILD"
        case .maintainer: return "MAINTAINER"
        }
    }

    /// Whether a lint rule looks at this instruction; a switch without bindings, so asking
    /// copies no payload.
    var isLinted: Bool {
        switch self {
        case .run, .copy, .add, .from, .user, .volume, .shell, .stopSignal: return false
        case .cmd, .entrypoint, .label, .expose, .env, .arg, .workdir, .healthcheck, .onbuild, .maintainer: return true
        }
    }

    /// Every instruction keyword of the reference.
    public static let keywords = [
        "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL",
        "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
    ]
}

/// An instruction with its place in the file.
public struct DockerfileInstruction: Sendable, Hashable, Codable {
    /// The typed instruction.
    public var instruction: Instruction
    /// The keyword as written.
    public var keyword: String
    /// Where the keyword starts.
    public var location: SourceLocation
    /// The last line (heredoc bodies included).
    public var endLine: Int
    /// The logical line as written (continuations joined).
    public var original: String
    /// Comment lines directly above.
    public var comments: [String]
}
