import Kujira
import KujiraOCI

/// `kujira import --change`: the Dockerfile instructions that `docker import -c` accepts,
/// applied to an image config by the library (``ImageConfigChange``, which `commit --change`
/// uses too).
enum ImportChange {
    static func apply(_ changes: [String], to start: ImageConfig) throws -> ImageConfig {
        do {
            return try ImageConfigChange.apply(changes, to: start)
        } catch let error as EngineError {
            throw CLIError(error.message)
        }
    }
}
