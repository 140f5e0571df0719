// The stage graph: which stages a stage depends on (`FROM <stage>`, `COPY --from=<stage>`,
// `RUN --mount=from=<stage>`) and which stages a build target needs.

/// Why one stage depends on another.
public struct StageDependency: Sendable, Hashable, Codable {
    /// How the dependency is written.
    public enum Kind: String, Sendable, Hashable, Codable {
        /// `FROM <stage>`.
        case base
        /// `COPY --from=<stage>` (or `ADD`).
        case copyFrom
        /// `RUN --mount=from=<stage>`.
        case mountFrom
    }

    /// The stage depended on.
    public var stage: Int
    /// How.
    public var kind: Kind
    /// Where.
    public var location: SourceLocation
}

/// Dependencies between the stages of a Dockerfile.
public struct StageGraph: Sendable, Hashable {
    /// For each stage, the stages it depends on, in file order.
    public var dependencies: [[StageDependency]]
    /// Images (and named contexts) the build refers to that are not stages: `FROM` bases and
    /// `--from` values, as written (before expansion).
    public var externalReferences: [String]

    /// Builds the graph of `dockerfile`.
    public init(_ dockerfile: Dockerfile) {
        var deps: [[StageDependency]] = []
        var external: [String] = []
        let stages = dockerfile.stages
        func lookup(_ ref: String, before index: Int?) -> Int? {
            let lower = ref.lowercased()
            if let i = stages.firstIndex(where: { $0.name == lower }) {
                if let index, i >= index { return nil }
                return i
            }
            if let i = Int(ref), i >= 0, i < stages.count, String(i) == ref { return i }
            return nil
        }
        for stage in stages {
            var d: [StageDependency] = []
            if let i = lookup(stage.from.image, before: stage.index) {
                d.append(StageDependency(stage: i, kind: .base, location: stage.location))
            } else if stage.from.image.lowercased() != "scratch" {
                external.append(stage.from.image)
            }
            // Only COPY, ADD and RUN can name another stage; look at the payload of those alone.
            stage.instructions.withUnsafeBufferPointer { buffer in
                guard let instructions = buffer.baseAddress else { return }
                for i in buffer.indices {
                    switch instructions[i].instruction {
                    case .copy, .add:
                        guard case .copy(let c) = instructions[i].instruction, let from = c.from else {
                            if case .add(let c) = instructions[i].instruction, let from = c.from {
                                if let s = lookup(from, before: nil) {
                                    d.append(StageDependency(stage: s, kind: .copyFrom, location: instructions[i].location))
                                } else {
                                    external.append(from)
                                }
                            }
                            continue
                        }
                        if let s = lookup(from, before: nil) {
                            d.append(StageDependency(stage: s, kind: .copyFrom, location: instructions[i].location))
                        } else {
                            external.append(from)
                        }
                    case .run:
                        guard case .run(let r) = instructions[i].instruction, !r.mounts.isEmpty else { continue }
                        for m in r.mounts {
                            guard let from = m.from else { continue }
                            if let s = lookup(from, before: nil) {
                                d.append(StageDependency(stage: s, kind: .mountFrom, location: instructions[i].location))
                            } else {
                                external.append(from)
                            }
                        }
                    default:
                        continue
                    }
                }
            }
            deps.append(d)
        }
        dependencies = deps
        externalReferences = external
    }

    /// The stage index a target names (a stage name or index); the last stage for nil.
    public static func targetIndex(_ target: String?, in dockerfile: Dockerfile) -> Int? {
        guard let target else { return dockerfile.stages.isEmpty ? nil : dockerfile.stages.count - 1 }
        return dockerfile.stage(named: target)?.index
    }

    /// The stages needed to build stage `target`, in build order (dependencies first).
    public func stagesNeeded(for target: Int) -> [Int] {
        var seen = Set<Int>()
        var order: [Int] = []
        var stack: [(Int, Bool)] = [(target, false)]
        while let (s, expanded) = stack.popLast() {
            if expanded { order.append(s); continue }
            if seen.contains(s) { continue }
            seen.insert(s)
            stack.append((s, true))
            for d in dependencies[s].reversed() where !seen.contains(d.stage) { stack.append((d.stage, false)) }
        }
        return order
    }

    /// Stages that lie on a dependency cycle or depend on one (Kahn's algorithm, iterative so
    /// that hostile files with many stages cannot exhaust the stack).
    func stagesBlockedByCycles() -> Set<Int> {
        let n = dependencies.count
        var remaining = [Int](repeating: 0, count: n)
        var dependents = [[Int]](repeating: [], count: n)
        for (s, deps) in dependencies.enumerated() {
            for d in Set(deps.map(\.stage)) {
                remaining[s] += 1
                dependents[d].append(s)
            }
        }
        var ready = (0..<n).filter { remaining[$0] == 0 }
        var resolved = Set<Int>()
        while let s = ready.popLast() {
            resolved.insert(s)
            for t in dependents[s] {
                remaining[t] -= 1
                if remaining[t] == 0 { ready.append(t) }
            }
        }
        return Set(0..<n).subtracting(resolved)
    }

    /// Errors BuildKit reports about stages: duplicate names and circular dependencies.
    static func validate(_ dockerfile: Dockerfile, into sink: inout DiagnosticSink) {
        var names: [String: Int] = [:]
        for stage in dockerfile.stages {
            guard let name = stage.name else { continue }
            if names[name] != nil {
                sink.error("stage", "duplicate stage name \(GoText.quote(name))", line: stage.location.line, column: stage.location.column)
            } else {
                names[name] = stage.index
            }
        }
        let graph = StageGraph(dockerfile)
        let blocked = graph.stagesBlockedByCycles()
        // Report the first stage whose own dependency closes a cycle.
        for stage in dockerfile.stages where blocked.contains(stage.index) {
            guard let dep = graph.dependencies[stage.index].first(where: { blocked.contains($0.stage) && $0.stage >= stage.index }) else {
                continue
            }
            let label = stage.name ?? String(stage.index)
            sink.error("stage", "circular dependency detected on stage: \(label)", line: dep.location.line, column: dep.location.column)
            break
        }
    }
}
