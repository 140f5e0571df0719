// ADD of git repositories (`ADD https://host/repo.git#ref:subdir /dst`, `git@host:repo.git`,
// `git://…`): the ref is fetched (depth 1) with the host's `git` into the build's temporary
// directory, checked out, and the tree — or the `subdir` of the fragment — is added like a
// directory of the context: its content into the destination, owned by root (or `--chown`),
// modes from git, modification times set to the commit's time so that the layer does not
// depend on when the build ran. `.git` is left out unless `--keep-git-dir`.

import KujiraOCI
import KujiraDockerfile
import Glibc

/// A fetched git source.
struct GitCheckout {
    var directory: String
    var commitTime: Int64
}

extension BuildRun {
    /// The `git` executable, or nil.
    static func gitExecutable() -> String? {
        let path = (getenv("PATH").map { String(cString: $0) } ?? "/usr/local/bin:/usr/bin:/bin")
        for dir in path.split(separator: ":") where access("\(dir)/git", X_OK) == 0 { return "\(dir)/git" }
        return nil
    }

    /// Fetches `source` (`URL[#ref[:subdir]]`) into `directory`.
    func fetchGit(_ source: String, into directory: String, context: StepContext) throws -> (GitCheckout, subdir: String) {
        guard let git = Self.gitExecutable() else {
            throw context.error(.unsupported, "ADD \(source): adding a git repository needs git, which is not installed on this host")
        }
        var url = source, ref = "", subdir = ""
        if let hash = source.lastIndex(of: "#") {
            url = String(source[..<hash])
            let fragment = source[source.index(after: hash)...]
            if let colon = fragment.firstIndex(of: ":") {
                ref = String(fragment[..<colon])
                subdir = String(fragment[fragment.index(after: colon)...])
            } else {
                ref = String(fragment)
            }
        }
        if url.hasPrefix("-") || ref.hasPrefix("-") {
            throw context.error(.invalidArgument, "ADD \(source): not a git URL")
        }
        guard mkdir(directory, 0o700) == 0 else {
            throw BuildError(.io, "cannot create \(directory): \(String(cString: strerror(errno)))")
        }
        let environment = ["GIT_TERMINAL_PROMPT=0", "GIT_CONFIG_NOSYSTEM=1", "HOME=/nonexistent", "PATH=/usr/local/bin:/usr/bin:/bin",
                           "GIT_SSH_COMMAND=ssh -o BatchMode=yes"]
        func run(_ arguments: [String]) throws -> String {
            let (status, output) = try Subprocess.run([git] + arguments, environment: environment, logPath: directory + ".log")
            guard status == 0 else {
                let text = output.split(separator: "\n").suffix(3).joined(separator: "\n")
                let command = arguments.first == "-C" && arguments.count > 2 ? arguments[2] : (arguments.first ?? "")
                throw context.error(.sourceNotFound, "ADD \(source): git \(command) failed (status \(status)): \(text)")
            }
            return output
        }
        _ = try run(["init", "-q", directory])
        _ = try run(["-C", directory, "remote", "add", "origin", url])
        _ = try run(["-C", directory, "fetch", "-q", "--depth", "1", "origin", ref.isEmpty ? "HEAD" : ref])
        _ = try run(["-C", directory, "checkout", "-q", "FETCH_HEAD"])
        let time = Int64(try run(["-C", directory, "log", "-1", "--format=%ct"]).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        return (GitCheckout(directory: directory, commitTime: time), subdir)
    }
}

extension CopyPlan {
    /// Adds the checked-out tree of a git source (its `subdir`) under the destination.
    mutating func addGit(_ checkout: GitCheckout, subdir: String, keepGitDir: Bool, source: String, copy: CopyInstruction,
                         workdir: String, owner: (uid: UInt32, gid: UInt32)?, chmod: FileModeChange?) throws(BuildError) {
        var destination = copy.destination
        if !destination.hasPrefix("/") {
            destination = (workdir.hasSuffix("/") ? workdir : workdir + "/") + destination
        }
        let destinationPath = "/" + RootPath.components(destination).joined(separator: "/")
        let root = checkout.directory
        let relative = RootPath.components(subdir).joined(separator: "/")
        guard let st = RootPath.stat(relative, in: root), (st.st_mode & S_IFMT) == S_IFDIR else {
            throw BuildError(.sourceNotFound, "ADD \(source): \(subdir.isEmpty ? "the repository" : subdir) is not a directory of the repository")
        }
        var ignore: DockerIgnore?
        if !keepGitDir {
            do { ignore = try DockerIgnore(relative.isEmpty ? ".git" : relative + "/.git") } catch {
                throw BuildError(.invalidArgument, "ADD \(source): \(error.description)")
            }
        }
        let tree = SourceTree(root: root, ignore: ignore, keepOwners: false, name: "repository \(source)")
        directories.append(destinationPath)
        try CopyPlan.walk(directory: RootPath.resolve(relative, in: root), relative: relative, to: destinationPath, tree: tree) {
            (_: String, target: String, st: stat, content: CopyItem.Content) throws(BuildError) in
            let own = UInt32(st.st_mode) & 0o7777
            let mode = chmod?.apply(to: own, isDirectory: (st.st_mode & S_IFMT) == S_IFDIR) ?? own
            items.append(CopyItem(destination: target, content: content, mode: mode, uid: owner?.uid ?? 0, gid: owner?.gid ?? 0,
                                  mtime: checkout.commitTime, mtimeNanoseconds: 0))
        }
    }
}

/// Runs a helper program (git) with posix_spawn: stdin /dev/null, stdout and stderr to a log.
enum Subprocess {
    static func run(_ argv: [String], environment: [String], logPath: String) throws -> (Int32, String) {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = environment.map { strdup($0) } + [nil]
        defer {
            cArgs.forEach { free($0) }
            cEnv.forEach { free($0) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &actions, nil, cArgs, cEnv)
        guard rc == 0 else { throw BuildError(.io, "cannot run \(argv[0]): \(String(cString: strerror(rc)))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let output = (try? BuildRun.readFile(logPath)).map { String(decoding: $0, as: UTF8.self) } ?? ""
        let code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return (code, output)
    }
}
