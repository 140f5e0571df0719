import ArgumentParser
import KujiraArchive
import KujiraGPU
import KujiraImage
import KujiraOCI
import KujiraRegistry
import Foundation

/// `kujira`: a docker-like command line over the Kujira library. Every command is thin
/// argument parsing over library calls; the work happens in the modules.
@main
struct KujiraCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kujira",
        abstract: "A container engine for Linux, as a library with a docker-like CLI.",
        subcommands: [
            Images.self, ImageGroup.self, Pull.self, Push.self, Tag.self, Rmi.self,
            Save.self, Load.self, Import.self, Login.self, Logout.self, CDI.self, Build.self, DockerfileGroup.self,
            ContainerRun.self, ContainerCreate.self, ContainerStart.self, ContainerStop.self, ContainerKill.self,
            ContainerRestart.self, ContainerRemove.self, ContainerList.self, ContainerLogs.self, ContainerExec.self,
            ContainerWait.self, ContainerInspect.self, ContainerPause.self, ContainerUnpause.self, MonitorCommand.self,
            VolumeGroup.self,
            ContainerCommit.self, ContainerCopy.self, ContainerExport.self, ContainerDiff.self, ContainerTopCommand.self,
            ContainerStatsCommand.self, ContainerRename.self, EventsCommand.self, SystemGroup.self, InfoCommand.self, VersionCommand.self,
            ContainerAttach.self,
            NetworkGroup.self,
        ]
    )

    @OptionGroup var globals: GlobalOptions

    static func main() async {
        // The per-container monitor skips ArgumentParser (MonitorFastPath).
        if let monitor = MonitorFastPath(CommandLine.arguments) { Foundation.exit(monitor.run()) }
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as CLIError {
            FileHandle.standardError.write(Data("kujira: \(error.message)\n".utf8))
            Foundation.exit(error.exitCode)
        } catch {
            if isLibraryError(error) {
                FileHandle.standardError.write(Data("kujira: \(error)\n".utf8))
                Foundation.exit(1)
            }
            exit(withError: error)
        }
    }
}

/// A command-line error: one line on stderr and a non-zero exit.
struct CLIError: Error, CustomStringConvertible {
    var message: String
    var exitCode: Int32 = 1
    init(_ message: String, exitCode: Int32 = 1) {
        self.message = message
        self.exitCode = exitCode
    }
    var description: String { message }
}

/// Errors of the Kujira modules: their descriptions are complete one-line messages, shown
/// as `kujira: <message>` rather than through ArgumentParser's usage output.
func isLibraryError(_ error: any Error) -> Bool {
    error is OCIError || error is ImageStoreError || error is ArchiveError || error is LayerError
        || error is RegistryError || error is GPUError
}
