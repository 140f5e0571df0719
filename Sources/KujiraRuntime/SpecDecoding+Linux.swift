import KujiraOCI

// `Spec(json:)` for the Linux-specific part of the runtime spec: `linux` (config-linux.md)
// and `linux.resources` ("Control groups"). The reader and the rules are in
// SpecDecoding.swift.

// MARK: - config-linux.md

extension Linux {
    init(json node: JSONNode, path: String) throws {
        let o = try JSONObjectReader(node, path: path)
        let namespaces = try o.optionalArray("namespaces") { try LinuxNamespace(json: $0, path: $1) }
        let uidMappings = try o.optionalArray("uidMappings") { try LinuxIDMapping(json: $0, path: $1) }
        let gidMappings = try o.optionalArray("gidMappings") { try LinuxIDMapping(json: $0, path: $1) }
        let timeOffsets = try o.optionalDictionary("timeOffsets") { try LinuxTimeOffset(json: $0, path: $1) }
        let devices = try o.optionalArray("devices") { try LinuxDevice(json: $0, path: $1) }
        let cgroupsPath = try o.optionalString("cgroupsPath")
        let resources = try o.optionalObject("resources") { try LinuxResources(json: $0, path: $1) }
        let rootfsPropagation = try o.optionalString("rootfsPropagation")
        let seccomp = try o.optionalObject("seccomp") { try LinuxSeccomp(json: $0, path: $1) }
        let sysctl = try o.optionalStringDictionary("sysctl")
        let maskedPaths = try o.optionalStrings("maskedPaths")
        let readonlyPaths = try o.optionalStrings("readonlyPaths")
        let mountLabel = try o.optionalString("mountLabel")
        let intelRdt = try o.optionalObject("intelRdt") { try LinuxIntelRdt(json: $0, path: $1) }
        let personality = try o.optionalObject("personality") { try LinuxPersonality(json: $0, path: $1) }
        let netDevices = try o.optionalDictionary("netDevices") { try LinuxNetDevice(json: $0, path: $1) }
        self.init(
            namespaces: namespaces, uidMappings: uidMappings, gidMappings: gidMappings, timeOffsets: timeOffsets,
            devices: devices, cgroupsPath: cgroupsPath, resources: resources, rootfsPropagation: rootfsPropagation,
            seccomp: seccomp, sysctl: sysctl, maskedPaths: maskedPaths, readonlyPaths: readonlyPaths,
            mountLabel: mountLabel, intelRdt: intelRdt, personality: personality, netDevices: netDevices)
    }
}

extension LinuxNetDevice {
    init(json node: JSONNode, path: String) throws {
        let o = try JSONObjectReader(node, path: path)
        self.init(name: try o.optionalString("name"))
    }
}

extension LinuxNamespace {
    init(json node: JSONNode, path: String) throws {
        let o = try JSONObjectReader(node, path: path)
        // LinuxNamespaceType's own init(from:) reads a single string.
        let type = LinuxNamespaceType(rawValue: try o.string("type"))
        let nsPath = try o.optionalString("path")
        self.init(type: type, path: nsPath)
    }
}

extension LinuxIDMapping {
    init(json node: JSONNode, path: String) throws {
        let o = try JSONObjectReader(node, path: path)
        let containerID = try o.integer("containerID", as: UInt32.self)
        let hostID = try o.integer("hostID", as: UInt32.self)
        let size = try o.integer("size", as: UInt32.self)
        self.init(containerID: containerID, hostID: hostID, size: size)
    }
}

extension LinuxTimeOffset {
    init(json node: JSONNode, path: String) throws {
        let o = try JSONObjectReader(node, path: path)
        let secs = try o.optionalInteger("secs", as: Int64.self)
        let nanosecs = try o.optionalInteger("nanosecs", as: UInt32.self)
        self.init(secs: secs, nanosecs: nanosecs)
    }
}

extension LinuxDevice {
    init(json node: JSONNode, path: String) throws {
        let o = try JSONObjectReader(node, path: path)
        let devicePath = try o.string("path")
        let type = try o.string("type")
        let major = try o.optionalInteger("major", as: Int64.self)
        let minor = try o.optionalInteger("minor", as: Int64.self)
        let fileMode = try o.optionalInteger("fileMode", as: UInt32.self)
        let uid = try o.optionalInteger("uid", as: UInt32.self)
        let gid = try o.optionalInteger("gid", as: UInt32.self)
        self.init(path: devicePath, type: type, major: major, minor: minor, fileMode: fileMode, uid: uid, gid: gid)
    }
}

extension LinuxSeccomp {
    init(json node: JSONNode, path: String) throws {
        let o = try JSONObjectReader(node, path: path)
        let defaultAction = try o.string("defaultAction")
        let defaultErrnoRet = try o.optionalInteger("defaultErrnoRet", as: UInt32.self)
        let architectures = try o.optionalStrings("architectures")
        let flags = try o.optionalStrings("flags")
        let listenerPath = try o.optionalString("listenerPath")
        let listenerMetadata = try o.optionalString("listenerMetadata")
        let syscalls = try o.optionalArray("syscalls") { try LinuxSyscall(json: $0, path: $1) }
        self.init(
            defaultAction: defaultAction, defaultErrnoRet: defaultErrnoRet, architectures: architectures,
            flags: flags, listenerPath: listenerPath, listenerMetadata: listenerMetadata, syscalls: syscalls)
    }
}

extension LinuxSyscall {
    init(json node: JSONNode, path: String) throws {
        let o = try JSONObjectReader(node, path: path)
        let names = try o.strings("names")
        let action = try o.string("action")
        let errnoRet = try o.optionalInteger("errnoRet", as: UInt32.self)
        let args = try o.optionalArray("args") { try LinuxSeccompArg(json: $0, path: $1) }
        self.init(names: names, action: action, errnoRet: errnoRet, args: args)
    }
}

extension LinuxSeccompArg {
    init(json node: JSONNode, path: String) throws {
        let o = try JSONObjectReader(node, path: path)
        let index = try o.integer("index", as: UInt.self)
        let value = try o.integer("value", as: UInt64.self)
        let valueTwo = try o.optionalInteger("valueTwo", as: UInt64.self)
        let op = try o.string("op")
        self.init(index: index, value: value, valueTwo: valueTwo, op: op)
    }
}

extension LinuxIntelRdt {
    init(json node: JSONNode, path: String) throws {
        let o = try JSONObjectReader(node, path: path)
        let closID = try o.optionalString("closID")
        let l3CacheSchema = try o.optionalString("l3CacheSchema")
        let memBwSchema = try o.optionalString("memBwSchema")
        let enableCMT = try o.optionalBool("enableCMT")
        let enableMBM = try o.optionalBool("enableMBM")
        let schemata = try o.optionalStrings("schemata")
        let enableMonitoring = try o.optionalBool("enableMonitoring")
        self.init(
            closID: closID, l3CacheSchema: l3CacheSchema, memBwSchema: memBwSchema, enableCMT: enableCMT,
            enableMBM: enableMBM, schemata: schemata, enableMonitoring: enableMonitoring)
    }
}

extension LinuxPersonality {
    init(json node: JSONNode, path: String) throws {
        let o = try JSONObjectReader(node, path: path)
        let domain = try o.string("domain")
        let flags = try o.optionalStrings("flags")
        self.init(domain: domain, flags: flags)
    }
}

// MARK: - config-linux.md, "Control groups"

extension LinuxResources {
    init(json node: JSONNode, path: String) throws {
        let o = try JSONObjectReader(node, path: path)
        let devices = try o.optionalArray("devices") { try LinuxDeviceCgroup(json: $0, path: $1) }
        let memory = try o.optionalObject("memory") { try LinuxMemory(json: $0, path: $1) }
        let cpu = try o.optionalObject("cpu") { try LinuxCPU(json: $0, path: $1) }
        let pids = try o.optionalObject("pids") { try LinuxPids(json: $0, path: $1) }
        let blockIO = try o.optionalObject("blockIO") { try LinuxBlockIO(json: $0, path: $1) }
        let hugepageLimits = try o.optionalArray("hugepageLimits") { try LinuxHugepageLimit(json: $0, path: $1) }
        let network = try o.optionalObject("network") { try LinuxNetwork(json: $0, path: $1) }
        let rdma = try o.optionalDictionary("rdma") { try LinuxRdma(json: $0, path: $1) }
        let unified = try o.optionalStringDictionary("unified")
        self.init(
            devices: devices, memory: memory, cpu: cpu, pids: pids, blockIO: blockIO, hugepageLimits: hugepageLimits,
            network: network, rdma: rdma, unified: unified)
    }
}

extension LinuxDeviceCgroup {
    init(json node: JSONNode, path: String) throws {
        let o = try JSONObjectReader(node, path: path)
        let allow = try o.bool("allow")
        let type = try o.optionalString("type")
        let major = try o.optionalInteger("major", as: Int64.self)
        let minor = try o.optionalInteger("minor", as: Int64.self)
        let access = try o.optionalString("access")
        self.init(allow: allow, type: type, major: major, minor: minor, access: access)
    }
}

extension LinuxMemory {
    init(json node: JSONNode, path: String) throws {
        let o = try JSONObjectReader(node, path: path)
        let limit = try o.optionalInteger("limit", as: Int64.self)
        let reservation = try o.optionalInteger("reservation", as: Int64.self)
        let swap = try o.optionalInteger("swap", as: Int64.self)
        let kernel = try o.optionalInteger("kernel", as: Int64.self)
        let kernelTCP = try o.optionalInteger("kernelTCP", as: Int64.self)
        let swappiness = try o.optionalInteger("swappiness", as: UInt64.self)
        let disableOOMKiller = try o.optionalBool("disableOOMKiller")
        let useHierarchy = try o.optionalBool("useHierarchy")
        let checkBeforeUpdate = try o.optionalBool("checkBeforeUpdate")
        self.init(
            limit: limit, reservation: reservation, swap: swap, kernel: kernel, kernelTCP: kernelTCP,
            swappiness: swappiness, disableOOMKiller: disableOOMKiller, useHierarchy: useHierarchy,
            checkBeforeUpdate: checkBeforeUpdate)
    }
}

extension LinuxCPU {
    init(json node: JSONNode, path: String) throws {
        let o = try JSONObjectReader(node, path: path)
        let shares = try o.optionalInteger("shares", as: UInt64.self)
        let quota = try o.optionalInteger("quota", as: Int64.self)
        let burst = try o.optionalInteger("burst", as: UInt64.self)
        let period = try o.optionalInteger("period", as: UInt64.self)
        let realtimeRuntime = try o.optionalInteger("realtimeRuntime", as: Int64.self)
        let realtimePeriod = try o.optionalInteger("realtimePeriod", as: UInt64.self)
        let cpus = try o.optionalString("cpus")
        let mems = try o.optionalString("mems")
        let idle = try o.optionalInteger("idle", as: Int64.self)
        self.init(
            shares: shares, quota: quota, burst: burst, period: period, realtimeRuntime: realtimeRuntime,
            realtimePeriod: realtimePeriod, cpus: cpus, mems: mems, idle: idle)
    }
}

extension LinuxPids {
    init(json node: JSONNode, path: String) throws {
        let o = try JSONObjectReader(node, path: path)
        self.init(limit: try o.integer("limit", as: Int64.self))
    }
}

extension LinuxBlockIO {
    init(json node: JSONNode, path: String) throws {
        let o = try JSONObjectReader(node, path: path)
        let weight = try o.optionalInteger("weight", as: UInt16.self)
        let leafWeight = try o.optionalInteger("leafWeight", as: UInt16.self)
        let weightDevice = try o.optionalArray("weightDevice") { try LinuxWeightDevice(json: $0, path: $1) }
        let throttleReadBps = try o.optionalArray("throttleReadBpsDevice") { try LinuxThrottleDevice(json: $0, path: $1) }
        let throttleWriteBps = try o.optionalArray("throttleWriteBpsDevice") { try LinuxThrottleDevice(json: $0, path: $1) }
        let throttleReadIOPS = try o.optionalArray("throttleReadIOPSDevice") { try LinuxThrottleDevice(json: $0, path: $1) }
        let throttleWriteIOPS = try o.optionalArray("throttleWriteIOPSDevice") { try LinuxThrottleDevice(json: $0, path: $1) }
        self.init(
            weight: weight, leafWeight: leafWeight, weightDevice: weightDevice, throttleReadBpsDevice: throttleReadBps,
            throttleWriteBpsDevice: throttleWriteBps, throttleReadIOPSDevice: throttleReadIOPS,
            throttleWriteIOPSDevice: throttleWriteIOPS)
    }
}

extension LinuxWeightDevice {
    init(json node: JSONNode, path: String) throws {
        let o = try JSONObjectReader(node, path: path)
        let major = try o.integer("major", as: Int64.self)
        let minor = try o.integer("minor", as: Int64.self)
        let weight = try o.optionalInteger("weight", as: UInt16.self)
        let leafWeight = try o.optionalInteger("leafWeight", as: UInt16.self)
        self.init(major: major, minor: minor, weight: weight, leafWeight: leafWeight)
    }
}

extension LinuxThrottleDevice {
    init(json node: JSONNode, path: String) throws {
        let o = try JSONObjectReader(node, path: path)
        let major = try o.integer("major", as: Int64.self)
        let minor = try o.integer("minor", as: Int64.self)
        let rate = try o.integer("rate", as: UInt64.self)
        self.init(major: major, minor: minor, rate: rate)
    }
}

extension LinuxHugepageLimit {
    init(json node: JSONNode, path: String) throws {
        let o = try JSONObjectReader(node, path: path)
        let pageSize = try o.string("pageSize")
        let limit = try o.integer("limit", as: UInt64.self)
        self.init(pageSize: pageSize, limit: limit)
    }
}

extension LinuxNetwork {
    init(json node: JSONNode, path: String) throws {
        let o = try JSONObjectReader(node, path: path)
        let classID = try o.optionalInteger("classID", as: UInt32.self)
        let priorities = try o.optionalArray("priorities") { try LinuxInterfacePriority(json: $0, path: $1) }
        self.init(classID: classID, priorities: priorities)
    }
}

extension LinuxInterfacePriority {
    init(json node: JSONNode, path: String) throws {
        let o = try JSONObjectReader(node, path: path)
        let name = try o.string("name")
        let priority = try o.integer("priority", as: UInt32.self)
        self.init(name: name, priority: priority)
    }
}

extension LinuxRdma {
    init(json node: JSONNode, path: String) throws {
        let o = try JSONObjectReader(node, path: path)
        let hcaHandles = try o.optionalInteger("hcaHandles", as: UInt32.self)
        let hcaObjects = try o.optionalInteger("hcaObjects", as: UInt32.self)
        self.init(hcaHandles: hcaHandles, hcaObjects: hcaObjects)
    }
}
