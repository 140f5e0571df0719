// `rename`: give a container a new name, unique among the containers of the root.
//
//     try engine.rename("web", to: "frontend")
//
// The check and the write happen under the records lock that `create` takes, so two
// concurrent renames (or a rename and a create) can never end with one name used twice.

extension Engine {
    /// Renames container `nameOrID` to `newName`.
    /// - Throws: ``EngineError`` `.invalidArgument` for a malformed name, `.conflict` when
    ///   another container has it, `.notFound`.
    @discardableResult
    public func rename(_ nameOrID: String, to newName: String) throws -> ContainerRecord {
        let wanted = newName.hasPrefix("/") ? String(newName.dropFirst()) : newName
        guard NameGenerator.isValid(wanted) else {
            throw EngineError(.invalidArgument, "invalid container name \"\(newName)\": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
        }
        let record = try container(nameOrID)
        let oldName = record.name
        if oldName == wanted {
            throw EngineError(.invalidArgument, "renaming container \(oldName): the new name is the same as the old one")
        }
        let renamed = try lock.withLock {
            guard var current = load(record.id) else { throw EngineError(.notFound, "no such container: \(nameOrID)") }
            if allIDs().contains(where: { $0 != record.id && load($0)?.name == wanted }) {
                throw EngineError(.conflict, "the container name \"\(wanted)\" is already in use; remove that container or choose another name")
            }
            current.name = wanted
            try save(current)
            return current
        }
        emit("rename", renamed, ["oldName": "/" + oldName])
        return renamed
    }
}
