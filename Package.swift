// swift-tools-version: 6.1
//
// Kujira — a container engine for Linux, shipped as a library.
// The module map is Docs/architecture.md; each module imports only the ones below it.

import PackageDescription

/// Settings shared by every Swift target: Swift 6 language mode is the package default;
/// these add the upcoming features that keep the code honest.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

/// A system library provided by a Debian `-dev` package (installed by scripts/setup.sh).
func systemLibrary(_ name: String, apt: String) -> Target {
    .systemLibrary(name: name, path: "Sources/\(name)", providers: [.apt([apt])])
}

let package = Package(
    name: "Kujira",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "KujiraOCI", targets: ["KujiraOCI"]),
        .library(name: "KujiraArchive", targets: ["KujiraArchive"]),
        .library(name: "KujiraImage", targets: ["KujiraImage"]),
        .library(name: "KujiraDockerfile", targets: ["KujiraDockerfile"]),
        .library(name: "KujiraRegistry", targets: ["KujiraRegistry"]),
        .library(name: "KujiraRuntime", targets: ["KujiraRuntime"]),
        .library(name: "KujiraGPU", targets: ["KujiraGPU"]),
        .library(name: "KujiraNetwork", targets: ["KujiraNetwork"]),
        .library(name: "KujiraBuild", targets: ["KujiraBuild"]),
        .library(name: "KujiraVolume", targets: ["KujiraVolume"]),
        // The umbrella product: everything an embedding program needs.
        .library(name: "Kujira", targets: ["KujiraOCI", "KujiraArchive", "KujiraImage", "KujiraRegistry", "KujiraDockerfile", "KujiraRuntime", "KujiraNetwork", "KujiraGPU", "KujiraBuild", "KujiraVolume", "Kujira"]),
        .executable(name: "kujira", targets: ["kujira"]),
        .executable(name: "kujira-runtime", targets: ["kujira-runtime"]),
        // The container init (C, no Swift runtime): installed next to kujira-runtime.
        .executable(name: "kujira-init", targets: ["kujira-init"]),
        .executable(name: "kujira-bench", targets: ["kujira-bench"]),
        .executable(name: "kujira-registry-bench", targets: ["kujira-registry-bench"]),
        // The Docker Engine API daemon (Docs/kujirad.md).
        .executable(name: "kujirad", targets: ["kujirad"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // CDI specs are YAML as often as JSON (nvidia-ctk writes YAML by default).
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
    ],
    targets: [
        // C libraries from Debian (see Docs/architecture.md for why each one).
        systemLibrary("CZlib", apt: "zlib1g-dev"),
        systemLibrary("CZstd", apt: "libzstd-dev"),
        systemLibrary("CSQLite", apt: "libsqlite3-dev"),
        systemLibrary("CSSL", apt: "libssl-dev"),
        systemLibrary("CSeccomp", apt: "libseccomp-dev"),
        systemLibrary("CCap", apt: "libcap-dev"),
        // Wrappers for syscalls Swift cannot call directly (openat2, fchmodat2, makedev).
        .target(name: "CKujiraSys"),
        // bpf(2) for the cgroup v2 device filter (BPF_PROG_TYPE_CGROUP_DEVICE).
        .target(name: "CKujiraBPF"),
        // setns/unshare and the rtnetlink headers for the native network driver.
        .target(name: "CKujiraNetlink"),
        // SHA-256/512 from libcrypto, opened with dlopen on the first digest (libssl-dev's
        // headers, as CSSL): programs that never hash do not load and relocate libcrypto.
        .target(name: "CCrypto"),
        // The runtime's own syscall wrappers (memfd copy, posix_spawn with an exact fd set,
        // SCM_RIGHTS), called from the multi-threaded Swift parent.
        .target(name: "CKujiraRuntime"),
        // The container init: a single-threaded C program that builds the container from a
        // binary plan and execs the user's process (Docs/runtime.md, "Process model").
        .executableTarget(name: "kujira-init", path: "Sources/kujira-init"),

        // The SQLite connection wrapper shared by the stores (package-internal, no public API).
        .target(
            name: "KujiraSQLite",
            dependencies: ["CSQLite"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "KujiraOCI",
            dependencies: ["CCrypto"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "KujiraArchive",
            dependencies: ["CZlib", "CZstd"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "KujiraImage",
            dependencies: ["KujiraOCI", "KujiraArchive", "KujiraSQLite", "CKujiraSys"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "KujiraRegistry",
            dependencies: ["KujiraOCI", "KujiraImage", "CSSL", "CKujiraSys"],
            swiftSettings: swiftSettings
        ),
        // Compiles Sources/kujira-init with the toolchain's clang into a libc-only executable
        // and embeds it in KujiraRuntime (SwiftPM would link libswiftCore into it).
        .plugin(name: "KujiraInitImage", capability: .buildTool(), path: "Plugins/KujiraInitImage"),
        .target(
            name: "KujiraRuntime",
            dependencies: ["KujiraOCI", "CKujiraBPF", "CSeccomp", "CCap", "CKujiraSys", "CKujiraRuntime"],
            path: "Sources/KujiraRuntime",
            swiftSettings: swiftSettings,
            plugins: ["KujiraInitImage"]
        ),
        // CDI specs, NVIDIA/AMD discovery, --gpus and --device: edits of a runtime Spec.
        .target(
            name: "KujiraGPU",
            dependencies: ["KujiraOCI", .product(name: "Yams", package: "Yams")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "KujiraNetwork",
            dependencies: ["KujiraOCI", "KujiraSQLite", "CKujiraNetlink"],
            swiftSettings: swiftSettings
        ),
        // Named and anonymous volumes (the `local` driver), their mounts and copy-up.
        .target(
            name: "KujiraVolume",
            dependencies: ["CKujiraSys"],
            swiftSettings: swiftSettings
        ),

        // The engine: containers with names, state, monitors, logs (Docs/engine.md).
        .target(
            name: "Kujira",
            dependencies: ["KujiraOCI", "KujiraImage", "KujiraRuntime", "KujiraGPU", "CKujiraRuntime", "CKujiraSys", "KujiraVolume", "KujiraNetwork"],
            path: "Sources/Kujira",
            swiftSettings: swiftSettings
        ),

        // Dockerfile parser, instruction model, expansion and .dockerignore: pure, no I/O.
        .target(
            name: "KujiraDockerfile",
            swiftSettings: swiftSettings
        ),
        // Dockerfile → image: stages, RUN through KujiraRuntime, COPY/ADD, the build cache.
        .target(
            name: "KujiraBuild",
            dependencies: ["KujiraOCI", "KujiraArchive", "KujiraImage", "KujiraDockerfile", "KujiraRuntime", "KujiraRegistry"],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "kujira-dockerfile-bench",
            dependencies: ["KujiraDockerfile"],
            path: "Benchmarks/DockerfileBench",
            swiftSettings: swiftSettings
        ),

        .executableTarget(
            name: "kujira",
            dependencies: [
                "KujiraOCI", "KujiraArchive", "KujiraImage", "KujiraRegistry", "KujiraGPU", "KujiraDockerfile",
                "Kujira", "KujiraRuntime", "KujiraBuild", "KujiraVolume", "KujiraNetwork",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Examples/kujira",
            swiftSettings: swiftSettings
        ),
        // kujirad's server and routes (Docs/kujirad.md): a library target so that
        // Tests/KujiradTests can test the HTTP parser; Examples/kujirad is its command line.
        // accept4/pipe2 with O_CLOEXEC for kujirad (GNU extensions Swift's Glibc hides).
        .target(name: "CKujiraDaemon"),
        .target(
            name: "KujiraDaemon",
            dependencies: ["CKujiraDaemon", "Kujira", "KujiraOCI", "KujiraArchive", "KujiraImage", "KujiraRegistry", "KujiraBuild", "KujiraGPU", "KujiraVolume", "KujiraNetwork"],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "kujirad",
            dependencies: [
                "KujiraDaemon", "Kujira", "KujiraGPU", "KujiraRegistry",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Examples/kujirad",
            swiftSettings: swiftSettings
        ),
        // The fuzz target for the tar reader and the whiteout logic; Fuzz/run.sh builds it
        // with libFuzzer, a plain build replays files (Fuzz/README.md).
        .executableTarget(
            name: "kujira-fuzz",
            dependencies: ["KujiraArchive", "KujiraImage"],
            path: "Fuzz/KujiraFuzz",
            swiftSettings: swiftSettings
        ),

        // Benchmarks/unpack.sh drives it; see Docs/performance.md.
        .executableTarget(
            name: "kujira-bench",
            dependencies: ["KujiraOCI", "KujiraImage"],
            path: "Benchmarks/KujiraBench",
            swiftSettings: swiftSettings
        ),

        // Benchmarks/registry/pull.sh drives it; see Docs/registry.md.
        .executableTarget(
            name: "kujira-registry-bench",
            dependencies: ["KujiraOCI", "KujiraImage", "KujiraRegistry"],
            path: "Benchmarks/RegistryBench",
            swiftSettings: swiftSettings
        ),
        // Benchmarks/network/run.sh drives it; the network leak tests use its churn mode.
        .executableTarget(
            name: "kujira-netbench",
            dependencies: ["KujiraNetwork"],
            path: "Benchmarks/network/KujiraNetBench",
            swiftSettings: swiftSettings
        ),

        .executableTarget(
            name: "kujira-runtime",
            dependencies: [
                "KujiraRuntime", "KujiraOCI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Examples/kujira-runtime",
            // The release build script and its symbol order (not sources).
            exclude: ["release"],
            swiftSettings: swiftSettings
        ),

        .testTarget(
            name: "KujiraOCITests",
            dependencies: ["KujiraOCI"],
            resources: [.copy("Fixtures")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "KujiraArchiveTests",
            dependencies: ["KujiraArchive"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "KujiraImageTests",
            dependencies: ["KujiraImage", "KujiraOCI", "KujiraArchive"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "KujiraRegistryTests",
            dependencies: ["KujiraRegistry", "KujiraImage", "KujiraOCI"],
            resources: [.copy("Fixtures")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "KujiraRuntimeTests",
            dependencies: ["KujiraRuntime", "KujiraOCI", "CKujiraRuntime"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "KujiraGPUTests",
            dependencies: ["KujiraGPU", "KujiraOCI"],
            resources: [.copy("Fixtures")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "KujiraNetworkTests",
            dependencies: ["KujiraNetwork", "CKujiraNetlink"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "KujiraDockerfileTests",
            dependencies: ["KujiraDockerfile"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "KujiraEngineTests",
            dependencies: ["Kujira", "KujiraImage", "KujiraOCI", "KujiraNetwork", "KujiraRuntime", "KujiraGPU"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "KujiraBuildTests",
            dependencies: ["KujiraBuild", "KujiraImage", "KujiraOCI", "KujiraDockerfile"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "KujiradTests",
            dependencies: ["KujiraDaemon"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "KujiraVolumeTests",
            dependencies: ["KujiraVolume", "CKujiraSys"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "KujiraIntegrationTests",
            dependencies: ["KujiraImage", "KujiraOCI", "KujiraArchive"],
            swiftSettings: swiftSettings
        ),
    ]
)
