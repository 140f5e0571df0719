import Foundation
import Testing
import KujiraOCI
@testable import Kujira
@testable import KujiraDaemon

/// `POST /containers/create` fields mapped onto the engine's options, as the docker CLI
/// sends them for `docker run` flags.
@Suite("kujirad maps docker run's create fields")
struct ContainerCreateMappingTests {
    static func options(config: [String: Any] = [:], host: [String: Any] = [:]) throws -> ContainerOptions {
        var body: [String: Any] = ["Image": "busybox", "Cmd": ["true"]]
        for (key, value) in config { body[key] = value }
        body["HostConfig"] = host
        return try ContainerCreateRequest.options(body: body, name: nil)
    }

    /// The 400 a field is refused with.
    static func refusal(config: [String: Any] = [:], host: [String: Any] = [:]) -> String? {
        do {
            _ = try options(config: config, host: host)
            return nil
        } catch let error as APIError {
            return error.status == 400 ? error.message : "status \(error.status): \(error.message)"
        } catch {
            return "\(error)"
        }
    }

    @Test func healthcheckIsMappedAndMergedWithTheImage() throws {
        // docker run --health-cmd 'true' --health-interval 2s --health-retries 4
        let check: [String: Any] = ["Test": ["CMD-SHELL", "true"], "Interval": 2_000_000_000, "Timeout": 0, "StartPeriod": 0,
                                    "StartInterval": 0, "Retries": 4]
        let options = try Self.options(config: ["Healthcheck": check])
        #expect(options.healthcheck == Healthcheck(test: ["CMD-SHELL", "true"], interval: 2_000_000_000, timeout: 0, startPeriod: 0,
                                                   startInterval: 0, retries: 4))
        let image = Healthcheck(test: ["CMD", "/bin/check"], interval: 5_000_000_000, timeout: 1_000_000_000, retries: 2)
        let merged = try #require(try Healthcheck.merged(image: image, options: options))
        #expect(merged.test == ["CMD-SHELL", "true"] && merged.interval == 2_000_000_000 && merged.timeout == 1_000_000_000 && merged.retries == 4)
        // Only an interval: the image's test stays.
        let intervalOnly = try Self.options(config: ["Healthcheck": ["Interval": 3_000_000_000]])
        #expect(try Healthcheck.merged(image: image, options: intervalOnly)?.test == ["CMD", "/bin/check"])
        #expect(try Healthcheck.merged(image: image, options: intervalOnly)?.interval == 3_000_000_000)
        // docker run --no-healthcheck
        let none = try Self.options(config: ["Healthcheck": ["Test": ["NONE"]]])
        #expect(try Healthcheck.merged(image: image, options: none) == Healthcheck(test: ["NONE"]))
        // An empty check is the default: nothing set.
        #expect(try Self.options(config: ["Healthcheck": ["Test": NSNull(), "Interval": 0]]).healthcheck == nil)
    }

    @Test func badHealthchecksAreRefused() throws {
        for check: [String: Any] in [["Test": ["SOMETIMES", "x"]], ["Test": ["CMD-SHELL"]], ["Test": ["CMD", "x"], "Interval": 5],
                                     ["Test": ["CMD", "x"], "Retries": -1]] {
            let options = try Self.options(config: ["Healthcheck": check])
            #expect(throws: EngineError.self) { _ = try Healthcheck.merged(image: nil, options: options) }
        }
        #expect(Self.refusal(config: ["Healthcheck": "true"])?.contains("Config.Healthcheck must be an object") == true)
        #expect(Self.refusal(config: ["Healthcheck": ["Test": ["CMD", "x"], "Bogus": 1]])?.contains("Config.Healthcheck.Bogus") == true)
        var both = ContainerOptions(image: "busybox")
        both.healthcheck = Healthcheck(test: ["CMD", "x"])
        both.healthRetries = 2
        #expect(throws: EngineError.self) { _ = try Healthcheck.merged(image: nil, options: both) }
    }

    @Test func kernelSettingsAndNamespaceModes() throws {
        // What docker run --shm-size 32m --sysctl … --group-add … --pid host … sends.
        let options = try Self.options(config: ["Domainname": "example.test"], host: [
            "ShmSize": 33_554_432, "Sysctls": ["net.ipv4.ip_forward": "1", "kernel.shmmax": "1000"], "GroupAdd": ["audio", "1234"],
            "OomScoreAdj": 300, "OomKillDisable": true, "MemoryReservation": 16_777_216, "CpuQuota": 50_000, "CpuPeriod": 100_000,
            "CpusetCpus": "0-1", "CpusetMems": "0", "BlkioWeight": 300, "CgroupParent": "/parent", "PidMode": "host",
            "IpcMode": "container:web", "UTSMode": "host", "CgroupnsMode": "private",
        ])
        #expect(options.domainname == "example.test")
        #expect(options.shmSize == "33554432")
        #expect(options.sysctls == ["kernel.shmmax=1000", "net.ipv4.ip_forward=1"])
        #expect(options.groupAdd == ["audio", "1234"])
        #expect(options.oomScoreAdj == 300 && options.oomKillDisable)
        #expect(options.memoryReservation == "16777216")
        #expect(options.cpuQuota == 50_000 && options.cpuPeriod == 100_000)
        #expect(options.cpusetCpus == "0-1" && options.cpusetMems == "0")
        #expect(options.blkioWeight == 300 && options.cgroupParent == "/parent")
        #expect(options.pid == "host" && options.ipc == "container:web" && options.uts == "host" && options.cgroupns == "private")

        // The defaults the docker CLI sends leave everything unset.
        let defaults = try Self.options(config: ["Domainname": ""], host: [
            "ShmSize": 0, "Sysctls": NSNull(), "GroupAdd": NSNull(), "OomScoreAdj": 0, "OomKillDisable": false, "MemoryReservation": 0,
            "CpuQuota": 0, "CpuPeriod": 0, "CpusetCpus": "", "CpusetMems": "", "BlkioWeight": 0, "CgroupParent": "", "PidMode": "",
            "IpcMode": "", "UTSMode": "", "CgroupnsMode": "", "UsernsMode": "", "Cgroup": "",
        ])
        #expect(defaults.shmSize == nil && defaults.sysctls.isEmpty && defaults.groupAdd.isEmpty && defaults.oomScoreAdj == nil)
        #expect(!defaults.oomKillDisable && defaults.memoryReservation == nil && defaults.cpuQuota == nil && defaults.cpusetCpus == nil)
        #expect(defaults.pid == nil && defaults.ipc == nil && defaults.uts == nil && defaults.cgroupns == nil && defaults.domainname == nil)

        #expect(Self.refusal(host: ["Sysctls": ["net.ipv4.ip_forward": 1]])?.contains("Sysctls values must be strings") == true)
        #expect(Self.refusal(host: ["ShmSize": -1])?.contains("ShmSize cannot be negative") == true)
        #expect(Self.refusal(host: ["PidMode": 3])?.contains("HostConfig.PidMode must be a string") == true)
        #expect(Self.refusal(host: ["UsernsMode": "host"])?.contains("HostConfig.UsernsMode") == true)
    }

    @Test func initAndLogConfig() throws {
        let options = try Self.options(host: ["Init": true, "LogConfig": ["Type": "json-file", "Config": ["max-size": "10m", "max-file": "3"]]])
        #expect(options.initProcess)
        #expect(options.logDriver == "json-file")
        #expect(options.logOpts == ["max-file=3", "max-size=10m"])
        let config = try LogConfig.parse(driver: options.logDriver, options: options.logOpts)
        #expect(config.config == ["max-size": "10m", "max-file": "3"])
        #expect(try Self.options(host: ["Init": NSNull()]).initProcess == false)
        #expect(try Self.options(host: ["LogConfig": ["Type": "none", "Config": [String: String]()]]).logDriver == "none")
        #expect(Self.refusal(host: ["LogConfig": ["Type": "syslog"]])?.contains("HostConfig.LogConfig.Type syslog") == true)
        #expect(Self.refusal(host: ["LogConfig": ["Type": "json-file", "Config": ["max-size": 10]]])?.contains("must be strings") == true)
        // The engine refuses an option the json-file driver lacks, naming it.
        let bad = try Self.options(host: ["LogConfig": ["Type": "json-file", "Config": ["mode": "non-blocking"]]])
        #expect(throws: EngineError.self) { _ = try LogConfig.parse(driver: bad.logDriver, options: bad.logOpts) }
    }
}
