// ONBUILD triggers: the `OnBuild` entries of a stage's base — an image's config, or the
// ONBUILD instructions of the stage it is built `FROM` — run first in the stage, as if written
// right after its FROM line, and are not passed on to the result (as Docker does).

import KujiraImage
import KujiraDockerfile

extension BuildRun {
    /// `dockerfile` with every stage's inherited triggers inserted at the start of the stage.
    /// - Parameter bases: the store images of stages built on images, by base name.
    func insertingTriggers(_ dockerfile: Dockerfile, stages: [EvaluatedStage], bases: [String: ImageDetails]) throws -> Dockerfile {
        var result = dockerfile
        for stage in stages {
            let triggers: [String]
            if let baseIndex = stage.baseStage {
                triggers = dockerfile.stages[baseIndex].instructions.compactMap {
                    if case .onbuild(let trigger) = $0.instruction { return trigger.expression }
                    return nil
                }
            } else {
                triggers = bases[stage.base]?.configuration.config?.onBuild ?? []
            }
            guard !triggers.isEmpty else { continue }
            let from = dockerfile.stages[stage.index].location
            var inserted: [DockerfileInstruction] = []
            for trigger in triggers {
                inserted.append(try Self.parseTrigger(trigger, base: stage.base, at: from))
            }
            result.stages[stage.index].instructions.insert(contentsOf: inserted, at: 0)
        }
        return result
    }

    /// One trigger as an instruction located at the stage's FROM line.
    static func parseTrigger(_ text: String, base: String, at location: SourceLocation) throws -> DockerfileInstruction {
        let keyword = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).first.map { $0.uppercased() } ?? ""
        if ["FROM", "ONBUILD", "MAINTAINER"].contains(keyword) {
            throw BuildError(.dockerfile, "the ONBUILD trigger \"\(text)\" of \(base) is not allowed (\(keyword) cannot be a trigger)",
                             file: location.file, line: location.line)
        }
        let parsed: Dockerfile
        do {
            parsed = try DockerfileParser.parse("FROM scratch\n" + text + "\n", fileName: location.file)
        } catch {
            throw BuildError(.dockerfile, "the ONBUILD trigger \"\(text)\" of \(base) does not parse: \(error.description)",
                             file: location.file, line: location.line, cause: error)
        }
        guard parsed.stages.count == 1, parsed.stages[0].instructions.count == 1, var instruction = parsed.stages[0].instructions.first else {
            throw BuildError(.dockerfile, "the ONBUILD trigger \"\(text)\" of \(base) is not one instruction",
                             file: location.file, line: location.line)
        }
        instruction.location = location
        instruction.endLine = location.line
        return instruction
    }
}
