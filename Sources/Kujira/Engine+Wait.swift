// `wait`: block until a container exits and return its exit code.
//
//     let code = try engine.wait("web")
//     let code = try engine.wait("web", condition: .nextExit)

/// What ``Engine/wait(_:condition:)`` waits for (Docker's `condition` of the wait API).
public enum WaitCondition: String, Sendable, CaseIterable {
    /// Until the container is not running (at once if it is not now): Docker's default.
    case notRunning = "not-running"
    /// Until the container's next exit after the call, even if it is not running now.
    case nextExit = "next-exit"
    /// Until the container is removed.
    case removed

    /// Parses `not-running`, `next-exit` or `removed`.
    /// - Throws: ``EngineError`` `.invalidArgument` for anything else.
    public static func parse(_ text: String) throws -> WaitCondition {
        guard let condition = WaitCondition(rawValue: text) else {
            throw EngineError(.invalidArgument, "invalid condition \"\(text)\": use not-running, next-exit or removed")
        }
        return condition
    }
}

extension Engine {
    /// Waits until container `nameOrID` is not running (or is removed) and returns its exit
    /// code. A container that was never started returns at once.
    public func wait(_ nameOrID: String) throws -> Int32 {
        try wait(nameOrID, condition: .notRunning)
    }

    /// Waits for `condition` on container `nameOrID` and returns its last exit code: for
    /// `.notRunning` as ``wait(_:)``; for `.nextExit` the code of the first exit after the
    /// call (a restart by the policy counts as an exit); for `.removed` the code it had
    /// when it was removed.
    public func wait(_ nameOrID: String, condition: WaitCondition) throws -> Int32 {
        try wait(from: try container(nameOrID), condition: condition)
    }

    /// ``wait(_:condition:)`` counting from `record`, the container as the caller read it.
    func wait(from record: ContainerRecord, condition: WaitCondition) throws -> Int32 {
        let startFinishedAt = record.state.finishedAt
        let startRestarts = record.restartCount
        // Woken by the monitor's write of the exit; the timeout finds a monitor that died.
        let watch = RecordWatch(directory: directory(record.id))
        var last = record
        while true {
            guard let current = load(record.id) else { return exitCodeOfRemoved(last) }
            last = try reconcile(current)
            switch condition {
            case .notRunning:
                if !last.state.isActive { return last.state.exitCode }
            case .nextExit:
                if last.state.finishedAt != startFinishedAt && (!last.state.isActive || last.restartCount != startRestarts) {
                    return last.state.exitCode
                }
            case .removed:
                break
            }
            watch.wait(milliseconds: 100)
        }
    }

    /// The exit code of removed container `last`: its `die` event's if it exited after this
    /// waiter last read its record (a `--rm` container removed by its monitor), else the
    /// record's.
    private func exitCodeOfRemoved(_ last: ContainerRecord) -> Int32 {
        guard last.state.isActive, let filters = try? EventFilters.parse(["container=\(last.id)", "event=die"]) else {
            return last.state.exitCode
        }
        let since = SystemSupport.date(last.state.startedAt)
        let die = eventLog.read(since: since, filters: filters).last
        return die?.actor.attributes["exitCode"].flatMap { Int32($0) } ?? last.state.exitCode
    }
}
