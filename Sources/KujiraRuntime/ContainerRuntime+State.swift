// `state` and `list`: what the runtime knows about containers.
//
//     let state = try runtime.state(id: "web")    // RuncState: status, pid, bundle, …
//     for container in try runtime.list() { print(container.id, container.status) }

public import KujiraOCI

extension ContainerRuntime {
    /// The state of container `id`, as `runc state` prints it; throws "does not exist".
    public func state(id: String) throws -> RuncState {
        runcState(of: try directory.load(id))
    }

    /// The states of all containers under ``root``, sorted by id.
    public func list() throws -> [RuncState] {
        try directory.ids().compactMap { id in
            guard var state = try? runcState(of: directory.load(id)) else { return nil }
            // As runc's list: the owner of the container's state directory (+Rootless.swift).
            if state.owner.isEmpty { state.owner = Self.ownerName(of: directory.directory(id)) }
            return state
        }
    }
}
