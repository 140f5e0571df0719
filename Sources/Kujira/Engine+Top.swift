// `top`: the processes of a running container (every process of its cgroup), as a
// `ps -ef`-like table — or, given ps options, the host's `ps` output filtered to those
// processes, as Docker's `docker top CONTAINER [ps OPTIONS]` does.
//
//     let top = try engine.top("web")
//     print(top.titles)        // ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]

import KujiraRuntime
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The process table of a container (Docker's `ContainerTopOKBody`).
public struct ContainerTop: Codable, Sendable, Hashable {
    /// The column titles.
    public var titles: [String]
    /// One row per process, one string per column.
    public var processes: [[String]]

    /// Creates a table.
    public init(titles: [String], processes: [[String]]) {
        self.titles = titles
        self.processes = processes
    }
    private enum CodingKeys: String, CodingKey { case titles = "Titles", processes = "Processes" }
}

extension Engine {
    /// The processes of running container `nameOrID`. Without `psArguments`, a table with
    /// Docker's default columns (`UID PID PPID C STIME TTY TIME CMD`) read from `/proc`;
    /// with them, the host's `ps` run with those arguments, keeping the header and the rows
    /// whose `PID` column names a process of the container.
    /// - Throws: ``EngineError`` `.invalidState` when the container is not running,
    ///   `.invalidArgument` when `ps` fails or prints no PID column.
    public func top(_ nameOrID: String, psArguments: [String] = []) throws -> ContainerTop {
        let record = try container(nameOrID)
        guard record.state.status == .running || record.state.status == .paused else {
            throw EngineError(.invalidState, "container \(record.name) is not running")
        }
        let pids = try containerPIDs(record)
        if !psArguments.isEmpty { return try hostPS(psArguments, pids: Set(pids), record: record) }
        let users = Self.hostUserNames()
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let boot = Self.bootTime()
        let now = Date().timeIntervalSince1970
        var rows: [[String]] = []
        for pid in pids.sorted() {
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ").map(String.init)
            guard fields.count > 19 else { continue }
            let ppid = fields[1]
            let ttyNumber = Int(fields[4]) ?? 0
            let cpuTicks = (Double(fields[11]) ?? 0) + (Double(fields[12]) ?? 0)
            let started = boot + (Double(fields[19]) ?? 0) / ticks
            let elapsed = max(now - started, 1)
            let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
            let uidLine = status.split(separator: "\n").first { $0.hasPrefix("Uid:") }
            let uid = uidLine?.split(whereSeparator: { $0 == "\t" || $0 == " " }).dropFirst().first.map(String.init) ?? "?"
            let comm = stat[stat.index(after: stat.firstIndex(of: "(") ?? stat.startIndex)..<close]
            var command = SystemSupport.readWhole("/proc/\(pid)/cmdline").map { data in
                data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }.joined(separator: " ")
            } ?? ""
            if command.isEmpty { command = "[\(comm)]" }
            rows.append([users[uid] ?? uid, String(pid), ppid, String(Int(cpuTicks / ticks / elapsed * 100)),
                         Self.startTime(started, now: now), Self.ttyName(ttyNumber), Self.cpuTime(cpuTicks / ticks), command])
        }
        return ContainerTop(titles: ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"], processes: rows)
    }

    /// The pids of every process in the container's cgroup.
    func containerPIDs(_ record: ContainerRecord) throws -> [Int32] {
        do {
            let cgroup = try CgroupManagerFactory.make(cgroupsPath: Engine.cgroupsPath(record), containerID: record.id)
            return try cgroup.pids()
        } catch {
            throw EngineError(.invalidState, "cannot list the processes of container \(record.name)", cause: error)
        }
    }

    private func hostPS(_ arguments: [String], pids: Set<Int32>, record: ContainerRecord) throws -> ContainerTop {
        let candidates = ["/usr/bin/ps", "/bin/ps"]
        guard let ps = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw EngineError(.unsupported, "top with ps options needs the host's ps (install procps); run top without options")
        }
        let process = Foundation.Process()
        process.executableURL = URL(fileURLWithPath: ps)
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch {
            throw EngineError(.invalidArgument, "cannot run ps \(arguments.joined(separator: " "))", cause: error)
        }
        let output = out.fileHandleForReading.readDataToEndOfFile()
        let errors = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw EngineError(.invalidArgument, "ps \(arguments.joined(separator: " ")) failed: \(String(decoding: errors, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        let lines = String(decoding: output, as: UTF8.self).split(separator: "\n").map(String.init)
        guard let header = lines.first else { return ContainerTop(titles: [], processes: []) }
        let titles = header.split(separator: " ").map(String.init)
        guard let pidColumn = titles.firstIndex(of: "PID") else {
            throw EngineError(.invalidArgument, "ps \(arguments.joined(separator: " ")) printed no PID column; add one (e.g. -o pid,comm)")
        }
        var rows: [[String]] = []
        for line in lines.dropFirst() {
            // The last column may hold spaces (a command line): split into at most titles.count fields.
            let fields = line.split(separator: " ", maxSplits: titles.count - 1).map(String.init)
            guard fields.count > pidColumn, let pid = Int32(fields[pidColumn]), pids.contains(pid) else { continue }
            rows.append(fields)
        }
        return ContainerTop(titles: titles, processes: rows)
    }

    /// uid (decimal text) → name, from the host's /etc/passwd.
    static func hostUserNames() -> [String: String] {
        var names: [String: String] = [:]
        let text = (try? String(contentsOfFile: "/etc/passwd", encoding: .utf8)) ?? ""
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: ":", omittingEmptySubsequences: false)
            if fields.count > 2, names[String(fields[2])] == nil { names[String(fields[2])] = String(fields[0]) }
        }
        return names
    }

    /// The boot time, seconds since the epoch (`btime` of /proc/stat).
    static func bootTime() -> Double {
        let text = (try? String(contentsOfFile: "/proc/stat", encoding: .utf8)) ?? ""
        let line = text.split(separator: "\n").first { $0.hasPrefix("btime ") }
        return line.flatMap { Double($0.dropFirst(6).trimmingCharacters(in: .whitespaces)) } ?? 0
    }

    /// `HH:MM` for today, `MonDD` before, as ps prints STIME.
    static func startTime(_ seconds: Double, now: Double) -> String {
        var time = time_t(seconds), today = time_t(now)
        var parts = tm(), current = tm()
        localtime_r(&time, &parts)
        localtime_r(&today, &current)
        func pad(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        if parts.tm_yday == current.tm_yday && parts.tm_year == current.tm_year {
            return "\(pad(parts.tm_hour)):\(pad(parts.tm_min))"
        }
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        return "\(months[Int(parts.tm_mon) % 12])\(pad(parts.tm_mday))"
    }

    /// `HH:MM:SS` of CPU time.
    static func cpuTime(_ seconds: Double) -> String {
        let total = Int(seconds)
        func pad(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(pad(total / 3600)):\(pad(total / 60 % 60)):\(pad(total % 60))"
    }

    /// `pts/N`, `ttyN` or `?` for a `tty_nr`.
    static func ttyName(_ number: Int) -> String {
        guard number != 0 else { return "?" }
        let major = (number >> 8) & 0xfff, minor = (number & 0xff) | ((number >> 12) & 0xfff00)
        if (136...143).contains(major) { return "pts/\((major - 136) * 256 + minor)" }
        if major == 4 { return "tty\(minor)" }
        return "?"
    }
}
