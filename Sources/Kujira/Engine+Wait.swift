// `wait`: block until a container exits and return its exit code.
//
//     let code = try engine.wait("web")

extension Engine {
    /// Waits until container `nameOrID` is not running (or is removed) and returns its exit
    /// code. A container that was never started returns at once.
    public func wait(_ nameOrID: String) throws -> Int32 {
        let record = try container(nameOrID)
        // Woken by the monitor's write of the exit; the timeout finds a monitor that died.
        let watch = RecordWatch(directory: directory(record.id))
        var last = record
        while true {
            guard let current = load(record.id) else { return last.state.exitCode }
            last = try reconcile(current)
            if !last.state.isActive { return last.state.exitCode }
            watch.wait(milliseconds: 100)
        }
    }
}
