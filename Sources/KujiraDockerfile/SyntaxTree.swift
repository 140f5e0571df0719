// The syntax tree: one node per instruction, before instruction-level validation, shaped
// like BuildKit's `parser.Node` so that both parsers can be dumped and compared line by line.

/// A heredoc attached to an instruction (`<<EOF` … `EOF`).
public struct Heredoc: Sendable, Hashable, Codable {
    /// The delimiter word, quotes removed (`EOF` for `<<"EOF"`).
    public var name: String
    /// The file descriptor prefix (`3<<EOF` → 3), 0 when absent.
    public var fileDescriptor: Int
    /// False when any part of the delimiter was quoted: the content is then not expanded.
    public var expand: Bool
    /// `<<-`: leading tabs are stripped from the content and the terminator.
    public var chomp: Bool
    /// The body, every line with its line ending, terminator excluded.
    public var content: String

    /// Creates a heredoc.
    public init(name: String, fileDescriptor: Int = 0, expand: Bool = true, chomp: Bool = false, content: String = "") {
        self.name = name
        self.fileDescriptor = fileDescriptor
        self.expand = expand
        self.chomp = chomp
        self.content = content
    }

    /// The content as the instruction sees it: with leading tabs removed from each line for `<<-`.
    public var effectiveContent: String {
        guard chomp else { return content }
        var out = ""
        out.reserveCapacity(content.utf8.count)
        var atLineStart = true
        for scalar in content.unicodeScalars {
            if atLineStart && scalar == "\t" { continue }
            atLineStart = scalar == "\n"
            out.unicodeScalars.append(scalar)
        }
        return out
    }
}

/// A `key`/`value` pair of ENV or LABEL with the separator as written: `=` or `""` for the
/// legacy `ENV key value` form.
public struct KeyValueSyntax: Sendable, Hashable, Codable {
    /// The key, quotes kept as written.
    public var key: String
    /// The value, quotes kept as written (they are removed by expansion).
    public var value: String
    /// `"="` or `""` (legacy space-separated form).
    public var separator: String

    /// Creates a pair.
    public init(key: String, value: String, separator: String) {
        self.key = key
        self.value = value
        self.separator = separator
    }
}

/// The arguments of an instruction node.
public enum SyntaxArguments: Sendable, Hashable, Codable {
    /// No arguments.
    case none
    /// A list of strings (exec-form JSON elements, whitespace-split words, or one shell string).
    case words([String])
    /// ENV and LABEL pairs.
    case keyValues([KeyValueSyntax])
    /// The instruction that ONBUILD registers.
    indirect case subcommand(SyntaxNode)
}

/// Instruction keywords, for dispatch without string comparisons on the hot path.
enum InstructionKind: UInt8, Sendable, Hashable, Codable {
    case unknown, add, arg, cmd, copy, entrypoint, env, expose, from, healthcheck, label, maintainer,
         onbuild, run, shell, stopsignal, user, volume, workdir

    init(command: String) {
        switch command {
        case "add": self = .add
        case "arg": self = .arg
        case "cmd": self = .cmd
        case "copy": self = .copy
        case "entrypoint": self = .entrypoint
        case "env": self = .env
        case "expose": self = .expose
        case "from": self = .from
        case "healthcheck": self = .healthcheck
        case "label": self = .label
        case "maintainer": self = .maintainer
        case "onbuild": self = .onbuild
        case "run": self = .run
        case "shell": self = .shell
        case "stopsignal": self = .stopsignal
        case "user": self = .user
        case "volume": self = .volume
        case "workdir": self = .workdir
        default: self = .unknown
        }
    }

    /// The keyword `bytes` name, compared without case (ASCII letters only, as `lowercase`).
    init(keyword bytes: UnsafeBufferPointer<UInt8>) {
        // Every keyword is 3 to 11 ASCII letters: pack them lowered, 5 bits each (a to z are
        // 1 to 26), into one integer.
        guard bytes.count >= 3 && bytes.count <= 11 else { self = .unknown; return }
        var packed: UInt64 = 0
        for b in bytes {
            guard (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) else { self = .unknown; return }
            packed = packed << 5 | UInt64((b | 0x20) - 0x60)
        }
        // The packed names (checked against `init(command:)` by the tests).
        switch packed {
        case 0x484: self = .add
        case 0x647: self = .arg
        case 0xda4: self = .cmd
        case 0x1be19: self = .copy
        case 0xaea4b307a5d4: self = .entrypoint
        case 0x15d6: self = .env
        case 0xb883e65: self = .expose
        case 0x349ed: self = .from
        case 0x20a1651034146b: self = .healthcheck
        case 0xc088ac: self = .label
        case 0x1a14ba814b8b2: self = .maintainer
        case 0x3dc2aa584: self = .onbuild
        case 0x4aae: self = .run
        case 0x134158c: self = .shell
        case 0x2747c2693b82c: self = .stopsignal
        case 0xaccb2: self = .user
        case 0x2cf655a5: self = .volume
        case 0x5df259132: self = .workdir
        default: self = .unknown
        }
    }

    /// The keyword in lower case (empty for `unknown`).
    var name: String {
        switch self {
        case .unknown: return ""
        case .add: return "add"
        case .arg: return "arg"
        case .cmd: return "cmd"
        case .copy: return "copy"
        case .entrypoint: return "entrypoint"
        case .env: return "env"
        case .expose: return "expose"
        case .from: return "from"
        case .healthcheck: return "healthcheck"
        case .label: return "label"
        case .maintainer: return "maintainer"
        case .onbuild: return "onbuild"
        case .run: return "run"
        case .shell: return "shell"
        case .stopsignal: return "stopsignal"
        case .user: return "user"
        case .volume: return "volume"
        case .workdir: return "workdir"
        }
    }

    /// RUN, COPY and ADD lines may announce heredocs.
    var takesHeredocs: Bool { self == .run || self == .copy || self == .add }
}

/// One instruction as the line parser reads it.
public struct SyntaxNode: Sendable, Hashable, Codable {
    /// The instruction keyword as written (`RUN`, `run`, `Run`).
    public var keyword: String
    /// Builder flags (`--from=build`), quotes removed, in order.
    public var flags: [String]
    /// The arguments.
    public var arguments: SyntaxArguments
    /// The arguments were a JSON array (exec form).
    public var isJSON: Bool
    /// Heredocs read after the instruction line (RUN, COPY, ADD, and those under ONBUILD).
    public var heredocs: [Heredoc]
    /// The logical line: continuation lines joined, comments removed.
    public var original: String
    /// First physical line (1-based).
    public var startLine: Int
    /// Last physical line, heredoc bodies included.
    public var endLine: Int
    /// Column of the keyword on the start line (1-based).
    public var column: Int
    /// Comment lines directly above the instruction.
    public var comments: [String]
    /// How many bytes of `original` come from the start line (the rest from continuation lines).
    public var firstLineLength: Int = 0

    /// Creates a node.
    public init(
        keyword: String, flags: [String] = [], arguments: SyntaxArguments = .none, isJSON: Bool = false,
        heredocs: [Heredoc] = [], original: String = "", startLine: Int = 0, endLine: Int = 0,
        column: Int = 1, comments: [String] = []
    ) {
        self.keyword = keyword
        self.flags = flags
        self.arguments = arguments
        self.isJSON = isJSON
        self.heredocs = heredocs
        self.original = original
        self.startLine = startLine
        self.endLine = endLine
        self.column = column
        self.comments = comments
        let lower = SyntaxNode.lowercase(keyword)
        self.storedCommand = lower
        self.kind = InstructionKind(command: lower)
    }

    /// Creates a node whose keyword is already lowered and looked up (the line parser's path).
    init(
        keyword: String, command: String, kind: InstructionKind, flags: [String], arguments: SyntaxArguments,
        isJSON: Bool, original: String, column: Int
    ) {
        self.keyword = keyword
        self.flags = flags
        self.arguments = arguments
        self.isJSON = isJSON
        self.heredocs = []
        self.original = original
        self.startLine = 0
        self.endLine = 0
        self.column = column
        self.comments = []
        self.storedCommand = command
        self.kind = kind
    }

    /// Lower case, byte by byte for ASCII (every real keyword), Unicode-aware otherwise.
    static func lowercase(_ s: String) -> String {
        var hasUpper = false
        for b in s.utf8 {
            if b >= 0x80 { return s.lowercased() }
            if b >= 0x41 && b <= 0x5A { hasUpper = true }
        }
        guard hasUpper else { return s }
        let bytes = s.utf8
        return String(unsafeUninitializedCapacity: bytes.count) { out in
            var i = 0
            for b in bytes {
                out[i] = b >= 0x41 && b <= 0x5A ? b | 0x20 : b
                i += 1
            }
            return i
        }
    }

    /// The keyword in lower case (`run`), the key the instruction table uses.
    public var command: String {
        get { storedCommand ?? keyword.lowercased() }
        set { storedCommand = newValue; kind = InstructionKind(command: newValue) }
    }
    /// Set by the lexer, which lowers ASCII keywords byte by byte.
    var storedCommand: String?
    /// The instruction the keyword names, looked up once.
    var kind: InstructionKind = .unknown

    /// The arguments flattened as BuildKit's `nodeArgs` does: ENV/LABEL as key, value,
    /// separator triples; ONBUILD as the trigger keyword followed by its arguments.
    public var flatArguments: [String] {
        switch arguments {
        case .none: return []
        case .words(let w): return w
        case .keyValues(let kv):
            var out: [String] = []
            out.reserveCapacity(kv.count * 3)
            for p in kv { out.append(p.key); out.append(p.value); out.append(p.separator) }
            return out
        case .subcommand(let child): return [child.keyword] + child.flatArguments
        }
    }

    /// BuildKit's s-expression for this node: `(keyword ["--flag"] "arg" …)` without the parentheses.
    public func dumpBody() -> String {
        var s = command
        if !flags.isEmpty { s += " " + GoText.quoteList(flags) }
        switch arguments {
        case .none: break
        case .words(let w): for a in w { s += " " + GoText.quote(a) }
        case .keyValues(let kv):
            for p in kv { s += " " + GoText.quote(p.key) + " " + GoText.quote(p.value) + " " + GoText.quote(p.separator) }
        case .subcommand(let child): s += " (" + child.dumpBody() + ")"
        }
        return s
    }
}

/// The parsed file: parser directives, instruction nodes and the warnings the line parser
/// itself raises (empty continuation lines).
public struct SyntaxTree: Sendable, Hashable, Codable {
    /// Parser directives found at the top, in order (`syntax`, `escape`, `check`).
    public var directives: [ParserDirective]
    /// The escape character in effect: `\` or `` ` ``.
    public var escapeToken: String
    /// One node per instruction.
    public var nodes: [SyntaxNode]
    /// Warnings from the line parser.
    public var warnings: [Diagnostic]

    /// Creates a tree.
    public init(directives: [ParserDirective], escapeToken: String, nodes: [SyntaxNode], warnings: [Diagnostic]) {
        self.directives = directives
        self.escapeToken = escapeToken
        self.nodes = nodes
        self.warnings = warnings
    }

    /// The dump BuildKit's parser tests print: one `(…)` line per instruction.
    public func dump() -> String {
        var out = ""
        for node in nodes {
            out += "(" + node.dumpBody() + ")\n"
        }
        return out
    }
}
