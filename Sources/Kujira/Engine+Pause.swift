// `pause` and `unpause`: freeze and thaw every process of a container (cgroup freezer).
//
//     try engine.pause("web"); try engine.unpause("web")

extension Engine {
    /// Freezes the processes of running container `nameOrID`.
    public func pause(_ nameOrID: String) throws {
        let record = try container(nameOrID)
        guard record.state.status == .running else { throw EngineError(.invalidState, "container \(record.name) is not running") }
        do { try runtime.pause(id: record.id) } catch { throw EngineError(.invalidState, "cannot pause container \(record.name)", cause: error) }
        try update(record.id) { if $0.state.status == .running { $0.state.status = .paused } }
        emit("pause", record)
    }

    /// Thaws paused container `nameOrID`.
    public func unpause(_ nameOrID: String) throws {
        let record = try container(nameOrID)
        guard record.state.status == .paused else { throw EngineError(.invalidState, "container \(record.name) is not paused") }
        do { try runtime.resume(id: record.id) } catch { throw EngineError(.invalidState, "cannot unpause container \(record.name)", cause: error) }
        try update(record.id) { if $0.state.status == .paused { $0.state.status = .running } }
        emit("unpause", record)
    }
}
